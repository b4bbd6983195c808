"""Conferences over real TCP (manual §3.14–3.17): REDIRECTCONF, INVITECONF, JOINCONF,
CALLWITHCONF, REMOVECONF, GETLISTCONFMEMBER, and the CONFERENCEEVENT texts and counts."""
from __future__ import annotations

from kit.text import fields, name_of
from kit.pbx import phones, pbx_server, quiet

CALLER = "01098765432"


def conf_event(add: bool, room: str, channel: str, uid: str, count: int, member: str) -> str:
    return (f"CONFERENCEEVENT|CMD:{'CONFMEMBERADD' if add else 'CONFMEMBERDEL'}|CONFNAME:{room}|CHANNEL:{channel}"
            f"|UNIQUEID:{uid}|COUNT:{count}|MEMBER:{member}")


async def test_redirect_invite_remove_and_leave():
    async with pbx_server() as emu, phones(emu, "3321", "3322", "3323") as ph:
        c21, c22 = ph["3321"], ph["3322"]
        call_id = emu.pbx.external_call(CALLER, "070xxxx0321")
        await c21.expect("RINGEVENT")
        emu.pbx.phone_answer("3321")
        cl = fields(await c21.recv())
        await c21.send("CMD INVITECONF AGENT=3321 ROOM=7001 PEERS=3322")
        assert await c21.recv() == "CMDERROR|CMD:INVITECONF|MSG:no conference 7001 (INVITECONF comes after REDIRECTCONF)"
        await c21.send(f"CMD REDIRECTCONF AGENT=3321 ROOM=7001 CHANNEL={cl['CHANNEL2']} DSTCHANNEL={cl['CHANNEL1']}")
        assert await c21.recv() == conf_event(True, "7001", cl["CHANNEL2"], cl["UNIQUEID2"], 1, "3321")
        assert await c21.recv() == conf_event(True, "7001", cl["CHANNEL1"], cl["UNIQUEID1"], 2, CALLER)
        await c21.send("CMD GETSTATUSPEERS AGENT=3321 PEERS=3321 ROOM=")
        assert await c21.recv() == "CMDRESULT|CMD:GETSTATUSPEERS|3321:Up:MeetMe(7001)"

        await c21.send("CMD INVITECONF AGENT=3321 ROOM=7001 PEERS=3322,7777")
        assert await c21.recv() == "CMDERROR|CMD:INVITECONF|MSG:unknown extension 7777 (only extensions can be invited)"
        await ph["3323"].send("CMD INVITECONF AGENT=3323 ROOM=7001 PEERS=3322")
        assert await ph["3323"].recv() == "CMDERROR|CMD:INVITECONF|MSG:3323 is not in conference 7001"
        await c21.send("CMD INVITECONF AGENT=3321 ROOM=7001 PEERS=3322")
        ring = fields(await c22.recv())
        assert (ring["ISDIAL"], ring["RECHANNEL"], ring["CALLERID"], ring["AGENT"]) == ("0", ring["CHANNEL"], "3321", "3322")
        await c22.send("CMD ANSWER AGENT=3322 CHANNEL= CONTEXT= MYCHANNEL=")
        add3 = conf_event(True, "7001", ring["CHANNEL"], ring["UNIQUEID"], 3, "3322")
        assert await c21.recv() == add3
        assert await c22.recv() == add3
        await c21.send("CMD GETLISTCONFMEMBER AGENT=3321 ROOM=7001")
        assert await c21.recv() == (f"CMDRESULT|CMD:GETLISTCONFMEMBER|3321:{cl['CHANNEL2']}|{CALLER}:{cl['CHANNEL1']}"
                                    f"|3322:{ring['CHANNEL']}")
        assert emu.pbx.snapshot()["phones"]["3322"]["state"] == "talking"

        await c21.send(f"CMD REMOVECONF AGENT=3321 ROOM=7001 CHANNELS={ring['CHANNEL']}")
        del3 = conf_event(False, "7001", ring["CHANNEL"], ring["UNIQUEID"], 2, "3322")
        assert await c21.recv() == del3
        assert await c22.recv() == del3
        out = fields(await c22.recv())
        assert (out["CHANNEL"], out["RECHANNEL"], out["HCAUSE"]) == (ring["CHANNEL"], ring["CHANNEL"], "16")
        await c21.send("CMD REMOVECONF AGENT=3321 ROOM=7001 CHANNELS=SIP/3322-00000000")
        assert await c21.recv() == "CMDERROR|CMD:REMOVECONF|MSG:channel SIP/3322-00000000 is not in conference 7001"

        emu.pbx.phone_hangup("3321")
        assert await c21.recv() == conf_event(False, "7001", cl["CHANNEL2"], cl["UNIQUEID2"], 1, "3321")
        assert fields(await c21.recv())["CHANNEL"] == cl["CHANNEL2"]
        await quiet(c21)
        assert call_id in emu.pbx.calls  # the caller is still in the room
        emu.pbx.external_hangup(call_id)
        cdr = fields(await c21.recv())
        assert (cdr["UNIQUEID"], cdr["DISPOSITION"]) == (call_id, "ANSWERED")
        assert name_of(await c22.expect("CDREVENT")) == "CDREVENT"
        assert emu.pbx.rooms == {} and emu.pbx.calls == {}
        (h,) = emu.pbx.snapshot()["history"]
        assert (h["id"], h["conference"], h["extensions"], h["answered_by"]) == (call_id, "7001", ["3321", "3322"], "3321")


