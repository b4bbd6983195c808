"""Call flows beyond manual §5 over real TCP: unanswered rings (16, 19), busy (17), rejected (21),
hold, blind and attended transfer, pickup, call forwarding, DTMF, CDREVENT, auto answer and
the pipe-form hang-up; each asserting the event texts that arrive and the PBX's history.
"""
from __future__ import annotations

import asyncio

from kit.text import fields, name_of
from kit.wait import until
from kit.pbx import only_call, phones, pbx_server, quiet

CALLER = "01098765432"


async def ring_in(c, **expect):
    ev = fields(await c.expect("RINGEVENT"))
    for k, v in expect.items():
        assert ev[k] == v, (k, ev)
    return ev


def history(emu):
    return emu.pbx.snapshot()["history"]


async def answered_inbound(emu, c):
    """An outside call to 3321 that ``c`` (3321's client) has answered: (call id, RINGEVENT, CHANNELLIST) fields."""
    call_id = emu.pbx.external_call(CALLER, "070xxxx0321")
    ring = await ring_in(c)
    emu.pbx.phone_answer("3321")
    return call_id, ring, fields(await c.expect("CHANNELLIST"))


# -- unanswered, busy, rejected ------------------------------------------------------------

async def test_caller_gives_up_while_ringing_both_sides_get_16():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        await ph["3322"].send("CMD CLICKCALL AGENT=3322 EXTEN=3321 CID= CONTEXT=")
        r21 = await ring_in(ph["3321"], ISDIAL="0", CALLERID="3322")
        r22 = await ring_in(ph["3322"], ISDIAL="1", CALLERID="3321")
        await ph["3322"].send("CMD HANGUP AGENT=3322 CHANNEL=")
        o22 = fields(await ph["3322"].recv())
        o21 = fields(await ph["3321"].recv())
        assert o22 == {"CHANNEL": r22["RECHANNEL"], "RECHANNEL": r22["RECHANNEL"], "UNIQUEID": r22["UNIQUEID"],
                       "SRCUNIQUEID": r22["UNIQUEID"], "HCAUSE": "16"}
        # the ring ends naming only the ringing channel and its own id
        assert o21["CHANNEL"] == o21["RECHANNEL"] == r21["CHANNEL"]
        assert o21["UNIQUEID"] == o21["SRCUNIQUEID"] != r21["UNIQUEID"]
        assert o21["HCAUSE"] == "16"
        cdr = fields(await ph["3321"].recv())
        assert cdr["DISPOSITION"] == "NO ANSWER" and cdr["BILLSEC"] == "0" and cdr["UNIQUEID"] == r21["UNIQUEID"]
        assert name_of(await ph["3322"].recv()) == "CDREVENT"
        (h,) = history(emu)
        assert (h["answered"], h["hangup_cause"], h["rang"], h["answered_by"]) == (False, 16, ["3321"], None)


async def test_inbound_caller_gives_up():
    async with pbx_server() as emu, phones(emu, "3321") as ph:
        call_id = emu.pbx.external_call(CALLER, "070xxxx0321")
        ring = await ring_in(ph["3321"], ISDIAL="0", CALLERID=CALLER, UNIQUEID=call_id)
        emu.pbx.external_hangup(call_id)
        out = fields(await ph["3321"].recv())
        assert (out["CHANNEL"], out["RECHANNEL"], out["HCAUSE"]) == (ring["CHANNEL"], ring["CHANNEL"], "16")
        assert fields(await ph["3321"].recv())["DISPOSITION"] == "NO ANSWER"
        assert emu.pbx.snapshot()["phones"]["3321"]["state"] == "idle"
        assert history(emu)[0]["hangup_cause"] == 16


