"""The Pbx object on its own (no sockets): the outside world's methods and their errors, the
snapshot, timers, a failing ``deliver``, bounds, and the split-result builder."""
from __future__ import annotations

import asyncio
import json
import logging

import pytest

from lguapi.server import Directory
from lguapi.server.pbx import COMMANDS, PbxCommandError, Pbx
from lguapi.server.pbx_model import Forward
from lguapi.server.pbx_text import split_result
from kit.pbx import USERS, DeliveryLog, Script
from kit.wait import until


def make(**kw) -> tuple[Pbx, DeliveryLog]:
    rec = DeliveryLog()
    return Pbx(Directory(USERS), deliver=rec, rng=Script(), **kw), rec


def test_every_command_of_the_protocol_is_known():
    expected = {"CLICKCALL", "ANSWER", "HOLD", "UNHOLD", "PICKUP", "HANGUP", "MONITOR", "TRANSFER", "ATXFER",
                "ATXFERCID", "REDIRECTCONF", "INVITECONF", "JOINCONF", "CALLWITHCONF", "SENDSMS", "SENDPEERMSG",
                "SETFORWARD", "GETPEERINFO", "GETCALLHISTORY", "GETSTATUSPEERS", "GETRECVSMSLIST", "GETVARINFO",
                "GETQSTATUS", "GETRECORDLIST", "GETLISTCONFMEMBER", "REMOVECONF", "MAGADDRLIST", "SETUSERINFO"}
    assert set(COMMANDS) == expected
    pbx, _ = make()
    with pytest.raises(PbxCommandError) as e:
        pbx.command(USERS[0], "LOGIN", {}, [], lambda t: None)
    assert e.value.reason == "unknown command LOGIN"


def test_outside_world_errors_are_clear():
    pbx, rec = make()
    with pytest.raises(KeyError, match="07000000000"):
        pbx.external_call("01012345678", "07000000000")
    with pytest.raises(ValueError, match="caller's number"):
        pbx.external_call("not a number", "3321")
    with pytest.raises(KeyError, match="no call"):
        pbx.external_answer("1.1")
    with pytest.raises(KeyError, match="unknown extension"):
        pbx.phone_answer("9999")
    with pytest.raises(ValueError, match="nothing is ringing at 3321"):
        pbx.phone_answer("3321")
    with pytest.raises(ValueError, match="3321 has no call"):
        pbx.phone_hangup("3321")
    with pytest.raises(ValueError, match="no connected call"):
        pbx.phone_dtmf("3321", "1")
    with pytest.raises(ValueError, match="digits"):
        pbx.phone_dtmf("3321", "1x")
    with pytest.raises(ValueError, match="cannot call itself"):
        pbx.phone_dial("3321", "070xxxx0321")
    with pytest.raises(ValueError, match="must not be empty"):
        pbx.inbound_sms("010", "3321", "")
    with pytest.raises(ValueError, match="at most"):
        pbx.inbound_sms("010", "3321", "a|b")
    call_id = pbx.external_call("01012345678", "3321")
    with pytest.raises(ValueError, match="no outside number ringing"):
        pbx.external_answer(call_id)  # the outside party is the caller here
    pbx.phone_dial("3322", "3323")
    with pytest.raises(ValueError, match="3322 is busy"):
        pbx.phone_dial("3322", "3324")
    assert rec.events  # nothing above lost what happened before


def test_snapshot_is_json_and_tells_phones_channels_calls():
    pbx, rec = make()
    a = pbx.external_call("01012345678", "070xxxx0321")
    pbx.phone_answer("3321")
    pbx.phone_dial("3322", "3323")
    pbx.forwards["3324"] = Forward(2, "3321")
    snap = json.loads(json.dumps(pbx.snapshot()))
    assert {e: p["state"] for e, p in snap["phones"].items()} == {
        "3321": "talking", "3322": "ringing", "3323": "ringing", "3324": "idle", "101t4004": "idle"}
    assert snap["phones"]["3321"]["calls"] == [a]
    assert sorted(ch["exten"] or "trunk" for ch in snap["channels"]) == ["3321", "3322", "3323", "trunk"]
    calls = {c["id"]: c for c in snap["calls"]}
    assert calls[a]["state"] == "up" and calls[a]["inexten"] == "070xxxx0321" and calls[a]["answered_by"] == "3321"
    assert snap["forwards"] == {"3324": {"type": 2, "number": "3321", "start": "", "end": ""}}
    assert snap["history"] == []


