"""CallTracker on exact event texts: the manual's §5 calls, §6.1's sample, and each
situation of docs/protocol.md §4.5 (new answering channel, ring ended by its own id, Local
halves, comma ids, overlapping calls, pickup, transfers, conference, hold, duplicates,
reordering, reconnect reconciliation, ring expiry)."""
from __future__ import annotations

import json

import pytest

from lguapi.calls import (
    CallTracker, CallUpdate, channel_peer, normalize_channel, normalize_unique_id,
)
from lguapi.events import Disconnected, Reconciled, Reconnected

from kit.clock import Clock
from kit.manual import M51, M52, M53_3321, M53_3322, M61
from kit.text import ev


def feed_all(tracker: CallTracker, items) -> list[CallUpdate]:
    out: list[CallUpdate] = []
    for item in items:
        out.extend(tracker.feed(item))
    return out


def only_ended(tracker: CallTracker):
    assert not tracker.active, tracker.active
    return list(tracker.ended)


# --- manual §5 and §6.1: the traces (kit.manual reads them from tests/core/manual_vectors.json)


def test_manual_5_1_outbound_click_dial():
    t = CallTracker()
    ups = feed_all(t, [ev(x, "3321", ts=100.0 + i) for i, x in enumerate(M51)])
    assert [u.kind for u in ups] == ["new", "changed", "ended"]
    assert [u.state for u in ups] == ["ringing", "connected", "ended"]
    (call,) = only_ended(t)
    assert call.id == "1319339029.484"
    assert call.direction == "outbound"
    assert call.state == "ended"
    assert call.exten == ("3321",)
    assert call.remote_number == "01923XXXXX"
    assert call.dialled_number is None
    assert call.answered_by is None  # the far end answered
    assert call.hangup_cause == 16 and call.end_reason == "hangup"
    assert not call.missed and not call.abandoned
    assert (call.ring_at, call.answer_at, call.end_at) == (100.0, 101.0, 102.0)
    assert (call.ring_seconds, call.talk_seconds) == (1.0, 1.0)
    assert "SIP/gw2.eicn-09b25a90" in call.channels
    json.dumps(call.to_dict())


def test_manual_5_2_inbound_answer_gets_a_new_channel():
    t = CallTracker()
    ups = feed_all(t, [ev(x, "3321", ts=200.0 + 3 * i) for i, x in enumerate(M52)])
    assert [u.kind for u in ups] == ["new", "changed", "ended"]
    (call,) = only_ended(t)
    assert call.id == "1319339116.486"
    assert call.direction == "inbound"
    assert call.remote_number == "01923XXXXX"  # the ring's CALLERID (the list's CALLER1ID disagrees in the manual)
    assert call.dialled_number == "070xxxx0321"
    assert call.answered_by == "3321"
    assert call.hangup_cause == 16 and call.end_reason == "hangup"
    assert not call.missed and not call.abandoned
    assert (call.ring_seconds, call.talk_seconds) == (3.0, 3.0)
    # the ringing channel and the answering channel both belong to it
    assert {"SIP/3321-09b2a738", "SIP/3321-09b25a90", "SIP/gw2.eicn-09b559d8"} <= set(call.channels)
    assert {"1319339116.486", "1319339122.488"} <= set(call.unique_ids)


@pytest.mark.parametrize("order", ["manual", "interleaved", "reversed-connections"])
def test_manual_5_3_internal_call_seen_from_both_extensions_is_one_call(order):
    clock = Clock()
    t = CallTracker(clock=clock, end_grace=2.0)
    a = [ev(x, "3321", ts=300.0 + i) for i, x in enumerate(M53_3321)]
    b = [ev(x, "3322", ts=300.0 + i) for i, x in enumerate(M53_3322)]
    seq = {"manual": a + b, "interleaved": [b[0], a[0], a[1], b[1], a[2], b[2]],
           "reversed-connections": b + a}[order]
    ups = feed_all(t, seq)
    assert [u.kind for u in ups].count("new") == 1
    assert not t.ended  # the end waits for the grace
    clock.t += 2.5
    ups = t.expire()
    assert [u.kind for u in ups] == ["ended"]
    (call,) = only_ended(t)
    assert call.id == "1319339499.489"
    assert call.direction == "internal"
    assert set(call.exten) == {"3321", "3322"}
    assert call.answered_by == "3321"
    assert call.remote_number == "3322"  # internal and a tracked extension was rung: the caller
    assert (call.caller, call.callee) == ("3322", "3321")
    assert call.hangup_cause == 16 and call.end_reason == "hangup"
    assert not call.missed and not call.abandoned


def test_manual_5_3_from_the_calling_side_only():
    t = CallTracker()
    feed_all(t, [ev(x, "3322", ts=300.0 + i) for i, x in enumerate(M53_3322)])
    (call,) = only_ended(t)
    assert call.direction == "internal"
    assert call.exten == ("3322",)
    assert call.answered_by == "3321"
    assert call.remote_number == "3321"  # nobody tracked was rung: the called extension
    assert call.end_reason == "hangup"