async def test_call_with_conference_join_and_unanswered_invites():
    async with pbx_server(ring_timeout=0.3) as emu, phones(emu, "3321", "3322", "3323", "3324") as ph:
        c21 = ph["3321"]
        await c21.send("CMD CALLWITHCONF AGENT=3321 ROOM=3321 PEERS=3322,01012345678,3324")
        add1 = fields(await c21.recv())
        assert (add1["CMD"], add1["CONFNAME"], add1["COUNT"], add1["MEMBER"]) == ("CONFMEMBERADD", "3321", "1", "3321")
        call_id = add1["UNIQUEID"]
        r22 = fields(await ph["3322"].recv())
        r24 = fields(await ph["3324"].recv())
        assert (r22["CALLERID"], r24["CALLERID"]) == ("3321", "3321")
        emu.pbx.external_answer(call_id)
        add2 = fields(await c21.recv())
        assert (add2["COUNT"], add2["MEMBER"]) == ("2", "01012345678") and add2["CHANNEL"].startswith("SIP/gw2.eicn-")
        emu.pbx.phone_answer("3322")
        assert fields(await c21.recv())["COUNT"] == "3"
        assert fields(await ph["3322"].recv())["MEMBER"] == "3322"
        # 3324 does not answer: its ring ends with 19
        out = fields(await ph["3324"].recv(3))
        assert (out["CHANNEL"], out["HCAUSE"]) == (r24["CHANNEL"], "19")

        # JOINCONF: another connected call moves into the existing room
        await ph["3323"].send("CMD JOINCONF AGENT=3323 ROOM=3321")
        assert await ph["3323"].recv() == "CMDERROR|CMD:JOINCONF|MSG:no current call"
        emu.pbx.phone_dial("3323", "3324")
        await ph["3324"].expect("RINGEVENT")
        emu.pbx.phone_answer("3324")
        await ph["3323"].expect("CHANNELLIST")
        await ph["3324"].expect("CHANNELLIST")
        await ph["3323"].send("CMD JOINCONF AGENT=3323 ROOM=9999")
        assert await ph["3323"].recv() == "CMDERROR|CMD:JOINCONF|MSG:no conference 9999"
        await ph["3323"].send("CMD JOINCONF AGENT=3323 ROOM=3321")
        adds = [fields(await ph["3323"].recv()) for _ in range(2)]
        assert [(a["COUNT"], a["MEMBER"]) for a in adds] == [("4", "3323"), ("5", "3324")]
        assert [fields(await c21.recv())["COUNT"] for _ in range(2)] == ["4", "5"]
        await c21.send("CMD CALLWITHCONF AGENT=3321 ROOM=3321 PEERS=3322")
        assert await c21.recv() == "CMDERROR|CMD:CALLWITHCONF|MSG:3321 is busy"

        for e in ("3321", "3322", "3323", "3324"):
            emu.pbx.phone_hangup(e)
        assert (await ph["3324"].expect("CDREVENT")).startswith("CDREVENT|")
        assert len(emu.pbx.rooms) == 1  # the outside member is still there
        emu.pbx.external_hangup(call_id)
        assert emu.pbx.rooms == {} and emu.pbx.calls == {} and emu.pbx.channels == {}
        hist = {h["id"]: h for h in emu.pbx.snapshot()["history"]}
        assert hist[call_id]["direction"] == "outbound" and hist[call_id]["conference"] == "3321"
        assert hist[call_id]["rang"] == ["3322", "3324"] and hist[call_id]["answered_by"] == "3322"
        assert len(hist) == 2  # the CALLWITHCONF call and 3323's call that joined


async def test_room_closing_cancels_pending_invitations():
    async with pbx_server() as emu, phones(emu, "3321", "3322", "3323") as ph:
        emu.pbx.phone_dial("3321", "3322")
        await ph["3322"].expect("RINGEVENT")
        emu.pbx.phone_answer("3322")
        await ph["3321"].expect("CHANNELLIST")
        await ph["3321"].send("CMD REDIRECTCONF AGENT=3321 ROOM=r1 CHANNEL= DSTCHANNEL=")
        await ph["3321"].recv()
        await ph["3321"].recv()
        await ph["3321"].send("CMD INVITECONF AGENT=3321 ROOM=r1 PEERS=3323")
        ring = fields(await ph["3323"].recv())
        emu.pbx.phone_hangup("3321")
        emu.pbx.phone_hangup("3322")
        out = fields(await ph["3323"].recv())
        assert (out["CHANNEL"], out["HCAUSE"]) == (ring["CHANNEL"], "16")
        assert emu.pbx.rooms == {} and emu.pbx.calls == {}
        await ph["3321"].send("CMD GETLISTCONFMEMBER AGENT=3321 ROOM=r1")
        assert await ph["3321"].expect("CMDRESULT") == "CMDRESULT|CMD:GETLISTCONFMEMBER"
