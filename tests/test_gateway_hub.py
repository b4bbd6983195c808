"""The feed hub in-process: numbering, filters, the resume buffer and gap, listeners, and the
cut-off rule (busy and full: cut; idle: takes a burst up to the buffer)."""
from __future__ import annotations

import asyncio

import pytest

from lguapi.gateway.feed import FeedFilter, Hub, SubscriberCut


def publish(hub: Hub, n: int, exten: str = "3001") -> None:
    for i in range(n):
        hub.publish("event", "event.testevent", {"seq": i}, exten=exten, domain="d")


async def test_an_idle_subscriber_takes_a_burst_larger_than_its_queue():
    hub = Hub(buffer=1000, queue=10)
    sub = hub.subscribe()
    waiting = asyncio.ensure_future(sub.next_batch(5))
    await asyncio.sleep(0)  # it is waiting now
    publish(hub, 300)  # one synchronous burst: it could not run in between
    got = await waiting
    while len(got) < 300:
        got += await sub.next_batch(1)
    assert [e.msg["data"]["seq"] for e in got] == list(range(300)) and hub.cut_count == 0
    publish(hub, 10)  # busy (not waiting) and full: cut off
    publish(hub, 1)
    assert hub.cut_count == 1 and hub.subscribers == 0
    assert len(await sub.next_batch(1)) == 10  # what was queued before the cut still comes
    with pytest.raises(SubscriberCut, match="slow subscriber"):
        await sub.next_batch(1)


async def test_even_an_idle_subscriber_is_cut_beyond_the_resume_buffer():
    hub = Hub(buffer=50, queue=10)
    sub = hub.subscribe()
    waiting = asyncio.ensure_future(sub.next_batch(5))
    await asyncio.sleep(0)
    publish(hub, 51)
    assert hub.cut_count == 1
    assert len(await waiting) == 50


def test_filters_listeners_ids_and_gap():
    hub = Hub(buffer=5, queue=100)
    seen = []
    hub.add_listener(seen.append)
    hub.add_listener(lambda m: 1 / 0)  # a broken listener is logged, the others go on
    only = hub.subscribe(FeedFilter(extens=["3002"], kinds=["call"]))
    hub.publish("call", "call.ringing", {"exten": ["3001", "3002"]}, exten="3001")
    publish(hub, 6)
    assert [m["id"] for m in seen] == list(range(1, 8))
    assert [m["type"] for m in only.drain()] == ["call.ringing"]  # 3002 is on the call
    late = hub.subscribe(since=1)
    msgs = late.drain()
    assert msgs[0]["kind"] == "gap" and msgs[0]["data"] == {"reason": msgs[0]["data"]["reason"], "since": 1,
                                                            "oldest": 3}
    assert [m["id"] for m in msgs[1:]] == [3, 4, 5, 6, 7]
    assert [m["id"] for m in hub.subscribe(since=5).drain()] == [6, 7]
    assert hub.subscribe(since=7).drain() == []
    with pytest.raises(ValueError, match="unknown kind"):
        FeedFilter(kinds=["calls"])
    narrowed = FeedFilter(extens=["3001", "3002"]).narrowed(frozenset({"3002", "3003"}), None)
    assert narrowed.extens == {"3002"}


def test_subscriber_limit():
    hub = Hub(max_subscribers=1)
    hub.subscribe()
    with pytest.raises(OverflowError, match="max_subscribers"):
        hub.subscribe()