def test_auto_grace_interleaved_5_3_from_two_connections():
    """Default end_grace=None: 0 for one extension, DEFAULT_END_GRACE once two feed the tracker."""
    clock = Clock()
    t = CallTracker(clock=clock)
    a = [ev(x, "3321", ts=300.0 + i) for i, x in enumerate(M53_3321)]
    b = [ev(x, "3322", ts=300.0 + i) for i, x in enumerate(M53_3322)]
    feed_all(t, [b[0], a[0], a[1], b[1], a[2], b[2]])
    assert len(t.active) == 1 and not t.ended
    clock.t += 10
    t.expire()
    (call,) = only_ended(t)
    assert set(call.exten) == {"3321", "3322"}


def test_manual_6_1_local_halves_and_comma_unique_ids():
    t = CallTracker()
    ups = feed_all(t, [ev(x, "1y669211", ts=400.0 + i) for i, x in enumerate(M61)])
    assert [u.kind for u in ups] == ["new", "changed", "ended"]
    (call,) = only_ended(t)
    assert call.id == "1449825958.4879172"
    assert call.direction == "outbound"
    assert call.remote_number == "010xxxx0850"
    assert call.end_reason == "hangup" and call.hangup_cause == 16
    # both halves are one channel; comma ids read as dot ids
    assert "Local/1y669211@default-1b56" in call.channels
    assert not any(c.endswith((",1", ",2", ";1", ";2")) for c in call.channels)
    assert "1449825958.4879171" in call.unique_ids and not any("," in u for u in call.unique_ids)


def test_all_manual_calls_in_one_tracker():
    clock = Clock()
    t = CallTracker(clock=clock, end_grace=2.0)
    items = [ev(x, "3321", ts=1.0) for x in M51 + M52]
    items += [ev(x, "3321", ts=2.0) for x in M53_3321] + [ev(x, "3322", ts=2.0) for x in M53_3322]
    items += [ev(x, "1y669211", ts=3.0) for x in M61]
    feed_all(t, items)
    clock.t += 3
    t.expire()
    calls = only_ended(t)
    assert [c.direction for c in calls] == ["outbound", "inbound", "internal", "outbound"]


# --- names --------------------------------------------------------------------------------


def test_normalisation_helpers():
    assert normalize_channel("Local/3458@xfercontext-1b56;2") == normalize_channel("Local/3458@xfercontext-1b56,1")
    assert normalize_channel("SIP/3321-09b559d8") == "SIP/3321-09b559d8"
    assert normalize_channel("") is None and normalize_channel(None) is None
    assert normalize_unique_id("1449825958,4879172") == "1449825958.4879172"
    assert normalize_unique_id("1319339029.484") == "1319339029.484"
    assert channel_peer("SIP/gw2.eicn-09b25a90") == "gw2.eicn"
    assert channel_peer("Local/3458@xfercontext-1b56;2") == "3458"
    assert channel_peer("SIP/101t4004-0a0b0c0d") == "101t4004"


# --- situations -----------------------------------------------------------------------------

N = "1700000000"


def ring_in(exten, ring_ch, caller_ch, caller, uid, inexten="07012340001", **extra):
    x = "".join(f"|{k}:{v}" for k, v in extra.items())
    return (f"RINGEVENT|ISDIAL:0|CHANNEL:{ring_ch}|RECHANNEL:{caller_ch}|INEXTEN:{inexten}|AGENT:{exten}{x}"
            f"|CALLERID:{caller}|UNIQUEID:{uid}")


def chlist(c1, c2, id1, id2, u1, u2, inexten="null"):
    return (f"CHANNELLIST|CHANNEL1:{c1}|CHANNEL2:{c2}|CALLER1ID:{id1}|CALLER2ID:{id2}|INEXTEN:{inexten}"
            f"|UNIQUEID1:{u1}|UNIQUEID2:{u2}")


def chout(ch, rch, uid, src, cause):
    parts = [f"CHANNEL:{ch}"]
    if rch:
        parts.append(f"RECHANNEL:{rch}")
    parts.append(f"UNIQUEID:{uid}")
    if src:
        parts.append(f"SRCUNIQUEID:{src}")
    parts.append(f"HCAUSE:{cause}")
    return "CHANNELOUT|" + "|".join(parts)


X = "SIP/gw2.eicn-0000aa01"
E_RING = "SIP/3001-0000bb01"
E_CONN = "SIP/3001-0000bb02"


@pytest.mark.parametrize("cause,reason,missed,abandoned", [
    (16, "abandoned", False, True), (19, "missed", True, False), (21, "missed", True, False),
    (17, "missed", True, False), (0, "missed", True, False), (129, "missed", True, False),
])
def test_unanswered_ring_ended_by_its_own_channel_and_id(cause, reason, missed, abandoned):
    t = CallTracker()
    feed_all(t, [
        ev(ring_in("3001", E_RING, X, "01012345678", f"{N}.1"), "3001", ts=10.0),
        # only the ringing channel and its own id (never seen before)
        ev(f"CHANNELOUT|CHANNEL:{E_RING}|UNIQUEID:{N}.2|HCAUSE:{cause}", "3001", ts=25.0),
    ])
    (call,) = only_ended(t)
    assert call.direction == "inbound"
    assert call.remote_number == "01012345678" and call.dialled_number == "07012340001"
    assert call.answered_by is None and call.answer_at is None
    assert (call.end_reason, call.missed, call.abandoned) == (reason, missed, abandoned)
    assert call.hangup_cause == cause
    assert (call.ring_seconds, call.talk_seconds) == (15.0, 0.0)


