"""Call tracker hardening: reused channel names never join a dead
leg to a live call, events that name no channel create no leg-less call, the client and
the tracker agree on which channel is an extension's own, and a server that starts calls and
never ends them, or names new channels under one call's ids without end, meets ``max_active``,
``max_keys`` and ``max_call_keys``."""
from __future__ import annotations

import logging

import pytest

from lguapi.calls import CallTracker
from lguapi.calls.index import ORPHANS_PER_KEY
from lguapi.calls.tracker import DEFAULT_MAX_ACTIVE, DEFAULT_MAX_CALL_KEYS, DEFAULT_MAX_KEYS
from lguapi.monitor import Monitor
from lguapi.sinks import read_jsonl
from lguapi.channels import own_channel
from lguapi.events import ChannelListEvent, ChannelOutEvent, RingEvent

from kit.clients import emulator, logged_in
from kit.manual import M51, M53_3321
from kit.scrambled import Rules
from kit.text import ev
from kit.wait import until


# manual §5.1 (3321 dials out on SIP/3321-09b559d8) and §5.3 (3321 answers on a channel of the same name)
M51_OUT = M51[2]


# --- a name alone never joins a dead leg to a live call ----------------------


def test_orphan_channelout_does_not_end_a_later_call_that_reuses_its_channel_name():
    """The tracker started mid-call: §5.1's CHANNELOUT is kept as an orphan; §5.3 later answers
    on a channel of the same name. None of the orphan's ids belong to §5.3's call."""
    t = CallTracker()
    assert t.feed(ev(M51_OUT, "3321", ts=100.0)) == []
    ups = [u for i, x in enumerate(M53_3321[:2]) for u in t.feed(ev(x, "3321", ts=200.0 + i))]
    assert [u.kind for u in ups] == ["new", "changed"]
    (call,) = t.active.values()
    assert call.state == "connected" and call.answered_by == "3321"
    t.feed(ev(M53_3321[2], "3321", ts=230.0))
    assert not t.active and len(t.ended) == 1
    (call,) = t.ended
    assert call.id == "1319339499.489" and call.end_reason == "hangup" and call.end_at == 230.0
    assert call.continued_from is None


def test_orphan_channelout_does_not_abandon_a_new_ring_on_a_reused_name():
    """Without the fix: a false 'abandoned' call plus a second 'continued' call."""
    t = CallTracker()
    t.feed(ev(M51_OUT, "3321", ts=100.0))
    ring = ("RINGEVENT|ISDIAL:0|CHANNEL:SIP/3321-09b559d8|RECHANNEL:SIP/gw2.eicn-0a0b0c0d|INEXTEN:null"
            "|AGENT:3321|CALLERID:01012345678|UNIQUEID:1319339600.500")
    assert [u.kind for u in t.feed(ev(ring, "3321", ts=200.0))] == ["new"]
    (call,) = t.active.values()
    assert call.state == "ringing"
    t.feed(ev("CHANNELLIST|CHANNEL1:SIP/gw2.eicn-0a0b0c0d|CHANNEL2:SIP/3321-0c0c0c0c|CALLER1ID:01012345678"
              "|CALLER2ID:3321|INEXTEN:07012340001|UNIQUEID1:1319339600.500|UNIQUEID2:1319339604.502", "3321",
              ts=204.0))
    t.feed(ev("CHANNELOUT|CHANNEL:SIP/3321-0c0c0c0c|RECHANNEL:SIP/gw2.eicn-0a0b0c0d|UNIQUEID:1319339604.502"
              "|SRCUNIQUEID:1319339600.500|HCAUSE:16", "3321", ts=210.0))
    assert not t.active
    (call,) = t.ended
    assert (call.end_reason, call.abandoned, call.continued_from) == ("hangup", False, None)


def test_old_channelout_delivered_again_does_not_end_a_new_call_on_a_reused_name():
    t = CallTracker()
    for i, x in enumerate(M51):
        t.feed(ev(x, "3321", ts=100.0 + i))
    assert len(t.ended) == 1 and not t.active
    for i, x in enumerate(M53_3321[:2]):
        t.feed(ev(x, "3321", ts=200.0 + i))
    (call,) = t.active.values()
    assert call.state == "connected"
    assert t.feed(ev(M51_OUT, "3321", ts=205.0)) == []  # the same event twice changes nothing
    assert call.state == "connected" and t.active
    assert t.stats["stale"] >= 1
    t.feed(ev(M53_3321[2], "3321", ts=230.0))
    assert [c.end_at for c in t.ended] == [102.0, 230.0]
    assert t.ended[-1].end_reason == "hangup"