async def test_no_answer_after_ring_timeout_is_19():
    async with pbx_server(ring_timeout=0.2) as emu, phones(emu, "3321", "3322") as ph:
        await ph["3322"].send("CMD CLICKCALL AGENT=3322 EXTEN=3321 CID= CONTEXT=")
        r21 = await ring_in(ph["3321"])
        await ring_in(ph["3322"])
        o21 = fields(await ph["3321"].recv(3))
        o22 = fields(await ph["3322"].recv(3))
        assert (o21["CHANNEL"], o21["HCAUSE"]) == (r21["CHANNEL"], "19")
        assert (o22["CHANNEL"], o22["HCAUSE"]) == (r21["RECHANNEL"], "19")
        (h,) = history(emu)
        assert (h["hangup_cause"], h["disposition"]) == (19, "NO ANSWER")


async def test_busy_target_gives_17_without_ringing():
    async with pbx_server() as emu, phones(emu, "3321", "3322", "3323") as ph:
        call_id = emu.pbx.external_call(CALLER, "3321")  # by extension
        await ring_in(ph["3321"])
        emu.pbx.phone_answer("3321")
        assert name_of(await ph["3321"].recv()) == "CHANNELLIST"
        # an internal caller gets its own CHANNELOUT with 17, the busy phone hears nothing
        await ph["3323"].send("CMD CLICKCALL AGENT=3323 EXTEN=3321 CID= CONTEXT=")
        out = fields(await ph["3323"].recv())
        assert out["HCAUSE"] == "17" and out["CHANNEL"] == out["RECHANNEL"]
        cdr = fields(await ph["3323"].recv())
        assert (cdr["DISPOSITION"], cdr["SRC"], cdr["DST"]) == ("BUSY", "3323", "3321")
        # an outside caller to the busy phone
        busy_id = emu.pbx.external_call(CALLER, "070xxxx0321")
        await quiet(ph["3321"])
        assert busy_id not in emu.pbx.calls
        h = {x["id"]: x for x in history(emu)}
        assert (h[busy_id]["hangup_cause"], h[busy_id]["disposition"], h[busy_id]["busy"]) == (17, "BUSY", ["3321"])
        emu.pbx.external_hangup(call_id)


async def test_ringing_phone_rejects_with_21():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        await ph["3322"].send("CMD CLICKCALL AGENT=3322 EXTEN=3321 CID= CONTEXT=")
        r21 = await ring_in(ph["3321"])
        await ring_in(ph["3322"])
        await ph["3321"].send(f"CMD HANGUP AGENT=3321 CHANNEL={r21['CHANNEL']}")
        o21 = fields(await ph["3321"].recv())
        o22 = fields(await ph["3322"].recv())
        assert (o21["CHANNEL"], o21["HCAUSE"], o22["HCAUSE"]) == (r21["CHANNEL"], "21", "21")
        assert history(emu)[0]["hangup_cause"] == 21


async def test_outside_number_declines_an_outbound_call():
    async with pbx_server() as emu, phones(emu, "3321") as ph:
        call_id = emu.pbx.phone_dial("3321", "0212345678")
        ring = await ring_in(ph["3321"], ISDIAL="1", CALLERID="0212345678", UNIQUEID=call_id)
        emu.pbx.external_hangup(call_id)
        out = fields(await ph["3321"].recv())
        assert (out["CHANNEL"], out["HCAUSE"]) == (ring["RECHANNEL"], "21")


async def test_auto_answer_of_outside_numbers():
    async with pbx_server(auto_answer=0.05) as emu, phones(emu, "3321") as ph:
        await ph["3321"].send("CMD CLICKCALL AGENT=3321 EXTEN=01012345678 CID=07099990000 CONTEXT=")
        ring = await ring_in(ph["3321"])
        cl = fields(await ph["3321"].recv(3))
        assert (cl["CHANNEL2"], cl["CALLER1ID"]) == (ring["CHANNEL"], "07099990000")  # CID shown to the far end
        assert emu.pbx.snapshot()["phones"]["3321"]["state"] == "talking"
        await ph["3321"].send("CMD HANGUP AGENT=3321 CHANNEL=")
        assert fields(await ph["3321"].recv())["HCAUSE"] == "16"


# -- hold, hang-up variants, DTMF ----------------------------------------------------------