@pytest.mark.parametrize("cause,reason", [(17, "busy"), (19, "no-answer"), (21, "rejected"), (16, "cancelled")])
def test_unanswered_outbound_is_never_missed(cause, reason):
    t = CallTracker()
    trunk = "SIP/gw2.eicn-0000cc01"
    feed_all(t, [
        ev(f"RINGEVENT|ISDIAL:1|CHANNEL:{trunk}|RECHANNEL:{E_CONN}|INEXTEN:null|AGENT:3001"
           f"|CALLERID:0212345678|UNIQUEID:{N}.10", "3001", ts=1.0),
        # the far end's ringing channel with its own id
        ev(f"CHANNELOUT|CHANNEL:{trunk}|UNIQUEID:{N}.11|HCAUSE:{cause}", "3001", ts=5.0),
    ])
    (call,) = only_ended(t)
    assert call.direction == "outbound" and call.remote_number == "0212345678"
    assert call.end_reason == reason and not call.missed and not call.abandoned


def test_overlapping_calls_on_one_extension_stay_apart():
    """A second call rings while the first is connected; each ends on its own."""
    t = CallTracker()
    x2 = "SIP/gw2.eicn-0000aa02"
    e_ring2 = "SIP/3001-0000bb03"
    items = [
        ev(ring_in("3001", E_RING, X, "01011112222", f"{N}.1"), "3001", ts=1),
        ev(chlist(X, E_CONN, "01011112222", "3001", f"{N}.1", f"{N}.3", "07012340001"), "3001", ts=2),
        ev(ring_in("3001", e_ring2, x2, "01033334444", f"{N}.4"), "3001", ts=3),
        ev("CMDRESULT|CMD:HOLD|RES:OK", "3001", ts=3.5),
        ev(f"CHANNELOUT|CHANNEL:{e_ring2}|RECHANNEL:{x2}|UNIQUEID:{N}.5|SRCUNIQUEID:{N}.4|HCAUSE:21", "3001", ts=4),
        ev("CMDRESULT|CMD:UNHOLD|RES:OK", "3001", ts=4.5),
        ev(chout(E_CONN, X, f"{N}.3", f"{N}.1", 16), "3001", ts=9),
    ]
    ups = feed_all(t, items)
    first, second = only_ended(t)[1], only_ended(t)[0]
    assert second.id == f"{N}.4" and second.end_reason == "missed" and second.hangup_cause == 21
    assert second.remote_number == "01033334444"
    assert first.id == f"{N}.1" and first.end_reason == "hangup" and first.answered_by == "3001"
    assert first.remote_number == "01011112222" and first.talk_seconds == 7.0
    states = [(u.call.id, u.state) for u in ups if u.kind == "changed"]
    assert (f"{N}.1", "held") in states and states.count((f"{N}.1", "connected")) == 2


def test_call_picked_up_at_another_extension():
    clock = Clock()
    t = CallTracker(clock=clock)
    p_conn = "SIP/3002-0000dd01"
    items = [
        ev("LOGINRESULT|STATUS:1|EXTEN:3001", "3001"),
        ev(ring_in("3001", E_RING, X, "01012345678", f"{N}.1"), "3001", ts=1),
        # the picking-up phone only sees the channel list; the ringing phone's ring ends
        ev(chlist(X, p_conn, "01012345678", "3002", f"{N}.1", f"{N}.3"), "3002", ts=4),
        ev(f"CHANNELOUT|CHANNEL:{E_RING}|RECHANNEL:{X}|UNIQUEID:{N}.2|SRCUNIQUEID:{N}.1|HCAUSE:16", "3001", ts=4),
        ev(chout(p_conn, X, f"{N}.3", f"{N}.1", 16), "3002", ts=30),
    ]
    feed_all(t, items)
    clock.t += 5
    t.expire()
    (call,) = only_ended(t)
    assert call.direction == "inbound"
    assert call.answered_by == "3002"
    assert set(call.exten) == {"3001", "3002"}
    assert call.end_reason == "hangup" and not call.missed and not call.abandoned
    assert call.talk_seconds == 26.0


def test_pickup_ring_end_before_the_pickers_list_waits_for_the_grace():
    clock = Clock()
    t = CallTracker(clock=clock, end_grace=2.0)
    p_conn = "SIP/3002-0000dd01"
    feed_all(t, [
        ev(ring_in("3001", E_RING, X, "01012345678", f"{N}.1"), "3001", ts=1),
        ev(f"CHANNELOUT|CHANNEL:{E_RING}|UNIQUEID:{N}.2|HCAUSE:16", "3001", ts=4),
    ])
    assert not t.ended  # not abandoned yet: a leg may join from another connection
    clock.t += 0.5
    feed_all(t, [ev(chlist(X, p_conn, "01012345678", "3002", f"{N}.1", f"{N}.3"), "3002", ts=4.1)])
    clock.t += 5
    assert t.expire() == []
    assert list(t.active.values())[0].state == "connected"
    feed_all(t, [ev(chout(p_conn, X, f"{N}.3", f"{N}.1", 16), "3002", ts=20)])
    clock.t += 5
    t.expire()
    (call,) = only_ended(t)
    assert call.answered_by == "3002" and call.end_reason == "hangup"


