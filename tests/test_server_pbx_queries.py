"""Messages, settings and lookups over real TCP: SENDSMS, inbound SMS, SENDPEERMSG, GETPEERINFO,
GETSTATUSPEERS, GETCALLHISTORY / GETRECVSMSLIST / GETRECORDLIST as split results with
CMDRESULTEND, MONITOR, GETQSTATUS, GETVARINFO, SETUSERINFO, MAGADDRLIST, and CMDERROR answers."""
from __future__ import annotations

import base64
import time

import pytest

from kit.clock import Clock
from kit.text import fields
from kit.pbx import login, phones, pbx_server

CALLER = "01098765432"


def when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


async def split_result(c, name: str) -> tuple[list[str], list[str]]:
    """The pieces of a split result up to CMDRESULTEND, and the rows they carry (other events skipped)."""
    pieces = []
    while True:
        text = await c.recv()
        if text == f"CMDRESULTEND|CMD:{name}":
            break
        if text.startswith("CMDRESULT|"):
            pieces.append(text)
    head = f"CMDRESULT|CMD:{name}|RES:"
    for p in pieces[:-1]:
        assert p.startswith(head) and p.endswith("\n") and not p.endswith("\n\n"), p
    assert pieces[-1].startswith(head) and not pieces[-1].endswith("\n")
    res = "".join(p[len(head):] for p in pieces)
    return pieces, (res.split("\n") if res else [])


# -- SMS and peer messages -----------------------------------------------------------------

async def test_send_sms_per_peer_results_and_delivery_to_own_numbers():
    async with pbx_server() as emu, phones(emu, "3321", "3323", cipher="seed") as ph:
        c = ph["3321"]
        await c.send("CMD SENDSMS AGENT=3321 TYPE=0 INFO= PEERS=01012345678,07012343323,12ab MSG=우리는 민족 a=b")
        assert await c.recv() == ("CMDRESULT|CMD:SENDSMS|01012345678:RES:sms Send SUCCESS(01012345678)"
                                  "|07012343323:RES:sms Send SUCCESS(07012343323)|12ab:RES:sms Send FAIL(12ab)")
        assert await ph["3323"].recv() == "RECVSMS|FROM:070xxxx0321|MESSAGE:우리는 민족 a=b|SMSTO:07012343323"
        await c.send("CMD SENDSMS AGENT=3321 TYPE=1 INFO=20991231235959 PEERS=01012345678 MSG=later")
        assert await c.recv() == "CMDRESULT|CMD:SENDSMS|01012345678:RES:sms Reserve SUCCESS(01012345678)"
        assert [s["to"] for s in emu.pbx.sent_sms] == ["01012345678", "07012343323", "01012345678"]
        for text, msg in [
            ("CMD SENDSMS AGENT=3321 TYPE=1 INFO= PEERS=010 MSG=x",
             "malformed argument INFO (TYPE=1 reserves for INFO=YYYYMMDDHHMMSS)"),
            ("CMD SENDSMS AGENT=3321 TYPE=0 INFO= PEERS= MSG=x", "missing argument PEERS"),
            ("CMD SENDSMS AGENT=3321 TYPE=0 INFO= PEERS=01012345678 MSG=", "missing argument MSG"),
            ("CMD SENDSMS AGENT=3321 TYPE=0 INFO= PEERS=01012345678 MSG=" + "x" * 201, "MSG is longer than 200 characters"),
            ("CMD SENDSMS AGENT=3321 TYPE=0 INFO= PEERS=01012345678 MSG=a|b",
             "MSG must not contain a pipe, CR or LF (write line breaks as @@)"),
        ]:
            await c.send(text)
            assert await c.recv() == f"CMDERROR|CMD:SENDSMS|MSG:{msg}"