def test_a_ring_ended_by_its_own_id_still_joins_by_its_live_channel():
    """The rule that must survive: unknown ids (not another call's) plus a live name join."""
    t = CallTracker()
    t.feed(ev("RINGEVENT|ISDIAL:0|CHANNEL:SIP/3001-0000aa01|RECHANNEL:SIP/gw2.eicn-0000aa00|INEXTEN:null"
              "|AGENT:3001|CALLERID:01012345678|UNIQUEID:1700000000.1", "3001", ts=1.0))
    t.feed(ev("CHANNELOUT|CHANNEL:SIP/3001-0000aa01|UNIQUEID:1700000000.2|HCAUSE:16", "3001", ts=5.0))
    (call,) = t.ended
    assert call.end_reason == "abandoned" and not t.active


# --- no leg-less call stuck ringing ------------------------------------------


def test_ring_and_channel_list_without_channels_are_refused_counted_and_logged_once(caplog):
    t = CallTracker()
    texts = [
        "RINGEVENT|ISDIAL:0|AGENT:3321|CALLERID:01012345678",
        "RINGEVENT|ISDIAL:0|AGENT:3321|CALLERID:01012345678|UNIQUEID:1700000000.9",
        "CHANNELLIST|CALLER1ID:01012345678|CALLER2ID:3321",
        "CHANNELLIST|CALLER1ID:01012345678|CALLER2ID:3321|UNIQUEID1:1700000001.1",
    ]
    with caplog.at_level(logging.WARNING, logger="lguapi.calls"):
        for x in texts:
            assert t.feed(ev(x, "3321", ts=1.0)) == []
    assert not t.active and not t.ended
    assert t.stats["refused"] == 4
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1


def test_an_event_without_channels_still_updates_a_known_call():
    t = CallTracker()
    t.feed(ev(M53_3321[0], "3321", ts=1.0))
    # a second ring of the same call (same id), no channels: joins by the id, refuses nothing
    t.feed(ev("RINGEVENT|ISDIAL:0|AGENT:3321|CALLERID:3322|UNIQUEID:1319339499.489", "3321", ts=2.0))
    assert len(t.active) == 1 and t.stats["refused"] == 0


# --- one rule for "which channel is mine" ------------------------------------


def test_own_channel_rule():
    assert own_channel("3321", "SIP/3321-09b559d8", "SIP/gw2.eicn-09b25a90") == "SIP/3321-09b559d8"
    assert own_channel("3321", "SIP/gw2.eicn-09b25a90", "SIP/3321-09b559d8") == "SIP/3321-09b559d8"
    # a SIP channel wins over a Local one of the same peer
    assert own_channel("3321", "Local/3321@default-1b56;2", "SIP/3321-0a0a") == "SIP/3321-0a0a"
    assert own_channel("3321", "SIP/3321-0a0a", "Local/3321@default-1b56;2") == "SIP/3321-0a0a"
    # an exact peer wins over a suffix; a suffix covers domain-prefixed peers (3+ characters)
    assert own_channel("3447", "SIP/10033447-aa", "SIP/3447-bb") == "SIP/3447-bb"
    assert own_channel("3447", "SIP/10033447-aa", "SIP/gw2.eicn-bb") == "SIP/10033447-aa"
    assert own_channel("47", "SIP/10033447-aa", "SIP/gw2.eicn-bb") is None
    assert own_channel("3321", "SIP/3322-aa", None) is None
    assert own_channel("", "SIP/3321-aa", "SIP/3322-bb") is None