def _blind_transfer_items(t_ring_first: bool):
    t_ring = "SIP/3003-0000ee01"
    t_conn = "SIP/3003-0000ee02"
    base = [
        ev(ring_in("3001", E_RING, X, "01012345678", f"{N}.1"), "3001", ts=1),
        ev(chlist(X, E_CONN, "01012345678", "3001", f"{N}.1", f"{N}.3", "07012340001"), "3001", ts=2),
    ]
    e_out = ev(chout(E_CONN, X, f"{N}.3", f"{N}.1", 16), "3001", ts=5)
    t_rng = ev(ring_in("3003", t_ring, X, "01012345678", f"{N}.1", inexten="null"), "3003", ts=5)
    rest = [
        ev(chlist(X, t_conn, "01012345678", "3003", f"{N}.1", f"{N}.7"), "3003", ts=8),
        ev(chout(t_conn, X, f"{N}.7", f"{N}.1", 16), "3003", ts=20),
    ]
    return base + ([t_rng, e_out] if t_ring_first else [e_out, t_rng]) + rest


@pytest.mark.parametrize("t_ring_first", [True, False])
def test_blind_transfer_legs_join_the_original_call(t_ring_first):
    clock = Clock()
    t = CallTracker(clock=clock)
    t.feed(ev("LOGINRESULT|STATUS:1", "3003"))  # two extensions: the auto grace applies
    ups = feed_all(t, _blind_transfer_items(t_ring_first))
    assert [u.kind for u in ups].count("new") == 1
    assert "transferring" in [u.state for u in ups]
    clock.t += 3
    t.expire()
    (call,) = only_ended(t)
    assert call.id == f"{N}.1"
    assert call.direction == "inbound"
    assert call.answered_by == "3001"
    assert call.handled_by == ("3001", "3003")
    assert set(call.exten) == {"3001", "3003"}
    assert call.end_reason == "hangup" and call.hangup_cause == 16
    assert call.talk_seconds == 18.0


def _atxfer_items():
    local = "Local/3003@xfercontext-1f2e"
    t_ring = "SIP/3003-0000ee01"
    t_conn = "SIP/3003-0000ee02"
    return {
        "ring": ev(ring_in("3001", E_RING, X, "01012345678", f"{N}.1"), "3001", ts=1),
        "list": ev(chlist(X, E_CONN, "01012345678", "3001", f"{N}.1", f"{N}.3", "07012340001"), "3001", ts=2),
        # ATXFER: a channel list at once, no ring, the Local ;2 half
        "xlist": ev(chlist(E_CONN, local + ";2", "3001", "3003", f"{N}.3", f"{N}.5"), "3001", ts=5),
        "tring": ev(f"RINGEVENT|ISDIAL:0|CHANNEL:{t_ring}|RECHANNEL:{local},1|INEXTEN:null|AGENT:3003"
                    f"|ATXFER:3001|CALLERID:3001|UNIQUEID:{N},4", "3003", ts=5),
        "tlist": ev(chlist(local + ";1", t_conn, "3001", "3003", f"{N}.4", f"{N}.6"), "3003", ts=7),
        "eout": ev(chout(E_CONN, X, f"{N}.3", f"{N}.1", 16), "3001", ts=9),
        "tout": ev(chout(t_conn, local + ";1", f"{N}.6", f"{N}.4", 16), "3003", ts=30),
    }


@pytest.mark.parametrize("order", [
    ["ring", "list", "xlist", "tring", "tlist", "eout", "tout"],
    ["ring", "list", "tring", "xlist", "tlist", "eout", "tout"],  # the target's ring overtakes
    ["ring", "list", "tring", "tlist", "xlist", "eout", "tout"],
])
def test_attended_transfer_legs_join_the_original_call(order):
    clock = Clock()
    t = CallTracker(clock=clock)
    items = _atxfer_items()
    ups = feed_all(t, [items[k] for k in order])
    states = [u.state for u in ups if u.call.id == f"{N}.1"]
    assert "transferring" in states
    clock.t += 3
    t.expire()
    (call,) = only_ended(t)
    assert call.id == f"{N}.1"
    assert call.direction == "inbound" and call.remote_number == "01012345678"
    assert call.answered_by == "3001" and call.handled_by == ("3001", "3003")
    assert call.end_reason == "hangup" and call.talk_seconds == 28.0
    assert "Local/3003@xfercontext-1f2e" in call.channels
    merged = [u.call for u in ups if u.kind == "ended" and u.call.end_reason == "merged"]
    assert all(m.merged_into == f"{N}.1" for m in merged)
    assert states[-1] != "transferring" or call.state == "ended"


def test_attended_transfer_target_rejects_and_the_call_goes_on():
    clock = Clock()
    t = CallTracker(clock=clock, end_grace=2.0)
    items = _atxfer_items()
    feed_all(t, [items["ring"], items["list"], items["xlist"], items["tring"]])
    (call,) = t.active.values()
    assert call.state == "transferring"
    feed_all(t, [
        ev(f"CHANNELOUT|CHANNEL:SIP/3003-0000ee01|UNIQUEID:{N}.8|HCAUSE:21", "3003", ts=6),
        ev(f"CHANNELOUT|CHANNEL:Local/3003@xfercontext-1f2e;2|UNIQUEID:{N}.5|HCAUSE:21", "3001", ts=6),
    ])
    assert call.state == "connected"
    feed_all(t, [items["eout"]])
    clock.t += 3
    t.expire()
    assert only_ended(t) == [call]
    assert call.handled_by == ("3001",) and call.end_reason == "hangup"


