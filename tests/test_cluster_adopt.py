"""CallAdopter: the calls a vanished member left open, buffered across the takeover, answered and
ended from the new owner's raw events, published as the dead member's view. (End to end, with
real processes and the sink: the "kill -9 mid-call" phase of tests/test_cluster_monitor.py.)"""
from __future__ import annotations

import pytest

from lguapi.cluster.adopt import CallAdopter, OpenCall
from lguapi.events import ChannelListEvent, ChannelOutEvent, RingEvent

EXT = "3001"
CHAN = "SIP/3001-00000a1b"
TRUNK = "SIP/trunk-00000a1a"
UID = "1796473519.190"


def ringing_view(**kw) -> dict:
    d = {"id": UID, "exten": [EXT], "ring_at": 10.0, "answer_at": None, "end_at": None, "answered_by": None,
         "channels": [CHAN, TRUNK], "unique_ids": [UID], "state": "ringing", "missed": False, "direction": "inbound"}
    d.update(kw)
    return d


def answer(ts: float, chan: str = CHAN, uid: str = UID, trunk: str = TRUNK) -> ChannelListEvent:
    return ChannelListEvent(name="CHANNELLIST", raw="CHANNELLIST|…", exten=EXT, ts=ts, channel1=trunk, channel2=chan,
                            unique_id1=uid, unique_id2="1796473519.191")


def hangup(ts: float, chan: str = CHAN, uid: str = UID, trunk: str = TRUNK) -> ChannelOutEvent:
    return ChannelOutEvent(name="CHANNELOUT", raw="CHANNELOUT|…", exten=EXT, ts=ts, channel=chan,
                           remote_channel=trunk, unique_id="1796473519.191", src_unique_id=uid, hangup_cause=16)


@pytest.fixture
def sent():
    return []


@pytest.fixture
def adopter(sent):
    return CallAdopter(lambda msg, login_id: sent.append((msg, login_id)))


def test_events_during_the_takeover_are_replayed_into_the_adopted_call(adopter, sent):
    adopter.watch([EXT])
    adopter.on_event(answer(11.0))             # the handset answered while the taker was logging in
    adopter.on_event(RingEvent(name="RINGEVENT", raw="x", exten=EXT, ts=11.5))
    assert not sent
    adopter.adopt(EXT, "07012343001", "d", [OpenCall(ringing_view(), "dead")], up=True)
    assert [m["type"] for m, _ in sent] == ["call.answered"]
    msg, login_id = sent[0]
    assert login_id == "07012343001" and msg["view"] == "dead" and msg["data"]["answer_at"] == 11.0
    assert msg["data"]["answered_by"] == EXT and adopter.busy(EXT)

    adopter.on_event(hangup(12.0, chan=TRUNK))   # the other party's channel: the call goes on here
    assert adopter.busy(EXT) and len(sent) == 1
    adopter.on_event(hangup(15.0))               # the extension's own channel: over
    end = sent[-1][0]
    assert end["type"] == "call.ended" and end["view"] == "dead" and end["ts"] == 15.0
    assert end["data"]["end_reason"] == "hangup" and end["data"]["talk_seconds"] == 4.0
    assert end["data"]["ring_seconds"] == 1.0 and end["data"]["hangup_cause"] == 16
    assert not adopter.busy(EXT) and adopter.stats["ended"] == 1
    adopter.on_event(hangup(15.1))               # a repeat changes nothing
    assert len(sent) == 2


def test_a_call_the_server_says_is_over_is_closed_at_once_as_last_known(adopter, sent):
    adopter.watch([EXT])
    adopter.adopt(EXT, "07012343001", "d", [OpenCall(ringing_view(), "dead")], up=False)
    (msg, _), = sent
    assert msg["type"] == "call.ended" and msg["data"]["end_reason"] == "failover"
    assert msg["data"]["answer_at"] is None and adopter.stats["closed"] == 1 and not adopter.busy(EXT)


def test_an_unknown_status_keeps_following_and_a_logout_closes(adopter, sent):
    adopter.adopt(EXT, "07012343001", "d", [OpenCall(ringing_view(), "dead")], up=None)
    assert adopter.busy(EXT) and not sent
    other = {"chan": "SIP/3001-00000c3d", "uid": "other.1", "trunk": "SIP/trunk-00000c3c"}  # another call
    adopter.on_event(answer(20.0, **other))
    adopter.on_event(hangup(20.5, **other))
    assert adopter.busy(EXT) and not sent
    adopter.release(EXT, "handover")
    (msg, _), = sent
    assert msg["data"]["end_reason"] == "handover" and adopter.stats["released"] == 1


def test_the_buffer_is_bounded(sent):
    a = CallAdopter(lambda m, i: sent.append(m), max_buffered=2)
    a.watch([EXT])
    for t in (1.0, 2.0, 3.0):
        a.on_event(answer(t))
    a.adopt(EXT, "07012343001", None, [OpenCall(ringing_view(), "dead")], up=True)
    assert a.stats["dropped"] == 1 and sent[0]["data"]["answer_at"] == 2.0
    a.watch(["3002"])
    a.unwatch(["3002"])
    a.on_event(answer(4.0))                      # answered already: nothing new
    a.on_event(ChannelListEvent(name="CHANNELLIST", raw="x", exten="3002", ts=5.0, channel1="SIP/3002-1"))  # unwatched
    assert len(sent) == 1
    with pytest.raises(ValueError, match="max_buffered"):
        CallAdopter(lambda m, i: None, max_buffered=0)