async def test_client_and_tracker_agree_on_the_own_channel():
    """Events where an exact match alone and the layout would pick another channel."""
    async with emulator(extens="3001-3002") as emu:
        client, rec = await logged_in(emu, "3001")
        tracker = CallTracker()
        tracker.attach(client)
        try:
            # a SIP and a Local channel of 3001: the SIP one is the phone (ISDIAL:0's layout says CHANNEL)
            emu.deliver("3001", "RINGEVENT|ISDIAL:0|CHANNEL:Local/3001@default-00aa;2|RECHANNEL:SIP/3001-00bb"
                                "|INEXTEN:null|AGENT:3001|CALLERID:3002|UNIQUEID:1700000100.1")
            ring = await rec.wait_for(RingEvent)
            assert client.own_channel == own_channel("3001", ring.channel, ring.remote_channel) == "SIP/3001-00bb"
            # a domain-prefixed peer (suffix match) where ISDIAL:1's layout says RECHANNEL
            emu.deliver("3001", "RINGEVENT|ISDIAL:1|CHANNEL:SIP/10033001-00cc|RECHANNEL:SIP/gw2.eicn-00dd"
                                "|INEXTEN:null|AGENT:3001|CALLERID:01012345678|UNIQUEID:1700000200.1")
            ring = await rec.wait_for(RingEvent, lambda e: e.unique_id == "1700000200.1")
            assert client.own_channel == "SIP/10033001-00cc"
            emu.deliver("3001", "CHANNELLIST|CHANNEL1:SIP/gw2.eicn-00dd|CHANNEL2:SIP/10033001-00cc"
                                "|CALLER1ID:01012345678|CALLER2ID:3001|INEXTEN:null|UNIQUEID1:1700000200.1"
                                "|UNIQUEID2:1700000200.2")
            await rec.wait_for(ChannelListEvent)
            assert client.own_channel == "SIP/10033001-00cc" and client.remote_channel == "SIP/gw2.eicn-00dd"
            # the tracker's leg of 3001 is that channel: its CHANNELOUT ends the call
            emu.deliver("3001", "CHANNELOUT|CHANNEL:SIP/10033001-00cc|RECHANNEL:SIP/gw2.eicn-00dd"
                                "|UNIQUEID:1700000200.1|SRCUNIQUEID:1700000200.1|HCAUSE:16")
            await rec.wait_for(ChannelOutEvent)
            assert client.own_channel is None
            assert [c.id for c in tracker.calls_of("3001")] == ["1700000100.1"]
        finally:
            tracker.close()
            await client.close()


# --- calls in progress are bounded (max_active) ----------------------------------


def _answered(i: int, exten: str = "3321") -> str:
    """The CHANNELLIST of call ``i``, answered on ``exten`` and never hung up."""
    return (f"CHANNELLIST|CHANNEL1:SIP/gw2.eicn-{i:08x}|CHANNEL2:SIP/{exten}-{i:08x}|CALLER1ID:010{i:08d}"
            f"|CALLER2ID:{exten}|INEXTEN:null|UNIQUEID1:1700000000.{i}|UNIQUEID2:1700000001.{i}")


def test_calls_never_hung_up_are_evicted_oldest_first_past_max_active(caplog):
    caplog.set_level(logging.WARNING, "lguapi.calls")
    now = [1000.0]
    t = CallTracker(clock=lambda: now[0], max_active=200)
    rules = Rules()
    most = 0
    for i in range(5000):
        now[0] = 1000.0 + i
        rules.see(t.feed(ev(_answered(i), "3321", ts=now[0])))
        most = max(most, len(t.active))
    assert most == 200 and t.stats["evicted"] == 5000 - len(t.active)
    evicted = [c for c in t.ended if c.end_reason == "evicted"]
    assert len(evicted) == min(len(t.ended), t.stats["evicted"])
    # the oldest went first, each at the time of its own (only) event, counted as answered calls
    assert sorted(t.active) == [f"1700000000.{i}" for i in range(5000 - len(t.active), 5000)]
    for c in evicted:
        i = int(c.id.rsplit(".", 1)[1])
        assert c.end_at == c.ring_at == c.answer_at == 1000.0 + i and c.talk_seconds == 0.0
    # logged on the first pass, then once per 10,000 evicted: here once
    assert [r.getMessage() for r in caplog.records] == [
        "call tracker: more than 200 calls or 2000000 keys in progress; the 3 oldest ended as evicted (3 in all)"]
    now[0] += 10 ** 6
    rules.see(t.expire(now[0]))
    assert rules.finish(t) == []


def test_a_call_in_its_end_grace_ends_as_it_would_when_evicted():
    now = [1000.0]
    t = CallTracker(clock=lambda: now[0], max_active=1, end_grace=30.0)
    t.feed(ev(_answered(0), "3321", ts=1000.0))
    t.feed(ev("CHANNELOUT|CHANNEL:SIP/3321-00000000|RECHANNEL:SIP/gw2.eicn-00000000|UNIQUEID:1700000000.0"
              "|HCAUSE:16", "3321", ts=1001.0))
    assert list(t.active) == ["1700000000.0"]  # its end waits for the grace
    now[0] = 1002.0
    ended = [u.call for u in t.feed(ev(_answered(1), "3321", ts=1002.0)) if u.kind == "ended"]
    assert [(c.id, c.end_reason, c.end_at, c.hangup_cause) for c in ended] == [("1700000000.0", "hangup", 1001.0, 16)]
    assert list(t.active) == ["1700000000.1"] and (t.stats["evicted"], t.stats["ended_early"]) == (0, 1)