def test_attended_transfer_consultation_fails_and_the_original_channel_list_comes_back():
    """The emulator's choice (docs/emulator-pbx.md): the target rejects, the transferring phone
    gets the original call's CHANNELLIST again and is back with the held party."""
    clock = Clock()
    t = CallTracker(clock=clock)
    items = _atxfer_items()
    feed_all(t, [items["ring"], items["list"], items["xlist"], items["tring"]])
    (call,) = t.active.values()
    assert call.state == "transferring"
    ups = feed_all(t, [
        ev(f"CHANNELOUT|CHANNEL:SIP/3003-0000ee01|RECHANNEL:SIP/3003-0000ee01|UNIQUEID:{N}.8"
           f"|SRCUNIQUEID:{N}.8|HCAUSE:21", "3003", ts=6),
        items["list"],  # the original CHANNELLIST again, to the transferring phone
    ])
    assert call.state == "connected" and ups[-1].state == "connected"
    feed_all(t, [items["eout"]])
    clock.t += 3
    t.expire()
    assert only_ended(t) == [call] and call.end_reason == "hangup" and call.handled_by == ("3001",)


async def test_updates_stream_overflow_flush_and_close():
    clock = Clock()
    t = CallTracker(clock=clock, end_grace=5.0)
    small = t.updates(maxsize=2)
    full = t.updates()
    feed_all(t, [ev(x, "3321", ts=200.0 + i) for i, x in enumerate(M52)])
    assert t.active  # the end waits for the grace ...
    assert [u.kind for u in t.flush()] == ["ended"]  # ... unless flushed
    assert not t.active and t.ended[-1].end_reason == "hangup"
    t.close()
    assert [u.kind async for u in full] == ["new", "changed", "ended"]
    assert [u.kind async for u in small] == ["changed", "ended"] and small.dropped == 1


def test_conference_redirect_keeps_one_call():
    clock = Clock()
    t = CallTracker(clock=clock)
    items = [
        ev(ring_in("3001", E_RING, X, "01012345678", f"{N}.1"), "3001", ts=1),
        ev(chlist(X, E_CONN, "01012345678", "3001", f"{N}.1", f"{N}.3"), "3001", ts=2),
        ev(f"CONFERENCEEVENT|CMD:CONFMEMBERADD|CONFNAME:7001|CHANNEL:{E_CONN}|UNIQUEID:{N}.3|COUNT:1|MEMBER:3001",
           "3001", ts=3),
        ev(f"CONFERENCEEVENT|CMD:CONFMEMBERADD|CONFNAME:7001|CHANNEL:{X}|UNIQUEID:{N}.1|COUNT:2"
           f"|MEMBER:01012345678", "3001", ts=3),
        # a third member invited into the room: linked by the room name alone
        ev(f"CONFERENCEEVENT|CMD:CONFMEMBERADD|CONFNAME:7001|CHANNEL:SIP/3005-0000ff01|UNIQUEID:{N}.9"
           f"|COUNT:3|MEMBER:3005", "3001", ts=4),
        ev(f"CONFERENCEEVENT|CMD:CONFMEMBERDEL|CONFNAME:7001|CHANNEL:SIP/3005-0000ff01|UNIQUEID:{N}.9"
           f"|COUNT:2|MEMBER:3005", "3001", ts=6),
    ]
    ups = feed_all(t, items)
    assert [u.kind for u in ups].count("new") == 1
    (call,) = t.active.values()
    assert call.state == "conference" and call.room == "7001"
    feed_all(t, [
        ev(chout(E_CONN, X, f"{N}.3", f"{N}.1", 16), "3001", ts=10),
        ev(f"CONFERENCEEVENT|CMD:CONFMEMBERDEL|CONFNAME:7001|CHANNEL:{E_CONN}|UNIQUEID:{N}.3|COUNT:1"
           f"|MEMBER:3001", "3001", ts=10),
    ])
    (call,) = only_ended(t)
    assert call.direction == "inbound" and call.answered_by == "3001"
    assert call.end_reason == "hangup" and call.hangup_cause == 16