async def test_inbound_sms_and_the_received_list_in_pages():
    clock = Clock(1415076786.0)
    async with pbx_server(clock=clock) as emu, phones(emu, "3321") as ph:
        c = ph["3321"]
        emu.pbx.inbound_sms("010xxxx0850", "070xxxx0321", "테스트 123acvh")
        assert await c.recv() == "RECVSMS|FROM:010xxxx0850|MESSAGE:테스트 123acvh|SMSTO:070xxxx0321"
        for i in range(11):
            clock.t += 60
            emu.pbx.inbound_sms("0101111222" + str(i % 10), "3321", f"msg {i}")  # by extension too
        for _ in range(11):
            assert (await c.recv()).endswith("|SMSTO:070xxxx0321")
        await c.send("CMD GETRECVSMSLIST AGENT=3321 PAGE=1 CAT=")
        pieces, rows = await split_result(c, "GETRECVSMSLIST")
        assert len(pieces) == 1 and len(rows) == 10
        assert rows[0] == f"{when(clock.t)}^01011112220^2^OK^msg 10"
        await c.send("CMD GETRECVSMSLIST AGENT=3321 PAGE=2 CAT=")
        _, rows = await split_result(c, "GETRECVSMSLIST")
        assert rows == [f"{when(1415076786.0 + 60)}^01011112220^2^OK^msg 0",
                        f"{when(1415076786.0)}^010xxxx0850^2^OK^테스트 123acvh"]
        await c.send("CMD GETRECVSMSLIST AGENT=3321 PAGE=3 CAT=")
        assert await c.recv() == "CMDRESULT|CMD:GETRECVSMSLIST|RES:"
        assert await c.recv() == "CMDRESULTEND|CMD:GETRECVSMSLIST"
        emu.pbx.max_plain = 120
        await c.send("CMD GETRECVSMSLIST AGENT=3321 PAGE=1 CAT=")
        pieces, rows = await split_result(c, "GETRECVSMSLIST")
        assert len(pieces) >= 3 and len(rows) == 10 and rows[-1].endswith("^msg 1")
        await c.send("CMD GETRECVSMSLIST AGENT=3321 PAGE=0 CAT=")
        assert await c.recv() == "CMDERROR|CMD:GETRECVSMSLIST|MSG:malformed argument PAGE (pages start at 1)"
        # an SMS to a number nobody has is refused; one to an offline owner is kept as NOT delivered
        with pytest.raises(KeyError):
            emu.pbx.inbound_sms(CALLER, "07000000000", "x")
        emu.pbx.inbound_sms(CALLER, "070xxxx0322", "hello")
        assert emu.pbx.inbox["3322"][-1][1:] == (CALLER, "hello", False)


async def test_peer_messages_ok_not_and_alldomain():
    async with pbx_server() as emu, phones(emu, "3321", "3322", "101t4004") as ph:
        c = ph["3321"]
        await c.send("CMD SENDPEERMSG AGENT=3321 TYPE=0 INFO= PEERS=3322,3323,9999,101t4004 MSG=우리는 민족@@둘째 줄")
        assert await c.recv() == "CMDRESULT|CMD:SENDPEERMSG|3322:OK|3323:NOT|9999:NOT|101t4004:NOT"
        assert await ph["3322"].recv() == "RECVPEERMSG|FROM:3321|MSG:우리는 민족@@둘째 줄"
        await c.send("CMD SENDPEERMSG AGENT=3321 TYPE=0 INFO= PEERS=ALLDOMAIN MSG=all hands")
        assert await c.recv() == "CMDRESULT|CMD:SENDPEERMSG|ALLDOMAIN:OK"
        assert await ph["3322"].recv() == "RECVPEERMSG|FROM:3321|MSG:all hands"
        await ph["101t4004"].send("CMD SENDPEERMSG AGENT=101t4004 TYPE=0 INFO= PEERS=ALLDOMAIN MSG=alone")
        assert await ph["101t4004"].recv() == "CMDRESULT|CMD:SENDPEERMSG|ALLDOMAIN:NOT"
        assert "RECVPEERMSG|FROM:3321|MSG:all hands" not in ph["101t4004"].received