async def test_hold_and_unhold():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        c = ph["3321"]
        await c.send("CMD HOLD AGENT=3321 CHANNEL=")
        assert await c.recv() == "CMDERROR|CMD:HOLD|MSG:no current call"
        await ph["3322"].send("CMD CLICKCALL AGENT=3322 EXTEN=3321 CID= CONTEXT=")
        await ring_in(c)
        await c.send("CMD ANSWER AGENT=3321 CHANNEL= CONTEXT= MYCHANNEL=")
        cl = fields(await c.recv())
        await c.send(f"CMD HOLD AGENT=3321 CHANNEL={cl['CHANNEL1']}")  # the other party's channel
        assert await c.recv() == "CMDRESULT|CMD:HOLD|RES:OK"
        snap = emu.pbx.snapshot()
        assert (snap["phones"]["3321"]["state"], snap["phones"]["3322"]["state"]) == ("held", "held")
        assert snap["calls"][0]["state"] == "held"
        await c.send("CMD HOLD AGENT=3321 CHANNEL=")
        assert await c.recv() == "CMDRESULT|CMD:HOLD|RES:ERR"
        await c.send(f"CMD UNHOLD AGENT=3321 CHANNEL={cl['CHANNEL2']}")
        assert await c.recv() == "CMDRESULT|CMD:UNHOLD|RES:OK"
        await c.send("CMD UNHOLD AGENT=3321 CHANNEL=")
        assert await c.recv() == "CMDRESULT|CMD:UNHOLD|RES:ERR"
        assert emu.pbx.snapshot()["phones"]["3321"]["state"] == "talking"
        await c.send("CMD HOLD AGENT=3321 CHANNEL=SIP/3321-deadbeef")
        assert await c.recv() == "CMDERROR|CMD:HOLD|MSG:unknown channel SIP/3321-deadbeef"
        # hanging up a held call ends it for both
        await c.send("CMD HOLD AGENT=3321 CHANNEL=")
        assert await c.recv() == "CMDRESULT|CMD:HOLD|RES:OK"
        emu.pbx.phone_hangup("3322")
        assert fields(await c.recv())["HCAUSE"] == "16"


async def test_hangup_of_the_other_party_and_the_pipe_form():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        c = ph["3321"]
        call_id, _, cl = await answered_inbound(emu, c)
        await c.send(f"CMD HANGUP AGENT=3321 CHANNEL={cl['CHANNEL1']}")  # HangUpDst: the trunk's channel
        out = fields(await c.recv())
        assert (out["CHANNEL"], out["RECHANNEL"], out["HCAUSE"]) == (cl["CHANNEL2"], cl["CHANNEL1"], "16")
        assert call_id not in emu.pbx.calls
        assert name_of(await c.recv()) == "CDREVENT"

        await ph["3322"].send("CMD CLICKCALL AGENT=3322 EXTEN=3321 CID= CONTEXT=")
        await ring_in(c)
        emu.pbx.phone_answer("3321")
        cl = fields(await c.recv())
        await c.send(f"CMD|HANGUP|{cl['CHANNEL2']}")  # SendSIPCommand
        assert await c.recv() == "CMDRESULT|CMD:HANGUP|RES:OK"
        assert fields(await c.recv())["CHANNEL"] == cl["CHANNEL2"]
        assert name_of(await c.recv()) == "CDREVENT"
        await c.send("CMD|HANGUP|SIP/3321-00000000")
        assert await c.recv() == "CMDERROR|CMD:HANGUP|MSG:unknown channel SIP/3321-00000000"
        await c.send("CMD HANGUP AGENT=3321 CHANNEL=")
        assert await c.recv() == "CMDERROR|CMD:HANGUP|MSG:no current call"


async def test_dtmf_events_per_digit_to_both_sides():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        emu.pbx.phone_dial("3322", "3321")
        await ring_in(ph["3321"])
        emu.pbx.phone_answer("3321")
        cl = fields(await ph["3321"].recv())
        await ph["3322"].recv()
        await ph["3322"].recv()
        emu.pbx.phone_dtmf("3322", "12#")
        for c in (ph["3322"], ph["3321"]):
            got = [await c.recv() for _ in range(3)]
            assert got == [f"DTMFEVENT|CHANNEL:{cl['CHANNEL1']}|UNIQUEID:{cl['UNIQUEID1']}|DIGIT:{d}" for d in "12#"]