@pytest.mark.parametrize("channelout", [True, False])
def test_call_with_conference_starts_a_call_and_ends_with_count_zero(channelout):
    clock = Clock()
    t = CallTracker(clock=clock)
    room = "_WITH/MTV"
    feed_all(t, [
        ev(f"CONFERENCEEVENT|CMD:CONFMEMBERADD|CONFNAME:{room}|CHANNEL:SIP/10033447-0716|UNIQUEID:1322304649.51"
           f"|COUNT:1|MEMBER:3447", "3447", ts=1),
    ])
    (call,) = t.active.values()
    assert call.state == "conference" and call.answer_at is None  # alone in the room: not answered yet
    feed_all(t, [
        ev(f"CONFERENCEEVENT|CMD:CONFMEMBERADD|CONFNAME:{room}|CHANNEL:SIP/10033448-956f|UNIQUEID:1322304656.53"
           f"|COUNT:2|MEMBER:3448", "3447", ts=2),
    ])
    assert call.id == "1322304649.51" and call.exten == ("3447",)
    assert (call.answer_at, call.answered_by) == (2, "3448")
    feed_all(t, [
        ev(f"CONFERENCEEVENT|CMD:CONFMEMBERDEL|CONFNAME:{room}|CHANNEL:SIP/10033448- 956f"
           f"|UNIQUEID:1322304656.53|COUNT:1|MEMBER:3448", "3447", ts=5),
    ])
    assert call.state == "conference"
    feed_all(t, [
        ev(f"CONFERENCEEVENT|CMD:CONFMEMBERDEL|CONFNAME:{room}|CHANNEL:SIP/10033447-0716"
           f"|UNIQUEID:1322304649.51|COUNT:0|MEMBER:3447", "3447", ts=9),
    ])
    if channelout:  # the leaving channel's CHANNELOUT follows and gives the cause at once
        feed_all(t, [ev("CHANNELOUT|CHANNEL:SIP/10033447-0716|RECHANNEL:SIP/10033447-0716"
                        "|UNIQUEID:1322304649.51|SRCUNIQUEID:1322304649.51|HCAUSE:16", "3447", ts=9)])
    else:  # without one the end is confirmed a moment later
        assert t.active
        clock.t += 1.5
        t.expire()
    (call,) = only_ended(t)
    assert call.direction == "internal" and call.end_reason == "hangup"
    assert call.hangup_cause == (16 if channelout else None)
    assert call.talk_seconds == 7.0


def test_conference_invitation_rings_join_the_conference_call():
    """An invited phone rings on an originated channel (CHANNEL = RECHANNEL, CALLERID the
    inviting extension): it belongs to the conference call, answered or not."""
    clock = Clock()
    t = CallTracker(clock=clock)
    conf = "CONFERENCEEVENT|CMD:{}|CONFNAME:7001|CHANNEL:{}|UNIQUEID:{}|COUNT:{}|MEMBER:{}"
    items = [
        ev(ring_in("3001", E_RING, X, "01012345678", f"{N}.1"), "3001", ts=1),
        ev(chlist(X, E_CONN, "01012345678", "3001", f"{N}.1", f"{N}.3"), "3001", ts=2),
        ev(conf.format("CONFMEMBERADD", E_CONN, f"{N}.3", 1, "3001"), "3001", ts=3),
        ev(conf.format("CONFMEMBERADD", X, f"{N}.1", 2, "01012345678"), "3001", ts=3),
        # two invitations: 3005 answers, 3006 does not
        ev(f"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3005-0000ff01|RECHANNEL:SIP/3005-0000ff01|INEXTEN:null|AGENT:3005"
           f"|CALLERID:3001|UNIQUEID:{N}.9", "3005", ts=4),
        ev(f"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3006-0000ff02|RECHANNEL:SIP/3006-0000ff02|INEXTEN:null|AGENT:3006"
           f"|CALLERID:3001|UNIQUEID:{N}.10", "3006", ts=4),
        ev(conf.format("CONFMEMBERADD", "SIP/3005-0000ff01", f"{N}.9", 3, "3005"), "3001", ts=5),
        ev(conf.format("CONFMEMBERADD", "SIP/3005-0000ff01", f"{N}.9", 3, "3005"), "3005", ts=5),
        ev(f"CHANNELOUT|CHANNEL:SIP/3006-0000ff02|RECHANNEL:SIP/3006-0000ff02|UNIQUEID:{N}.10"
           f"|SRCUNIQUEID:{N}.10|HCAUSE:19", "3006", ts=8),
    ]
    ups = feed_all(t, items)
    assert [u.kind for u in ups].count("new") == 1
    (call,) = t.active.values()
    assert call.state == "conference" and set(call.exten) == {"3001", "3005", "3006"}
    assert call.active_extens == {"3001": "connected", "3005": "connected"}
    for text, exten in [
        (conf.format("CONFMEMBERDEL", "SIP/3005-0000ff01", f"{N}.9", 2, "3005"), "3001"),
        (conf.format("CONFMEMBERDEL", "SIP/3005-0000ff01", f"{N}.9", 2, "3005"), "3005"),
        (f"CHANNELOUT|CHANNEL:SIP/3005-0000ff01|RECHANNEL:SIP/3005-0000ff01|UNIQUEID:{N}.9"
         f"|SRCUNIQUEID:{N}.9|HCAUSE:16", "3005"),
        (conf.format("CONFMEMBERDEL", X, f"{N}.1", 1, "01012345678"), "3001"),
        (conf.format("CONFMEMBERDEL", E_CONN, f"{N}.3", 0, "3001"), "3001"),
        (chout(E_CONN, X, f"{N}.3", f"{N}.1", 16), "3001"),
    ]:
        t.feed(ev(text, exten, ts=20))
    clock.t += 3
    t.expire()
    (call,) = only_ended(t)
    assert call.direction == "inbound" and call.answered_by == "3001" and call.hangup_cause == 16
    assert call.handled_by == ("3001", "3005")