async def test_get_peer_info():
    async with pbx_server() as emu, phones(emu, "3321", "3322") as ph:
        await ph["3321"].send("CMD GETPEERINFO AGENT=3321 PEERS=3322,3323,9999,101t4004")
        assert await ph["3321"].recv() == "CMDRESULT|CMD:GETPEERINFO|3322:OK:CONN|3323:OK:NOT|9999:NOT:NOT|101t4004:NOT:NOT"


# -- status of peers -----------------------------------------------------------------------

async def test_get_status_peers_through_a_call():
    async with pbx_server(ring_timeout=30) as emu, phones(emu, "3321") as ph:
        c = ph["3321"]

        async def status(peers="3321,3322,3323,9999"):
            await c.send(f"CMD GETSTATUSPEERS AGENT=3321 PEERS={peers} ROOM=")
            return await c.expect("CMDRESULT")

        assert await status() == "CMDRESULT|CMD:GETSTATUSPEERS|3321:Down:|3322:Down:|3323:Down:|9999:Down:Unknown"
        emu.pbx.phone_dial("3322", "3321")
        ring = fields(await c.recv())
        assert await status("3321,3322") == ("CMDRESULT|CMD:GETSTATUSPEERS|3321:Ringing:AppDial((Outgoing Line))"
                                            "|3322:Ring:Dial(SIP/3321|30|)")
        emu.pbx.phone_answer("3321")
        cl = fields(await c.recv())
        res = await status("3321,3322")
        assert res == (f"CMDRESULT|CMD:GETSTATUSPEERS|3321:Up:Link_Channel({ring['RECHANNEL']})"
                       f"|3322:Up:Dial(SIP/3321|30|)")
        assert fields(res) == {"CMD": "GETSTATUSPEERS", "3321": f"Up:Link_Channel({ring['RECHANNEL']})",
                               "3322": "Up:Dial(SIP/3321|30|)"}
        await c.send("CMD HOLD AGENT=3321 CHANNEL=")
        await c.recv()
        assert await status("3321") == f"CMDRESULT|CMD:GETSTATUSPEERS|3321:Up:Hold({cl['CHANNEL1']})"
        emu.pbx.phone_hangup("3321")
        await c.send("CMD GETSTATUSPEERS AGENT=3321 PEERS= ROOM=")
        assert await c.expect("CMDERROR") == "CMDERROR|CMD:GETSTATUSPEERS|MSG:missing argument PEERS"


# -- call history ----------------------------------------------------------------------------