# -- transfers -----------------------------------------------------------------------------

async def test_blind_transfer_rings_the_target_with_the_original_call():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        call_id, r21, cl = await answered_inbound(emu, ph["3321"])
        await ph["3321"].send(f"CMD TRANSFER AGENT=3321 CHANNEL={cl['CHANNEL1']} EXTEN=3322")
        out = fields(await ph["3321"].recv())
        assert out == {"CHANNEL": cl["CHANNEL2"], "RECHANNEL": cl["CHANNEL1"], "UNIQUEID": cl["UNIQUEID2"],
                       "SRCUNIQUEID": call_id, "HCAUSE": "16"}
        r22 = await ring_in(ph["3322"], ISDIAL="0", RECHANNEL=r21["RECHANNEL"], UNIQUEID=call_id, CALLERID=CALLER)
        await ph["3322"].send("CMD ANSWER AGENT=3322 CHANNEL= CONTEXT= MYCHANNEL=")
        cl2 = fields(await ph["3322"].recv())
        assert (cl2["CHANNEL1"], cl2["UNIQUEID1"], cl2["INEXTEN"], cl2["CALLER2ID"]) == (
            r21["RECHANNEL"], call_id, "070xxxx0321", "3322")
        assert cl2["CHANNEL2"] != r22["CHANNEL"]
        emu.pbx.external_hangup(call_id)
        out2 = fields(await ph["3322"].recv())
        assert (out2["CHANNEL"], out2["SRCUNIQUEID"]) == (cl2["CHANNEL2"], call_id)
        cdr21, cdr22 = await ph["3321"].recv(), await ph["3322"].recv()
        assert cdr21 == cdr22 and fields(cdr21)["UNIQUEID"] == call_id
        (h,) = history(emu)
        assert (h["id"], h["answered_by"], h["extensions"]) == (call_id, "3321", ["3321", "3322"])
        assert [(t["type"], t["by"], t["to"]) for t in h["transfers"]] == [("blind", "3321", "3322")]


async def test_blind_transfer_of_an_internal_caller_shows_it_the_new_ring():
    async with pbx_server() as emu, phones(emu, "3321", "3322", "3323") as ph:
        await ph["3322"].send("CMD CLICKCALL AGENT=3322 EXTEN=3321 CID= CONTEXT=")
        first = await ring_in(ph["3321"])
        await ring_in(ph["3322"])
        emu.pbx.phone_answer("3321")
        await ph["3321"].recv()
        await ph["3322"].recv()
        await ph["3321"].send("CMD TRANSFER AGENT=3321 CHANNEL= EXTEN=3323")
        assert fields(await ph["3321"].recv())["HCAUSE"] == "16"
        r23 = await ring_in(ph["3323"], CALLERID="3322", UNIQUEID=first["UNIQUEID"])
        r22 = await ring_in(ph["3322"], ISDIAL="1", CHANNEL=r23["CHANNEL"], CALLERID="3323")
        emu.pbx.phone_answer("3323")
        assert await ph["3323"].recv() == await ph["3322"].recv()
        await ph["3322"].send("CMD HANGUP AGENT=3322 CHANNEL=")
        o22 = fields(await ph["3322"].recv())
        assert o22["CHANNEL"] == o22["RECHANNEL"] == r22["RECHANNEL"]
        assert fields(await ph["3323"].recv())["RECHANNEL"] == r22["RECHANNEL"]


async def test_transfer_to_a_busy_extension_ends_the_call_with_17():
    async with pbx_server() as emu, phones(emu, "3321", "3322", "3323") as ph:
        emu.pbx.phone_dial("3323", "0299998888")
        call_id, _, _ = await answered_inbound(emu, ph["3321"])
        await ph["3321"].send("CMD TRANSFER AGENT=3321 CHANNEL= EXTEN=3323")
        assert fields(await ph["3321"].recv())["HCAUSE"] == "16"
        await until(lambda: call_id not in emu.pbx.calls)
        h = {x["id"]: x for x in history(emu)}[call_id]
        assert (h["hangup_cause"], h["busy"]) == (17, ["3323"])