def test_a_call_seen_only_by_its_channelout_and_cdrevent_is_recorded():
    """An internal call to a busy phone: the caller gets its CHANNELOUT (17) and a CDREVENT, nothing else."""
    t = CallTracker()
    a = "SIP/3001-0000aa10"
    assert t.feed(ev(f"CHANNELOUT|CHANNEL:{a}|RECHANNEL:{a}|UNIQUEID:{N}.40|SRCUNIQUEID:{N}.40|HCAUSE:17",
                     "3001", ts=50)) == []
    ups = t.feed(ev(f"CDREVENT|CHANNEL:{a}|UNIQUEID:{N}.40|SRC:3001|DST:3002|DISPOSITION:BUSY|DURATION:0"
                    f"|BILLSEC:0", "3001", ts=50.1))
    assert [u.kind for u in ups] == ["new", "ended"]
    (call,) = only_ended(t)
    assert (call.id, call.direction, call.remote_number, call.hangup_cause, call.end_reason) == (
        f"{N}.40", "internal", "3002", 17, "busy")
    assert not call.missed and call.answer_at is None and call.exten == ("3001",)
    # a second CDREVENT of the same call (another extension) or of a known call changes nothing
    assert t.feed(ev(f"CDREVENT|CHANNEL:{a}|UNIQUEID:{N}.40|SRC:3001|DST:3002|DISPOSITION:BUSY", "3002")) == []
    assert t.feed(ev(f"CDREVENT|CHANNEL:{a}|UNIQUEID:{N}.99|SRC:3001|DST:3002|DISPOSITION:BUSY", "3001")) == []
    assert len(t.ended) == 1


def test_duplicates_are_idempotent_and_late_duplicates_make_no_ghosts():
    t = CallTracker()
    items = [ev(x, "3321", ts=200.0 + i) for i, x in enumerate(M52)]
    ups = []
    for item in items:
        ups += t.feed(item)
        assert t.feed(item) == []  # the same event again changes nothing
    assert [u.kind for u in ups] == ["new", "changed", "ended"]
    # every event again after the end: dropped as stale, nothing reopened
    for item in items:
        assert t.feed(item) == []
    assert not t.active and len(t.ended) == 1
    assert t.stats["stale"] >= 3


def test_channelout_before_its_channel_list_creates_no_ghost():
    t = CallTracker()
    out = ev(M52[2], "3321", ts=206.0)
    assert t.feed(out) == []  # a call we never saw: nothing is created
    assert not t.active and not t.ended and t.stats["orphans"] == 1
    # its channel list shows up late (another connection): the call is known and over at once
    ups = t.feed(ev(M52[1], "3321", ts=203.0))
    assert [u.kind for u in ups] == ["new", "ended"]
    (call,) = only_ended(t)
    assert call.answered_by == "3321" and call.end_reason == "hangup"
    assert call.end_at == 206.0


def test_a_channelout_alone_stays_an_orphan():
    t = CallTracker()
    t.feed(ev(M51[2], "3321", ts=1.0))
    t.feed(ev(M51[2], "3321", ts=1.0))
    assert not t.active and not t.ended


def test_reconnect_that_lost_the_channelout_closes_with_a_reason():
    t = CallTracker()
    feed_all(t, [ev(x, "3321", ts=200.0 + i) for i in range(2) for x in [M52[i]]])
    (call,) = t.active.values()
    assert call.state == "connected"
    # connection lost; the CHANNELOUT went with it; the client logs in again and asks GETSTATUSPEERS
    assert t.feed(Disconnected(exten="3321", will_reconnect=True, ts=210.0)) == []
    assert t.feed(Reconnected(exten="3321", ts=230.0)) == []
    ups = t.feed(Reconciled(exten="3321", statuses=(("3321", "Down", ""),), ts=231.0))
    assert [u.kind for u in ups] == ["ended"]
    assert call.state == "ended" and call.end_reason == "lost-after-reconnect"
    assert call.end_at == 231.0 and not call.missed and not call.abandoned


def test_reconnect_with_the_call_still_up_keeps_it():
    t = CallTracker()
    feed_all(t, [ev(M52[0], "3321", ts=1.0), ev(M52[1], "3321", ts=2.0)])
    ups = t.feed(Reconciled(exten="3321", statuses=(("3321", "Up", "Link_Channel(SIP/gw2.eicn-09b559d8)"),), ts=9))
    assert ups == [] and len(t.active) == 1
    # other extensions' statuses say nothing about this one's call: still up until told
    t.feed(ev(M52[2], "3321", ts=20.0))
    (call,) = only_ended(t)
    assert call.end_reason == "hangup"


def test_reconnect_closes_only_the_reconnected_extensions_legs():
    clock = Clock()
    t = CallTracker(clock=clock, end_grace=2.0)
    a = [ev(x, "3321", ts=300.0 + i) for i, x in enumerate(M53_3321)]
    b = [ev(x, "3322", ts=300.0 + i) for i, x in enumerate(M53_3322)]
    feed_all(t, [b[0], a[0], a[1], b[1]])
    (call,) = t.active.values()
    t.feed(Reconciled(exten="3322", statuses=(), ts=305.0))  # nothing up for 3322
    assert call.state == "connected"  # 3321 is still on it
    t.feed(Reconciled(exten="3321", statuses=(("3321", "Down", ""),), ts=306.0))
    assert call.state == "ended" and call.end_reason == "lost-after-reconnect"


def test_final_disconnect_closes_that_extensions_calls():
    t = CallTracker()
    feed_all(t, [ev(M52[0], "3321", ts=1.0)])
    ups = t.feed(Disconnected(exten="3321", deliberate=True, ts=5.0))
    assert [u.kind for u in ups] == ["ended"]
    assert ups[0].call.end_reason == "disconnected" and not ups[0].call.missed