async def test_call_history_rows_count_filters_and_split():
    clock = Clock(1320000000.0)
    async with pbx_server(clock=clock) as emu, phones(emu, "3321", "3322") as ph:
        c = ph["3321"]
        pbx = emu.pbx
        t1 = clock.t                                   # inbound, answered after 20 s, 30 s of talk
        a = pbx.external_call("0212345678", "070xxxx0321")
        clock.t += 20
        pbx.phone_answer("3321")
        clock.t += 30
        pbx.external_hangup(a)
        clock.t += 100
        t2 = clock.t                                   # inbound, unanswered (caller gives up after 10 s)
        b = pbx.external_call("01055556666", "070xxxx0321")
        clock.t += 10
        pbx.external_hangup(b)
        clock.t += 100
        t3 = clock.t                                   # 3321 calls 3322, 5 s ring, 7 s talk
        pbx.phone_dial("3321", "3322")
        clock.t += 5
        pbx.phone_answer("3322")
        clock.t += 7
        pbx.phone_hangup("3322")
        clock.t += 100
        d = pbx.phone_dial("3321", "0019998887")      # 3321 calls abroad; meanwhile 3322 finds it busy twice
        pbx.phone_dial("3322", "3321")
        pbx.phone_dial("3322", "3321")
        pbx.external_hangup(d)                         # the far end declines
        kim = base64.b64encode("Kim".encode()).decode()
        n3322 = base64.b64encode(b"3322").decode()

        await c.send("CMD GETCALLHISTORY AGENT=3321 CAT=1 INOUT=0 START= END= SEARCH=9")
        _, rows = await split_result(c, "GETCALLHISTORY")
        assert rows == [
            f"{when(t3 + 112)}^{n3322}^3321^inbound^0^0^BUSY^0^0",
            f"{when(t3 + 112)}^{n3322}^3321^inbound^0^0^BUSY^0^0",
            f"{when(t2)}^{base64.b64encode(b'01055556666').decode()}^3321^inbound^10^0^NO-ANS^0^0",
            f"{when(t1)}^{base64.b64encode(b'0212345678').decode()}^3321^inbound^20^30^OK^0^0",
        ]
        await c.send("CMD GETCALLHISTORY AGENT=3321 CAT=1 INOUT=1 START= END= SEARCH=9")
        _, rows = await split_result(c, "GETCALLHISTORY")
        assert [r.split("^")[3:7] for r in rows] == [["outbound", "0", "0", "NO-ANS"], ["outbound", "5", "7", "OK"]]
        await c.send("CMD GETCALLHISTORY AGENT=3322 CAT=1 INOUT=1 START= END= SEARCH=0")
        assert await c.recv() == "CMDERROR|CMD:GETCALLHISTORY|MSG:AGENT=3322 is not the logged-in extension 3321"
        await ph["3322"].send("CMD GETCALLHISTORY AGENT=3322 CAT=1 INOUT=1 START= END= SEARCH=0")
        _, rows = await split_result(ph["3322"], "GETCALLHISTORY")
        assert rows == [f"{when(t3 + 112)}^{kim}^3322^outbound^0^0^BUSY^0^0"] * 2
        # domain-wide, mobile numbers only; then a time window; then the count
        await c.send("CMD GETCALLHISTORY AGENT=3321 CAT=0 INOUT=0 START= END= SEARCH=2")
        _, rows = await split_result(c, "GETCALLHISTORY")
        assert [r.split("^")[0] for r in rows] == [when(t2)]
        start = time.strftime("%Y%m%d%H%M%S", time.localtime(t2))
        end = time.strftime("%Y%m%d%H%M%S", time.localtime(t3))
        await c.send(f"CMD GETCALLHISTORY AGENT=3321 CAT=0 INOUT= START={start} END={end} SEARCH=9")
        _, rows = await split_result(c, "GETCALLHISTORY")
        assert sorted(r.split("^")[2] + r.split("^")[3] for r in rows) == ["3321inbound", "3321outbound", "3322inbound"]
        await c.send("CMD GETCALLHISTORY AGENT=3321 CAT=1 INOUT=9 START= END= SEARCH=9")
        assert await c.recv() == "CMDRESULT|CMD:GETCALLHISTORY|RES:9"
        assert await c.recv() == "CMDRESULTEND|CMD:GETCALLHISTORY"
        # rows split across frames when a small bound is forced
        pbx.max_plain = 100
        await c.send("CMD GETCALLHISTORY AGENT=3321 CAT=0 INOUT= START= END= SEARCH=")
        pieces, rows = await split_result(c, "GETCALLHISTORY")
        assert len(rows) == 9 and len(pieces) == 9
        pbx.max_plain = 8192
        await c.send("CMD GETCALLHISTORY AGENT=3321 CAT=0 INOUT= START= END= SEARCH=")
        pieces, rows2 = await split_result(c, "GETCALLHISTORY")
        assert len(pieces) == 1 and rows2 == rows
        for args, msg in [("CAT=5", "malformed argument CAT (expected one of 0, 1)"),
                          ("CAT=1 INOUT=3", "malformed argument INOUT (expected one of -1, 0, 1, 9)"),
                          ("CAT=1 START=yesterday", "malformed argument START (expected YYYYMMDD[HH[MM[SS]]])")]:
            await c.send(f"CMD GETCALLHISTORY AGENT=3321 {args}")
            assert await c.recv() == f"CMDERROR|CMD:GETCALLHISTORY|MSG:{msg}"