async def test_attended_transfer_completed_after_the_target_answers():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        c21, c22 = ph["3321"], ph["3322"]
        call_id, _, cl = await answered_inbound(emu, c21)
        await c21.send(f"CMD ATXFER AGENT=3321 CHANNEL={cl['CHANNEL1']} EXTEN=3322")
        local = fields(await c21.recv())  # at once, no RINGEVENT
        half2 = local["CHANNEL2"]
        assert half2.startswith("Local/3322@xfercontext-") and half2.endswith(";2") and len(half2) == len("Local/3322@xfercontext-") + 10
        half1 = half2[:-1] + "1"
        assert (local["CHANNEL1"], local["CALLER1ID"], local["CALLER2ID"], local["INEXTEN"], local["UNIQUEID1"]) == (
            cl["CHANNEL2"], "3321", "3322", "null", cl["UNIQUEID2"])
        r22 = fields(await c22.recv())
        assert (r22["ISDIAL"], r22["RECHANNEL"], r22["ATXFER"], r22["CALLERID"]) == ("0", half1, "3321", "3321")
        assert list(r22) == ["ISDIAL", "CHANNEL", "RECHANNEL", "INEXTEN", "AGENT", "ATXFER", "CALLERID", "UNIQUEID"]
        snap = emu.pbx.snapshot()
        assert (snap["calls"][0]["state"], snap["phones"]["3321"]["state"], snap["phones"]["3322"]["state"]) == (
            "transferring", "talking", "ringing")
        await c22.send("CMD ANSWER AGENT=3322 CHANNEL= CONTEXT= MYCHANNEL=")
        consult = fields(await c22.recv())
        assert (consult["CHANNEL1"], consult["UNIQUEID1"], consult["CALLER1ID"], consult["CALLER2ID"]) == (
            half1, r22["UNIQUEID"], "3321", "3322")
        await quiet(c21)
        await c21.send("CMD HANGUP AGENT=3321 CHANNEL=")  # completes the transfer
        out = fields(await c21.recv())
        assert (out["CHANNEL"], out["HCAUSE"]) == (cl["CHANNEL2"], "16")
        joined = fields(await c22.recv())
        assert (joined["CHANNEL1"], joined["CHANNEL2"], joined["CALLER1ID"], joined["INEXTEN"], joined["UNIQUEID1"]) == (
            cl["CHANNEL1"], consult["CHANNEL2"], CALLER, "070xxxx0321", call_id)
        emu.pbx.external_hangup(call_id)
        out22 = fields(await c22.recv())
        assert (out22["CHANNEL"], out22["RECHANNEL"], out22["SRCUNIQUEID"]) == (consult["CHANNEL2"], cl["CHANNEL1"], call_id)
        assert fields(await c22.recv())["UNIQUEID"] == call_id  # CDREVENT of the one call
        (h,) = history(emu)
        assert h["id"] == call_id and h["extensions"] == ["3321", "3322"]
        assert [t["type"] for t in h["transfers"]] == ["attended"]
        assert half1 in [leg["channel"] for leg in h["legs"]]
        assert emu.pbx.channels == {}


async def test_attended_transfer_target_no_answer_returns_to_the_held_party():
    async with pbx_server(ring_timeout=0.2) as emu, phones(emu, "3321", "3322") as ph:
        c21, c22 = ph["3321"], ph["3322"]
        emu.pbx.external_call(CALLER, "070xxxx0321")
        await ring_in(c21)
        emu.pbx.phone_answer("3321")
        original = await c21.recv()
        await c21.send("CMD ATXFER AGENT=3321 CHANNEL= EXTEN=3322")
        assert "xfercontext" in await c21.recv()
        r22 = await ring_in(c22)
        out = fields(await c22.recv(3))
        assert (out["CHANNEL"], out["HCAUSE"]) == (r22["CHANNEL"], "19")
        assert await c21.recv(3) == original  # back with the caller
        assert emu.pbx.snapshot()["calls"][0]["state"] == "up"
        # a second attempt, now cancelled by hanging up the Local channel (HangUpDst)
        await c21.send("CMD ATXFER AGENT=3321 CHANNEL= EXTEN=3322")
        local = fields(await c21.recv())
        await ring_in(c22)
        await c21.send(f"CMD HANGUP AGENT=3321 CHANNEL={local['CHANNEL2']}")
        assert fields(await c22.recv())["HCAUSE"] == "16"
        assert await c21.recv() == original