def test_without_an_event_loop_timers_are_off_and_with_one_they_fire():
    pbx, rec = make(ring_timeout=0.01, auto_answer=0.01)
    pbx.phone_dial("3322", "3321")  # no running loop: the ring stays
    assert pbx.phone_state("3321") == "ringing"

    async def main():
        p2, rec2 = make(ring_timeout=0.05, auto_answer=0.01)
        p2.phone_dial("3322", "3321")
        p2.phone_dial("3323", "01012345678")
        await until(lambda: p2.phone_state("3321") == "idle" and p2.phone_state("3323") == "talking",
                    "the ring timeout and the auto answer to fire")
        assert "CHANNELLIST" in rec2.names("3323")
        p2.close()
    asyncio.run(main())


async def test_close_cancels_timers():
    pbx, rec = make(ring_timeout=0.05)
    pbx.phone_dial("3322", "3321")
    pbx.close()
    await asyncio.sleep(0.15)  # three ring timeouts later: nothing fired
    assert pbx.phone_state("3321") == "ringing"
    pbx.phone_hangup("3322")
    assert pbx.calls == {}


def test_a_failing_deliver_is_logged_and_the_pbx_stays_consistent(caplog):
    def deliver(exten, text):
        if exten == "3321":
            raise RuntimeError("session broke")
    pbx = Pbx(Directory(USERS), deliver=deliver)
    with caplog.at_level(logging.ERROR, logger="lguapi.server.pbx"):
        call_id = pbx.external_call("01012345678", "3321")
        pbx.phone_answer("3321")
        pbx.external_hangup(call_id)
    assert "deliver of a RINGEVENT event failed" in caplog.text
    assert "01012345678" not in caplog.text  # no phone numbers in the log
    assert pbx.calls == {} and pbx.channels == {} and len(pbx.history) == 1


def test_history_is_bounded():
    pbx, _ = make(history_limit=3)
    ids = []
    for _ in range(5):
        ids.append(pbx.phone_dial("3321", "3322"))
        pbx.phone_hangup("3321")
    assert [h["id"] for h in pbx.snapshot()["history"]] == ids[-3:]


def test_unique_ids_come_from_one_global_sequence():
    pbx, rec = make()
    pbx.sequence = 100
    a = pbx.external_call("01012345678", "3321")
    b = pbx.phone_dial("3322", "3323")
    assert [i.split(".")[1] for i in (a, b)] == ["101", "103"]
    pbx.phone_answer("3323")
    assert pbx.snapshot()["phones"]["3323"]["uniqueid"].endswith(".105")


def test_split_result_pieces():
    assert split_result("X", [], 100) == ["CMDRESULT|CMD:X|RES:", "CMDRESULTEND|CMD:X"]
    rows = [f"row{i:02d}" for i in range(10)]
    pieces = split_result("X", rows, 40)
    assert pieces[-1] == "CMDRESULTEND|CMD:X"
    assert all(p.endswith("\n") for p in pieces[:-2]) and not pieces[-2].endswith("\n")
    assert all(len(p) <= 40 for p in pieces[:-1])
    assert "".join(p[len("CMDRESULT|CMD:X|RES:"):] for p in pieces[:-1]).split("\n") == rows
    long = split_result("X", ["y" * 100, "z"], 40)  # a row over the bound travels alone
    assert long[:2] == ["CMDRESULT|CMD:X|RES:" + "y" * 100 + "\n", "CMDRESULT|CMD:X|RES:z"]


def test_forward_windows():
    fw = Forward(0, "3322", "20110917130000", "20110921189999")
    assert not fw.active("20110917125959")
    assert fw.active("20110917130000") and fw.active("20110921185959")
    assert not fw.active("20110921190000")


def test_constructor_limits():
    for kw in ({"ring_timeout": -1}, {"auto_answer": -1}, {"max_plain": 10}, {"history_limit": 0}):
        with pytest.raises(ValueError):
            Pbx(Directory(USERS), deliver=lambda e, t: None, **kw)


# -- a random walk through everything: the model never breaks its own invariants -----------