def _hung_up(i: int, exten: str = "3321") -> str:
    """The CHANNELOUT that ends :func:`_answered` call ``i``."""
    return (f"CHANNELOUT|CHANNEL:SIP/{exten}-{i:08x}|RECHANNEL:SIP/gw2.eicn-{i:08x}|UNIQUEID:1700000000.{i}"
            "|HCAUSE:16")


def test_calls_waiting_for_their_grace_end_first_and_are_not_evicted(caplog):
    """A fast, honest server: more calls wait for their end grace than ``max_active``. They end
    as they would have, only sooner, before any call still going is evicted, older or not."""
    caplog.set_level(logging.INFO, "lguapi.calls")
    now = [1000.0]
    t = CallTracker(clock=lambda: now[0], max_active=100, end_grace=30.0)
    rules = Rules()
    for i in range(5):  # five calls that never end: the oldest of all
        rules.see(t.feed(ev(_answered(i), "3321", ts=now[0])))
    ended = []
    for i in range(5, 2005):  # 2,000 calls that end, 1,000 a second: 30,000 would wait for the grace
        for text in (_answered(i), _hung_up(i)):
            now[0] += 0.0005
            ups = t.feed(ev(text, "3321", ts=now[0]))
            rules.see(ups)
            ended += [u.call for u in ups if u.kind == "ended"]
        assert len(t.active) <= 100
    assert t.stats["evicted"] == 0 and t.stats["ended_early"] == len(ended) > 1800
    assert all(c.end_reason == "hangup" and c.hangup_cause == 16 for c in ended)
    # each ended at the time of its own CHANNELOUT, the longest waiting first
    assert [c.id for c in ended] == [f"1700000000.{i}" for i in range(5, 5 + len(ended))]
    assert all(c.end_at == c.answer_at + 0.0005 for c in ended)
    assert {f"1700000000.{i}" for i in range(5)} <= set(t.active)  # never evicted
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    now[0] += 10 ** 6
    rules.see(t.expire(now[0]))
    assert rules.finish(t) == []


def test_calls_going_on_are_evicted_once_no_call_waits_for_its_grace():
    now = [1000.0]
    t = CallTracker(clock=lambda: now[0], max_active=100, end_grace=30.0)
    for i in range(50):  # 50 calls that end, then wait for their grace
        t.feed(ev(_answered(i), "3321", ts=now[0]))
        t.feed(ev(_hung_up(i), "3321", ts=now[0]))
    for i in range(50, 200):  # then 150 that never end, all within the grace
        now[0] += 0.1
        t.feed(ev(_answered(i), "3321", ts=now[0]))
    assert (t.stats["ended_early"], t.stats["evicted"]) == (50, 200 - 50 - len(t.active))
    assert sorted(t.active) == [f"1700000000.{i}" for i in range(200 - len(t.active), 200)]


def test_the_oldest_calls_are_evicted_past_max_keys():
    now = [1000.0]
    t = CallTracker(clock=lambda: now[0], max_keys=400)  # each call: 2 channels and 2 unique ids
    for i in range(1000):
        now[0] = 1000.0 + i
        t.feed(ev(_answered(i), "3321", ts=now[0]))
        assert len(t._book.idx) <= 400
    assert len(t.active) >= 99 and t.stats["evicted"] == 1000 - len(t.active)
    assert sorted(t.active) == [f"1700000000.{i}" for i in range(1000 - len(t.active), 1000)]


def test_a_call_that_names_new_channels_without_end_is_ended_past_max_call_keys(caplog):
    """A server ringing one call's id on a new channel, again and again: the call ends as evicted
    at max_call_keys, later rings start calls that continue it, each bounded the same way, and
    the work per event stays flat (40,000 such events took 16 s, quadratic, before the bound)."""
    caplog.set_level(logging.WARNING, "lguapi.calls")
    now = [1000.0]
    t = CallTracker(clock=lambda: now[0], max_call_keys=100)
    rules = Rules()
    for i in range(1000):
        now[0] = 1000.0 + i
        rules.see(t.feed(ev(f"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3321-{i:08x}|RECHANNEL:SIP/gw2.eicn-{i:08x}"
                            "|CALLERID:0212345678|UNIQUEID:1700000000.1", "3321", ts=now[0])))
        assert all(len(c.channels) + len(c.unique_ids) <= 100 for c in t.active.values())
    first = next(c for c in t.ended if c.id == "1700000000.1")
    assert first.end_reason == "evicted" and len(first.channels) + len(first.unique_ids) == 101
    assert t.stats["evicted"] >= 9 and all(c.continued_from is not None for c in t.ended if c is not first)
    # at most 3 lines a minute
    assert len(caplog.records) == 3
    assert caplog.records[0].getMessage() == ("call tracker: call 1700000000.1 holds 101 channels and ids, "
                                              "more than max_call_keys (100); ended as evicted")
    now[0] += 10 ** 6
    rules.see(t.expire(now[0]))
    assert rules.finish(t) == []