async def test_attended_transfer_completed_while_the_target_rings():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        c21, c22 = ph["3321"], ph["3322"]
        call_id = emu.pbx.external_call(CALLER, "070xxxx0321")
        first = await ring_in(c21)
        emu.pbx.phone_answer("3321")
        await c21.recv()
        await c21.send("CMD ATXFERCID AGENT=3321 CHANNEL= EXTEN=3322 CID=07011112222")
        await c21.recv()
        r1 = await ring_in(c22, CALLERID="07011112222", ATXFER="3321")
        emu.pbx.phone_hangup("3321")
        assert fields(await c21.recv())["HCAUSE"] == "16"
        out = fields(await c22.recv())
        assert (out["CHANNEL"], out["HCAUSE"]) == (r1["CHANNEL"], "16")
        r2 = await ring_in(c22, RECHANNEL=first["RECHANNEL"], UNIQUEID=call_id, CALLERID=CALLER)
        assert "ATXFER" not in r2
        emu.pbx.phone_answer("3322")
        assert fields(await c22.recv())["UNIQUEID1"] == call_id
        emu.pbx.phone_hangup("3322")
        assert fields(await c22.recv())["HCAUSE"] == "16"
        (h,) = history(emu)
        assert (h["answered_by"], h["hangup_cause"]) == ("3321", 16)


async def test_the_held_party_hanging_up_ends_the_consultation_too():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        c21, c22 = ph["3321"], ph["3322"]
        call_id, _, _ = await answered_inbound(emu, c21)
        await c21.send("CMD ATXFER AGENT=3321 CHANNEL= EXTEN=3322")
        await c21.recv()
        await ring_in(c22)
        emu.pbx.external_hangup(call_id)
        assert fields(await c22.recv())["HCAUSE"] == "16"
        assert fields(await c21.recv())["HCAUSE"] == "16"
        assert emu.pbx.channels == {} and emu.pbx.calls == {}


# -- pickup --------------------------------------------------------------------------------

async def test_directed_pickup():
    async with pbx_server() as emu, phones(emu, "3321", "3324") as ph:
        call_id = emu.pbx.external_call(CALLER, "070xxxx0321")
        r21 = await ring_in(ph["3321"])
        await ph["3324"].send("CMD PICKUP AGENT=3324 EXTEN=3321")
        cl = fields(await ph["3324"].recv())
        assert (cl["CHANNEL1"], cl["CALLER1ID"], cl["CALLER2ID"], cl["INEXTEN"], cl["UNIQUEID1"]) == (
            r21["RECHANNEL"], CALLER, "3324", "070xxxx0321", call_id)
        assert cl["CHANNEL2"].startswith("SIP/3324-")
        out = fields(await ph["3321"].recv())
        assert (out["CHANNEL"], out["RECHANNEL"], out["HCAUSE"]) == (r21["CHANNEL"], r21["CHANNEL"], "16")
        await quiet(ph["3321"])
        emu.pbx.external_hangup(call_id)
        assert fields(await ph["3324"].recv())["CHANNEL"] == cl["CHANNEL2"]
        (h,) = history(emu)
        assert (h["answered_by"], h["rang"]) == ("3324", ["3321"])