async def test_call_history_with_nothing_to_show():
    async with pbx_server() as emu, phones(emu, "3321") as ph:
        await ph["3321"].send("CMD GETCALLHISTORY AGENT=3321 CAT=1 INOUT=0 START=20110901 END=20110930 SEARCH=9")
        assert await ph["3321"].recv() == "CMDRESULT|CMD:GETCALLHISTORY|RES:"
        assert await ph["3321"].recv() == "CMDRESULTEND|CMD:GETCALLHISTORY"


# -- recording -------------------------------------------------------------------------------

async def test_monitor_start_stop_and_the_record_list():
    clock = Clock(1320000000.0)
    async with pbx_server(clock=clock) as emu, phones(emu, "3321") as ph:
        c = ph["3321"]
        await c.send("CMD MONITOR AGENT=3321 CHANNEL= ACT=START")
        assert await c.recv() == "CMDERROR|CMD:MONITOR|MSG:no current call"
        call_id = emu.pbx.external_call(CALLER, "070xxxx0321")
        ring = fields(await c.recv())
        await c.send(f"CMD MONITOR AGENT=3321 CHANNEL={ring['CHANNEL']} ACT=START")
        assert (await c.recv()).startswith("CMDERROR|CMD:MONITOR|MSG:no connected call on ")
        emu.pbx.phone_answer("3321")
        cl = fields(await c.recv())
        await c.send(f"CMD MONITOR AGENT=3321 CHANNEL={cl['CHANNEL2']} ACT=START")
        assert await c.recv() == "CMDRESULT|CMD:MONITOR|ACT:START|RES:OK"
        await c.send("CMD MONITOR AGENT=3321 CHANNEL= ACT=START")
        assert await c.recv() == "CMDRESULT|CMD:MONITOR|ACT:START|RES:ERR"
        clock.t += 42
        await c.send(f"CMD MONITOR AGENT=3321 CHANNEL={cl['CHANNEL1']} ACT=STOP")
        assert await c.recv() == "CMDRESULT|CMD:MONITOR|ACT:STOP|RES:OK"
        await c.send("CMD MONITOR AGENT=3321 CHANNEL= ACT=STOP")
        assert await c.recv() == "CMDRESULT|CMD:MONITOR|ACT:STOP|RES:ERR"
        await c.send("CMD MONITOR AGENT=3321 CHANNEL= ACT=PAUSE")
        assert await c.recv() == "CMDERROR|CMD:MONITOR|MSG:malformed argument ACT (START or STOP)"
        await c.send("CMD MONITOR AGENT=3321 CHANNEL= ACT=START")
        assert await c.recv() == "CMDRESULT|CMD:MONITOR|ACT:START|RES:OK"
        clock.t += 8
        emu.pbx.external_hangup(call_id)  # a recording running at hang-up is kept
        await c.expect("CDREVENT")
        await c.send("CMD GETRECORDLIST AGENT=3321 INOUT=0 START= END= SEARCH=")
        _, rows = await split_result(c, "GETRECORDLIST")
        stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(1320000042.0))
        assert rows == [f"{when(1320000042.0)}^3321^{CALLER}^8^{stamp}-3321-{cl['UNIQUEID2']}.wav",
                        f"{when(1320000000.0)}^3321^{CALLER}^42^{time.strftime('%Y%m%d%H%M%S', time.localtime(1320000000.0))}"
                        f"-3321-{cl['UNIQUEID2']}.wav"]
        await c.send("CMD GETRECORDLIST AGENT=3321 INOUT=1 START= END= SEARCH=")
        assert await c.recv() == "CMDRESULT|CMD:GETRECORDLIST|RES:"
        assert await c.recv() == "CMDRESULTEND|CMD:GETRECORDLIST"


# -- queues, variables, address book ---------------------------------------------------------