def _walk(seed: int, steps: int) -> Pbx:
    import random
    rnd = random.Random(seed)
    pbx, rec = make()
    pbx.rng = random.Random(seed)
    extens = [u.exten for u in USERS]

    def cmd(user, name, **args):
        pbx.command(user, name, args, [], lambda text: None)

    for i in range(steps):
        op = rnd.randrange(20)
        e, f = rnd.choice(extens), rnd.choice(extens)
        user = pbx.directory.by_exten(e)
        calls = list(pbx.calls)
        try:
            if op == 0:
                pbx.external_call(f"010{rnd.randrange(10 ** 8):08d}", rnd.choice([e, user.callerid]))
            elif op == 1 and calls:
                pbx.external_answer(rnd.choice(calls))
            elif op == 2 and calls:
                pbx.external_hangup(rnd.choice(calls))
            elif op == 3:
                pbx.phone_answer(e)
            elif op == 4:
                pbx.phone_hangup(e)
            elif op == 5:
                pbx.phone_dial(e, rnd.choice([f, "0212345678"]))
            elif op == 6:
                pbx.phone_dtmf(e, "1")
            elif op == 7:
                cmd(user, rnd.choice(["HOLD", "UNHOLD"]), CHANNEL="")
            elif op == 8:
                cmd(user, "TRANSFER", CHANNEL="", EXTEN=rnd.choice([f, "0299998888"]))
            elif op == 9:
                cmd(user, "ATXFER", CHANNEL="", EXTEN=f)
            elif op == 10:
                cmd(user, "PICKUP", EXTEN=rnd.choice([f, ""]))
            elif op == 11:
                cmd(user, "REDIRECTCONF", ROOM=rnd.choice(["r1", "r2"]))
            elif op == 12:
                cmd(user, "INVITECONF", ROOM=rnd.choice(["r1", "r2"]), PEERS=f)
            elif op == 13:
                cmd(user, "CALLWITHCONF", ROOM=rnd.choice(["r1", "r2"]), PEERS=f + ",01011112222")
            elif op == 14 and pbx.channels:
                cmd(user, "HANGUP", CHANNEL=rnd.choice(list(pbx.channels)))
            elif op == 15:
                cmd(user, "SETFORWARD", USE=str(rnd.randrange(2)), TYPE=str(rnd.randrange(4)),
                    NUMBER=rnd.choice([f, "01099990000"]))
            elif op == 16:
                cmd(user, "MONITOR", CHANNEL="", ACT=rnd.choice(["START", "STOP"]))
            elif op == 17:
                cmd(user, "JOINCONF", ROOM=rnd.choice(["r1", "r2"]))
            elif op == 18:
                ringing = [leg for leg in pbx.channels.values() if leg.state == "ring" and leg.kind == "phone"]
                if ringing:
                    pbx.core.ring_timed_out(rnd.choice(ringing))  # what the timer would do
            elif op == 19:
                conf = pbx.room(user.domain, rnd.choice(["r1", "r2"]))
                if conf is not None and conf.members:
                    cmd(user, "REMOVECONF", ROOM=conf.room, CHANNELS=rnd.choice(conf.members).name)
        except (PbxCommandError, KeyError, ValueError):
            pass
        for name, leg in pbx.channels.items():
            assert leg.state != "gone" and name in (leg.name, leg.alias)
            top = leg.call.parent or leg.call
            assert pbx.calls.get(top.id) is top, (leg, top)
        for exten, legs in pbx.phones.items():
            assert legs and all(leg.exten == exten and leg.state != "gone" for leg in legs)
        if i % 250 == 0:
            json.dumps(pbx.snapshot())
    for _ in range(20):  # everyone hangs up
        for e in extens:
            try:
                pbx.phone_hangup(e)
            except ValueError:
                pass
        for call_id in list(pbx.calls):
            try:
                pbx.external_hangup(call_id)
            except ValueError:
                pass
    return pbx


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_walk_keeps_the_model_consistent(seed):
    pbx = _walk(seed, 2000)
    assert pbx.channels == {} and pbx.calls == {} and pbx.rooms == {} and pbx.phones == {}
    history = pbx.snapshot()["history"]
    assert len(history) > 100
    assert len({h["id"] for h in history}) == len(history)
    for h in history:
        assert h["state"] == "ended" and h["end"] >= h["start"]
        assert h["hangup_cause"] in (16, 17, 19, 21)
        assert h["answered"] == (h["answer"] is not None)