def test_two_large_calls_merge_into_one_with_every_leg_once():
    """Legs of two calls of hundreds of legs each are joined in one pass over each (searching the
    kept call's legs for every absorbed leg took 0.1 s for 2,400 legs each, one event)."""
    t = CallTracker(clock=lambda: 1000.0)
    for uid in ("1700000000.1", "1700000000.2"):
        for i in range(300):
            t.feed(ev(f"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3321-{uid[-1]}{i:07x}|RECHANNEL:SIP/gw2.eicn-{uid[-1]}{i:07x}"
                      f"|CALLERID:0212345678|UNIQUEID:{uid}", "3321", ts=1000.0))
    # a ring of call 2's id on call 1's first channel: the two are one call (the older kept)
    assert sorted(len(c._legs) for c in t.active.values()) == [300, 300]
    ups = t.feed(ev("RINGEVENT|ISDIAL:0|CHANNEL:SIP/3321-10000000|RECHANNEL:SIP/gw2.eicn-10000000"
                    "|CALLERID:0212345678|UNIQUEID:1700000000.2", "3321", ts=1001.0))
    assert [(u.kind, u.call.id, u.call.end_reason) for u in ups] == [("ended", "1700000000.2", "merged")]
    (call,) = t.active.values()
    owns = [leg.own for leg in call._legs]
    assert len(owns) == len(set(owns)) == 600  # every leg of both, each once
    assert call.active_extens == {"3321": "ringing"} and t.stats["merged"] == 1


def test_channelouts_of_one_unknown_id_are_kept_up_to_orphans_per_key():
    """A server repeating CHANNELOUTs of an id no call has (yet): the newest ORPHANS_PER_KEY stay
    under the id, the older are counted out (each repeat used to read the whole list)."""
    t = CallTracker(clock=lambda: 1000.0)
    for i in range(100):
        t.feed(ev(f"CHANNELOUT|CHANNEL:SIP/3321-{i:08x}|RECHANNEL:SIP/gw2.eicn-{i:08x}|UNIQUEID:1700000000.9"
                  "|HCAUSE:16", "3321", ts=1000.0 + i))
    kept = t._book.orphans.mem.generations()[0]["1700000000.9"]
    assert [e.channel for e in kept] == [f"SIP/3321-{i:08x}" for i in range(100 - ORPHANS_PER_KEY, 100)]
    assert t.stats["orphans"] == 100 and t.stats["orphans_dropped"] == 100 - ORPHANS_PER_KEY
    # the call shows up: what was kept is applied, and it ends (its ring answered by nobody)
    updates = t.feed(ev("RINGEVENT|ISDIAL:0|CHANNEL:SIP/3321-00000063|RECHANNEL:SIP/gw2.eicn-00000063"
                        "|CALLERID:0212345678|UNIQUEID:1700000000.9", "3321", ts=1200.0))
    assert [u.kind for u in updates] == ["new", "ended"] and not t.active


@pytest.mark.parametrize("name", ["max_active", "max_keys", "max_call_keys"])
@pytest.mark.parametrize("bad", [0, -1])
def test_bounds_below_one_are_refused(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be >= 1, not {bad}"):
        CallTracker(**{name: bad})
    book = CallTracker()._book
    assert (book.max_active, book.max_keys, book.max_call_keys) == (DEFAULT_MAX_ACTIVE, DEFAULT_MAX_KEYS,
                                                                    DEFAULT_MAX_CALL_KEYS)


async def test_a_monitor_stays_within_its_trackers_max_active_and_records_the_evicted(tmp_path):
    """Over TCP: the server answers calls on one extension and never ends them."""
    sink = tmp_path / "calls.jsonl"
    async with emulator(extens="3001-3002") as emu:
        tracker = CallTracker(max_active=20)
        async with Monitor("127.0.0.1", emu.port, accounts=[("07012343001", "secret-3001")], tracker=tracker,
                           sink=str(sink), client_options={"heartbeat": 1.0}) as m:
            for i in range(300):
                emu.deliver("3001", _answered(i, "3001"))
            await until(lambda: m.events_seen >= 300, "every CHANNELLIST to reach the monitor")
            assert len(tracker.active) <= 20 and tracker.stats["evicted"] == 300 - len(tracker.active)
            evicted = tracker.stats["evicted"]
    calls = [r for r in read_jsonl(sink) if r["kind"] == "call"]
    assert len(calls) >= evicted and sum(r["end_reason"] == "evicted" for r in calls) == evicted