async def test_queue_status_variables_user_info_and_address_book():
    async with pbx_server() as emu, phones(emu, "3321", "3324") as ph:
        c = ph["3321"]
        call_id = emu.pbx.external_call(CALLER, "070xxxx0322")
        emu.pbx.phone_answer("3322")
        await c.send("CMD GETQSTATUS AGENT=3321 TYPE= QNAME= MEMBER=")
        assert await c.recv() == "CMDRESULT|CMD:GETQSTATUS|3321:idle:0|3322:talking:0|3323:idle:0"
        emu.pbx.external_hangup(call_id)
        await c.send("CMD GETQSTATUS AGENT=3321 TYPE=0 QNAME=sales MEMBER=3322,3323")
        assert await c.recv() == "CMDRESULT|CMD:GETQSTATUS|3322:idle:1|3323:idle:0"
        await c.send("CMD GETQSTATUS AGENT=3321 TYPE=0 QNAME=nosuch MEMBER=")
        assert await c.recv() == "CMDERROR|CMD:GETQSTATUS|MSG:unknown queue nosuch"

        await c.send("CMD GETVARINFO AGENT=3321 NAME=CALLERID")
        assert await c.recv() == "CMDRESULT|CMD:GETVARINFO|NAME:CALLERID|VALUE:070xxxx0321"
        await c.send("CMD SETUSERINFO AGENT=3321 KEY=color VAL=blue")
        assert await c.recv() == "CMDRESULT|CMD:SETUSERINFO|RES:OK"
        await c.send("CMD GETVARINFO AGENT=3321 NAME=color")
        assert await c.recv() == "CMDRESULT|CMD:GETVARINFO|NAME:color|VALUE:blue"
        await c.send("CMD GETVARINFO AGENT=3321 NAME=NOSUCH")
        assert await c.recv() == "CMDRESULT|CMD:GETVARINFO|NAME:NOSUCH|VALUE:"
        await c.send("CMD SETFORWARD AGENT=3321 USE=1 TYPE=2 NUMBER=3322 START= END= ETC=")
        await c.recv()
        await c.send("CMD GETVARINFO AGENT=3321 NAME=FORWARD")
        assert await c.recv() == "CMDRESULT|CMD:GETVARINFO|NAME:FORWARD|VALUE:2:3322"
        await c.send("CMD SETUSERINFO AGENT=3321 KEY= VAL=x")
        assert await c.recv() == "CMDERROR|CMD:SETUSERINFO|MSG:missing argument KEY"

        base = "TYPE={} KEYIDX={} GNAME=friends PNAME=Lee TEL1=01012345678 TEL2= TEL3= TEL4= TEL5= DEF=1 MEMO=hi"
        await c.send("CMD MAGADDRLIST AGENT=3321 " + base.format(0, ""))
        assert await c.recv() == "CMDRESULT|CMD:MAGADDRLIST|RES:OK"
        await c.send("CMD MAGADDRLIST AGENT=3321 TYPE=1 KEYIDX=1 MEMO=updated")
        assert await c.recv() == "CMDRESULT|CMD:MAGADDRLIST|RES:OK"
        assert emu.pbx.addressbook["127.0.0.1"][1]["MEMO"] == "updated"
        assert emu.pbx.addressbook["127.0.0.1"][1]["PNAME"] == "Lee"
        await c.send("CMD MAGADDRLIST AGENT=3321 TYPE=2 KEYIDX=7")
        assert await c.recv() == "CMDRESULT|CMD:MAGADDRLIST|RES:ERR"
        await c.send("CMD MAGADDRLIST AGENT=3321 TYPE=2 KEYIDX=1")
        assert await c.recv() == "CMDRESULT|CMD:MAGADDRLIST|RES:OK"
        await c.send("CMD MAGADDRLIST AGENT=3321 TYPE=9")
        assert await c.recv() == "CMDERROR|CMD:MAGADDRLIST|MSG:malformed argument TYPE (expected one of 0, 1, 2)"
        await c.send("CMD MAGADDRLIST AGENT=3321 TYPE=0")
        assert await c.recv() == "CMDERROR|CMD:MAGADDRLIST|MSG:missing argument PNAME or TEL1"


# -- what the PBX cannot do ------------------------------------------------------------------

