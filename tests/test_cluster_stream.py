"""One stream: events rebuilt from stream messages keep their idempotency keys, views of one call
merge deterministically, the newest entries are read back page by page. (The SQLite sink fed by
the consumer-group worker against the emulator's history, through every fault scenario, is
tests/test_cluster_monitor.py: one shared run.)"""
from __future__ import annotations

import json

import pytest

from lguapi.cluster.stream import CallRecord, dumps, event_from_dict, merge_call_dicts
from lguapi.events import (ChannelOutEvent, CommandResultEvent, Disconnected, LoggedIn, LoginResultEvent,
                           Reconciled, RingEvent)
from lguapi.sinks import call_key, event_key


def test_events_rebuilt_from_messages_keep_their_idempotency_keys():
    evs = [
        RingEvent(name="RINGEVENT", raw="RINGEVENT|ISDIAL:0|UNIQUEID:1.2", exten="3001", ts=5.0, is_dial=False,
                  unique_id="1.2"),
        ChannelOutEvent(name="CHANNELOUT", raw="CHANNELOUT|HCAUSE:16", exten="3002", ts=6.0, hangup_cause=16),
        CommandResultEvent(name="CMDRESULT", raw="x", exten="3001", ts=7.0, cmd="HOLD", res="OK",
                           fields=(("RES", "OK"), ("X", "1"))),
        LoggedIn(exten="3001", ts=8.0, address="h:1", result=LoginResultEvent(status=1, exten_number="3001")),
        Disconnected(exten="3001", ts=9.0, deliberate=True, reason="bye"),
        Reconciled(exten="3001", ts=10.0, statuses=(("3001", "Up", "x"),)),
    ]
    for ev in evs:
        back = event_from_dict(json.loads(dumps(ev.to_dict())))
        assert type(back) is type(ev) and back.to_dict() == ev.to_dict()
        assert event_key(back) == event_key(ev)
    with pytest.raises(ValueError, match="unknown event class"):
        event_from_dict({"event": "Nope"})


def test_views_of_one_call_merge_deterministically():
    a = {"id": "1.1", "exten": ["3001"], "ring_at": 1.0, "answer_at": None, "end_at": 5.0, "answered_by": None,
         "handled_by": [], "channels": ["SIP/3001-1"], "unique_ids": ["1.1"], "missed": True, "abandoned": False,
         "state": "ended", "end_reason": "hangup"}
    b = dict(a, exten=["3002"], answer_at=2.0, end_at=5.5, answered_by="3002", handled_by=["3002"],
             channels=["SIP/3002-2"], unique_ids=["1.1", "1.2"], missed=False)
    m1, m2 = merge_call_dicts([a, b]), merge_call_dicts([b, a])
    assert m1 == m2
    assert m1["exten"] in (["3001", "3002"], ["3002", "3001"]) and m1["answered_by"] == "3002"
    assert m1["ring_at"] == 1.0 and m1["end_at"] == 5.5 and m1["talk_seconds"] == 3.5 and not m1["missed"]
    rec = CallRecord(m1)
    assert call_key(rec) == call_key(CallRecord(merge_call_dicts([a, b])))
    assert rec.answered and rec.to_dict() == m1


async def test_read_back_pages_through_the_newest_entries(redis_server):
    import redis.asyncio as aioredis

    from lguapi.cluster.stream import read_back

    r = aioredis.from_url(redis_server.url)
    try:
        pipe = r.pipeline(transaction=False)
        for i in range(1234):
            pipe.xadd("s", {"m": str(i)})
        await pipe.execute()
        got = [int(f[b"m"]) async for _id, f in read_back(r, "s", 1000, page=300)]
        assert got == list(range(1233, 233, -1))
        assert len([e async for e in read_back(r, "s", 5000, page=500)]) == 1234
        assert [e async for e in read_back(r, "nothing-here", 10)] == []
    finally:
        await r.aclose()