async def test_group_pickup_and_its_errors():
    async with pbx_server() as emu, phones(emu, "3321", "3322", "3324") as ph:
        await ph["3322"].send("CMD PICKUP AGENT=3322 EXTEN=")
        assert await ph["3322"].recv() == "CMDERROR|CMD:PICKUP|MSG:nothing is ringing in pickup group sales"
        emu.pbx.external_call(CALLER, "070xxxx0321")
        await ring_in(ph["3321"])
        await ph["3324"].send("CMD PICKUP AGENT=3324 EXTEN=")  # another group
        assert await ph["3324"].recv() == "CMDERROR|CMD:PICKUP|MSG:nothing is ringing in pickup group support"
        await ph["3322"].send("CMD PICKUP AGENT=3322 EXTEN=")
        cl = fields(await ph["3322"].recv())
        assert cl["CALLER2ID"] == "3322"
        assert fields(await ph["3321"].recv())["HCAUSE"] == "16"
        await ph["3324"].send("CMD PICKUP AGENT=3324 EXTEN=9999")
        assert await ph["3324"].recv() == "CMDERROR|CMD:PICKUP|MSG:unknown extension 9999"


# -- call forwarding -----------------------------------------------------------------------

async def setforward(c, exten, use, typ="", number="", start="", end=""):
    await c.send(f"CMD SETFORWARD AGENT={exten} USE={use} TYPE={typ} NUMBER={number} START={start} END={end} ETC=")
    return await c.recv()


async def test_forward_unconditional_and_cancel():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        res = await setforward(ph["3321"], "3321", 1, 0, "3322", "2011091713", "2099123118")
        assert res == "CMDRESULT|CMD:SETFORWARD|RES:IFW userid:(3321)-(127.0.0.1)-(3322)"
        emu.pbx.external_call(CALLER, "070xxxx0321")
        r = await ring_in(ph["3322"], CALLERID=CALLER)
        emu.pbx.phone_answer("3322")
        assert fields(await ph["3322"].recv())["INEXTEN"] == "070xxxx0321"
        await quiet(ph["3321"])
        emu.pbx.phone_hangup("3322")
        assert fields(await ph["3322"].recv())["HCAUSE"] == "16"
        assert history(emu)[0]["forwards"] == [{"from": "3321", "to": "3322", "type": 0}]
        assert r["AGENT"] == "3322"
        assert await setforward(ph["3321"], "3321", 0) == "CMDRESULT|CMD:SETFORWARD|RES:DFW userid:(3321)-()"
        emu.pbx.external_call(CALLER, "070xxxx0321")
        await ring_in(ph["3321"])


async def test_forward_outside_its_time_window_is_not_used():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        await setforward(ph["3321"], "3321", 1, 0, "3322", "2098010100", "2099010100")
        emu.pbx.external_call(CALLER, "070xxxx0321")
        await ring_in(ph["3321"])
        await quiet(ph["3322"])


async def test_forward_on_no_answer():
    async with pbx_server(ring_timeout=0.2) as emu, phones(emu, "3321", "3322") as ph:
        await setforward(ph["3321"], "3321", 1, 1, "3322")
        call_id = emu.pbx.external_call(CALLER, "070xxxx0321")
        r21 = await ring_in(ph["3321"])
        out = fields(await ph["3321"].recv(3))
        assert (out["CHANNEL"], out["HCAUSE"]) == (r21["CHANNEL"], "19")
        await ring_in(ph["3322"], UNIQUEID=call_id, CALLERID=CALLER)
        emu.pbx.phone_answer("3322")
        assert fields(await ph["3322"].recv())["UNIQUEID1"] == call_id
        emu.pbx.external_hangup(call_id)
        (h,) = history(emu)
        assert (h["answered_by"], h["rang"]) == ("3322", ["3321", "3322"])


async def test_forward_when_busy():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        await setforward(ph["3321"], "3321", 1, 2, "3322")
        emu.pbx.phone_dial("3321", "0211112222")
        await ring_in(ph["3321"])
        emu.pbx.external_call(CALLER, "070xxxx0321")
        await ring_in(ph["3322"], CALLERID=CALLER)
        await quiet(ph["3321"])