def test_rings_that_never_end_expire():
    clock = Clock()
    t = CallTracker(clock=clock, ring_expiry=60.0)
    t.feed(ev(M52[0], "3321", ts=1.0))
    clock.t += 59
    assert t.expire() == []
    clock.t += 2
    ups = t.expire()
    assert [u.kind for u in ups] == ["ended"]
    call = ups[0].call
    assert call.end_reason == "expired" and not call.missed and not call.abandoned
    assert not t.active


def test_expiry_runs_on_feed_too_and_connected_calls_do_not_ring_expire():
    clock = Clock()
    t = CallTracker(clock=clock, ring_expiry=60.0, call_expiry=3600.0)
    t.feed(ev(M52[0], "3321", ts=1.0))
    t.feed(ev(M52[1], "3321", ts=2.0))
    clock.t += 120
    t.feed(ev("PING", "3321"))
    assert len(t.active) == 1
    clock.t += 3600
    ups = t.expire()
    assert [u.call.end_reason for u in ups] == ["expired"]


def test_hold_and_unhold_change_the_state():
    t = CallTracker()
    feed_all(t, [ev(M52[0], "3321", ts=1.0), ev(M52[1], "3321", ts=2.0)])
    (call,) = t.active.values()
    [u] = t.feed(ev("CMDRESULT|CMD:HOLD|RES:OK", "3321", ts=3.0))
    assert (u.kind, u.state, call.state) == ("changed", "held", "held")
    assert call.active_extens == {"3321": "held"}
    assert t.feed(ev("CMDRESULT|CMD:HOLD|RES:ERR", "3321", ts=3.5)) == []
    assert t.feed(ev("CMDRESULT|CMD:UNHOLD|RES:ERR", "3321", ts=3.6)) == []
    [u] = t.feed(ev("CMDRESULT|CMD:UNHOLD|RES:OK", "3321", ts=4.0))
    assert u.state == "connected"
    assert t.feed(ev("CMDRESULT|CMD:UNHOLD|RES:OK", "3321", ts=4.0)) == []


def test_events_without_an_extension_still_make_calls():
    t = CallTracker()
    feed_all(t, [ev(x, None, ts=float(i)) for i, x in enumerate(M51)])
    (call,) = only_ended(t)
    assert call.direction == "outbound" and call.end_reason == "hangup"


def test_unrelated_events_are_ignored():
    t = CallTracker()
    for text in ("PING", "RECVSMS FROM:010xxxx0850 MESSAGE: hi SMSTO:070xxxx9812", "BYE|REASON:duplicate login",
                 "CDREVENT|CHANNEL:SIP/3321-09b559d8|UNIQUEID:1.2|SRC:3321|DST:010|DISPOSITION:ANSWERED",
                 "WHATEVER|A:B", "CMDRESULT|CMD:GETPEERINFO|3456:OK:CONN"):
        assert t.feed(ev(text, "3321")) == []
    assert not t.active and not t.ended


def test_tracker_arguments_are_checked():
    with pytest.raises(ValueError):
        CallTracker(ring_expiry=0)
    with pytest.raises(ValueError):
        CallTracker(end_grace=-1)


def test_memory_is_bounded():
    t = CallTracker(keep_ended=10, max_tombstones=50)
    for i in range(200):
        feed_all(t, [
            ev(ring_in("3001", f"SIP/3001-{i:08x}", f"SIP/gw2.eicn-{i:08x}", "01012345678", f"{N}.{3 * i}"), "3001"),
            ev(f"CHANNELOUT|CHANNEL:SIP/3001-{i:08x}|UNIQUEID:{N}.{3 * i + 1}|HCAUSE:19", "3001"),
        ])
    assert len(t.ended) == 10 and not t.active
    assert not t._idx and not t._ext
    assert len(t._tomb) <= 50
    assert len(t._timers) <= 4096 + 4


async def test_feed_many_equals_feeding_one_by_one_and_reaches_subscribers():
    """feed_many (the batch readers' entry) gives the updates of feed() event by event, in
    order, and hands every one of them to the updates() subscribers."""
    def traffic():
        a = [ev(x, "3321", ts=300.0 + i) for i, x in enumerate(M53_3321)]
        b = [ev(x, "3322", ts=300.0 + i) for i, x in enumerate(M53_3322)]
        c = [ev(x, "3321", ts=400.0 + i) for i, x in enumerate(M51)]
        return [b[0], a[0], a[1], b[1], a[2], b[2], *c]

    one = CallTracker(clock=Clock(), end_grace=0.0)
    singles = feed_all(one, traffic())
    many = CallTracker(clock=Clock(), end_grace=0.0)
    stream = many.updates()
    batched = many.feed_many(traffic())
    assert [(u.call.id, u.kind, u.state) for u in batched] == [(u.call.id, u.kind, u.state) for u in singles]
    assert len(batched) >= 4
    assert [c.to_dict() for c in many.ended] == [c.to_dict() for c in one.ended]
    assert many.feed_many([]) == []
    many.close()
    assert [(u.call.id, u.kind) async for u in stream] == [(u.call.id, u.kind) for u in batched]