@pytest.mark.parametrize("text, answer", [
    ("CMD NOSUCH AGENT=3321", "CMDERROR|CMD:NOSUCH|MSG:unknown command NOSUCH"),
    ("CMD|HOLD|SIP/3321-00000000", "CMDERROR|CMD:HOLD|MSG:HOLD has no pipe form (HANGUP is the only command that has one)"),
    ("CMD CLICKCALL AGENT=3322 EXTEN=3323 CID= CONTEXT=", "CMDERROR|CMD:CLICKCALL|MSG:AGENT=3322 is not the logged-in extension 3321"),
    ("CMD CLICKCALL AGENT=3321 EXTEN= CID= CONTEXT=", "CMDERROR|CMD:CLICKCALL|MSG:missing argument EXTEN"),
    ("CMD CLICKCALL AGENT=3321 EXTEN=01(2)3 CID= CONTEXT=", "CMDERROR|CMD:CLICKCALL|MSG:malformed argument EXTEN (expected a phone number or extension)"),
    ("CMD CLICKCALL AGENT=3321 EXTEN=3321 CID= CONTEXT=", "CMDERROR|CMD:CLICKCALL|MSG:cannot call the own extension"),
    ("CMD ANSWER AGENT=3321 CHANNEL= CONTEXT= MYCHANNEL=", "CMDERROR|CMD:ANSWER|MSG:no ringing call to answer"),
    ("CMD TRANSFER AGENT=3321 CHANNEL= EXTEN=3322", "CMDERROR|CMD:TRANSFER|MSG:no current call"),
    ("CMD ATXFER AGENT=3321 CHANNEL= EXTEN=0299998888", "CMDERROR|CMD:ATXFER|MSG:unknown extension 0299998888 (attended transfer goes to an extension)"),
    ("CMD ATXFERCID AGENT=3321 CHANNEL= EXTEN=3322 CID=", "CMDERROR|CMD:ATXFERCID|MSG:missing argument CID"),
    ("CMD REDIRECTCONF AGENT=3321 ROOM= CHANNEL= DSTCHANNEL=", "CMDERROR|CMD:REDIRECTCONF|MSG:missing argument ROOM"),
    ("CMD REDIRECTCONF AGENT=3321 ROOM=7001 CHANNEL= DSTCHANNEL=", "CMDERROR|CMD:REDIRECTCONF|MSG:no current call"),
    ("CMD CALLWITHCONF AGENT=3321 ROOM=7001 PEERS=", "CMDERROR|CMD:CALLWITHCONF|MSG:missing argument PEERS"),
    ("CMD REMOVECONF AGENT=3321 ROOM=7001 CHANNELS=x", "CMDERROR|CMD:REMOVECONF|MSG:no conference 7001"),
    ("CMD GETPEERINFO AGENT=3321 PEERS=", "CMDERROR|CMD:GETPEERINFO|MSG:missing argument PEERS"),
    ("CMD GETVARINFO AGENT=3321 NAME=", "CMDERROR|CMD:GETVARINFO|MSG:missing argument NAME"),
    ("CMD HANGUP AGENT=3321 CHANNEL=Local/1@x-1;2", "CMDERROR|CMD:HANGUP|MSG:unknown channel Local/1@x-1;2"),
    ("CMD GETSTATUSPEERS AGENT=3321 PEERS=" + ",".join(str(4000 + i) for i in range(501)),
     "CMDERROR|CMD:GETSTATUSPEERS|MSG:PEERS lists more than 500 entries"),
])
async def test_cmderror_answers_and_the_session_goes_on(text, answer):
    async with pbx_server() as emu:
        c = await login(emu, "3321")
        await c.send(text)
        assert await c.recv() == answer
        await c.send("CMD GETPEERINFO AGENT=3321 PEERS=3321")
        assert await c.recv() == "CMDRESULT|CMD:GETPEERINFO|3321:OK:CONN"
        assert emu.pbx.calls == {} and emu.pbx.channels == {}
        await c.close()