async def test_forward_simultaneous_ring_to_an_extension_and_outside():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        await setforward(ph["3321"], "3321", 1, 3, "3322")
        call_id = emu.pbx.external_call(CALLER, "070xxxx0321")
        r21 = await ring_in(ph["3321"])
        await ring_in(ph["3322"])
        emu.pbx.phone_answer("3322")
        assert fields(await ph["3322"].recv())["CALLER2ID"] == "3322"
        out = fields(await ph["3321"].recv())
        assert (out["CHANNEL"], out["HCAUSE"]) == (r21["CHANNEL"], "16")
        emu.pbx.external_hangup(call_id)
        # to an outside number: the trunk rings too and answers on its own channel
        await setforward(ph["3322"], "3322", 1, 3, "01055556666")
        call_id = emu.pbx.external_call(CALLER, "070xxxx0322")
        await ring_in(ph["3322"])
        emu.pbx.external_answer(call_id)
        assert fields(await ph["3322"].expect("CHANNELOUT"))["HCAUSE"] == "16"
        (live,) = emu.pbx.snapshot()["calls"]
        assert [leg["number"] for leg in live["legs"]] == [CALLER, "01055556666"]
        emu.pbx.external_hangup(call_id)
        assert emu.pbx.calls == {}


async def test_setforward_errors():
    async with pbx_server() as emu, phones(emu, "3321") as ph:
        c = ph["3321"]
        for args, msg in [
            ("USE=2", "malformed argument USE (expected one of 0, 1)"),
            ("USE=1 TYPE=4 NUMBER=3322", "malformed argument TYPE (expected one of 0, 1, 2, 3)"),
            ("USE=1 TYPE=0 NUMBER=", "missing argument NUMBER"),
            ("USE=1 TYPE=0 NUMBER=3321", "cannot forward to the own extension"),
            ("USE=1 TYPE=0 NUMBER=3322 START=2011", "malformed argument START (expected YYYYMMDD[HH[MM[SS]]])"),
            ("USE=1 TYPE=0 NUMBER=3322 START=2012010100 END=2011010100", "END is before START"),
        ]:
            await c.send(f"CMD SETFORWARD AGENT=3321 {args}")
            assert await c.recv() == f"CMDERROR|CMD:SETFORWARD|MSG:{msg}"
        assert emu.pbx.forwards == {}


# -- overlapping calls ---------------------------------------------------------------------

async def test_overlapping_calls_on_several_extensions_stay_apart():
    async with pbx_server() as emu, phones(emu, "3321", "3322", "3323") as ph:
        a = emu.pbx.external_call("0311111111", "070xxxx0321")
        b = emu.pbx.external_call("0322222222", "070xxxx0322")
        await ph["3323"].send("CMD CLICKCALL AGENT=3323 EXTEN=0533333333 CID= CONTEXT=")
        ra, rb = await ring_in(ph["3321"]), await ring_in(ph["3322"])
        rc = await ring_in(ph["3323"], ISDIAL="1")
        assert len({ra["UNIQUEID"], rb["UNIQUEID"], rc["UNIQUEID"]}) == 3
        emu.pbx.phone_answer("3322")
        emu.pbx.phone_answer("3321")
        c = only_call_of(emu, "3323")
        emu.pbx.external_answer(c)
        assert fields(await ph["3321"].recv())["UNIQUEID1"] == a
        assert fields(await ph["3322"].recv())["UNIQUEID1"] == b
        assert fields(await ph["3323"].recv())["UNIQUEID1"] == c
        for e in ("3321", "3322", "3323"):
            emu.pbx.phone_hangup(e)
        await asyncio.sleep(0)
        assert sorted(h["id"] for h in history(emu)) == sorted([a, b, c])
        assert {h["id"]: h["answered_by"] for h in history(emu)} == {a: "3321", b: "3322", c: None}


def only_call_of(emu, exten):
    (cid,) = emu.pbx.snapshot()["phones"][exten]["calls"]
    return cid


async def test_only_call_helper_sees_one_call():
    async with pbx_server() as emu:
        call_id = emu.pbx.phone_dial("3321", "3322")
        assert only_call(emu) == call_id
