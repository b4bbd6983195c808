"""Command texts (docs/protocol.md §4.3) and argument validation, without any server."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from lguapi import commands as C

AG = "3321"
CH = "SIP/3321-09b559d8"
DST = "SIP/gw2.eicn-09b25a90"


@pytest.mark.parametrize("cmd, text, answer", [
    (C.login("07012340321", "pw-1"), "CMD LOGIN ID=07012340321 PWD=pw-1 ", "login"),
    (C.pong(), "CMD|PONG", "none"),
    (C.click2call(AG, "01923456789"), "CMD CLICKCALL AGENT=3321 EXTEN=01923456789 CID= CONTEXT=", "event"),
    (C.click2call(AG, "3322", "outbound", "ctx"), "CMD CLICKCALL AGENT=3321 EXTEN=3322 CID=outbound CONTEXT=ctx",
     "event"),
    (C.answer(AG, DST, CH), f"CMD ANSWER AGENT=3321 CHANNEL={DST} CONTEXT= MYCHANNEL={CH}", "event"),
    (C.hold(AG, CH), f"CMD HOLD AGENT=3321 CHANNEL={CH}", "result"),
    (C.unhold(AG, CH), f"CMD UNHOLD AGENT=3321 CHANNEL={CH}", "result"),
    (C.pickup(AG), "CMD PICKUP AGENT=3321 EXTEN=", "event"),
    (C.pickup(AG, "3322"), "CMD PICKUP AGENT=3321 EXTEN=3322", "event"),
    (C.hangup(AG, CH), f"CMD HANGUP AGENT=3321 CHANNEL={CH}", "event"),
    (C.monitor(AG, CH, "START"), f"CMD MONITOR AGENT=3321 CHANNEL={CH} ACT=START", "result"),
    (C.monitor(AG, CH, "STOP"), f"CMD MONITOR AGENT=3321 CHANNEL={CH} ACT=STOP", "result"),
    (C.transfer(AG, CH, "3700"), f"CMD TRANSFER AGENT=3321 CHANNEL={CH} EXTEN=3700", "event"),
    (C.atxfer(AG, CH, "3700"), f"CMD ATXFER AGENT=3321 CHANNEL={CH} EXTEN=3700", "event"),
    (C.atxfer_cid(AG, CH, "3700", "07012340101"), f"CMD ATXFERCID AGENT=3321 CHANNEL={CH} EXTEN=3700 CID=07012340101",
     "event"),
    (C.redirect_conference(AG, "7001", CH, DST), f"CMD REDIRECTCONF AGENT=3321 ROOM=7001 CHANNEL={CH} DSTCHANNEL={DST}",
     "event"),
    (C.invite_conference(AG, "7001", ["7002", "7003"]), "CMD INVITECONF AGENT=3321 ROOM=7001 PEERS=7002,7003", "event"),
    (C.join_conference(AG, "3456"), "CMD JOINCONF AGENT=3321 ROOM=3456", "event"),
    (C.call_with_conference(AG, "r1", "3456,3021,029121234"),
     "CMD CALLWITHCONF AGENT=3321 ROOM=r1 PEERS=3456,3021,029121234", "event"),
    (C.remove_conference(AG, "r1", [CH, DST]), f"CMD REMOVECONF AGENT=3321 ROOM=r1 CHANNELS={CH},{DST}", "event"),
    (C.send_sms(AG, "010-1234-5678", "test 메세지 a=b c"),
     "CMD SENDSMS AGENT=3321 TYPE=0 INFO= PEERS=01012345678 MSG=test 메세지 a=b c", "result"),
    (C.send_sms(AG, ["01012345678"], "later", type="1", info=datetime(2024, 5, 6, 7, 8, 9)),
     "CMD SENDSMS AGENT=3321 TYPE=1 INFO=20240506070809 PEERS=01012345678 MSG=later", "result"),
    (C.send_peer_msg(AG, "1002,1003", "우리는 민족"), "CMD SENDPEERMSG AGENT=3321 TYPE=0 INFO= PEERS=1002,1003 MSG=우리는 민족",
     "result"),
    (C.send_peer_msg(AG, "ALLDOMAIN", "hi@@there"), "CMD SENDPEERMSG AGENT=3321 TYPE=0 INFO= PEERS=ALLDOMAIN MSG=hi@@there",
     "result"),
    (C.set_forward(AG, "1", "0", "070-1234-3456", "2011091713", "2011092118"),
     "CMD SETFORWARD AGENT=3321 USE=1 TYPE=0 NUMBER=07012343456 START=2011091713 END=2011092118 ETC=", "result"),
    (C.set_forward(AG, False), "CMD SETFORWARD AGENT=3321 USE=0 TYPE= NUMBER= START= END= ETC=", "result"),
    (C.get_peer_info(AG, "3021,3022,3033"), "CMD GETPEERINFO AGENT=3321 PEERS=3021,3022,3033", "result"),
    (C.get_call_history(AG, 1, 0, "2011-09-02 10:00:00", "2011-09-20 23:59:59", 9),
     "CMD GETCALLHISTORY AGENT=3321 CAT=1 INOUT=0 START=20110902100000 END=20110920235959 SEARCH=9", "list"),
    (C.get_call_history(AG, "0", "9", date(2011, 9, 1), "20110930"),
     "CMD GETCALLHISTORY AGENT=3321 CAT=0 INOUT=9 START=20110901 END=20110930 SEARCH=9", "list"),
    (C.get_status_peers(AG, ["3456"]), "CMD GETSTATUSPEERS AGENT=3321 PEERS=3456 ROOM=", "result"),
    (C.get_recv_sms_list(AG, 2), "CMD GETRECVSMSLIST AGENT=3321 PAGE=2 CAT=", "list"),
    (C.get_var_info(AG, "QUEUE"), "CMD GETVARINFO AGENT=3321 NAME=QUEUE", "result"),
    (C.get_queue_status(AG, "1", "sales", "3321"), "CMD GETQSTATUS AGENT=3321 TYPE=1 QNAME=sales MEMBER=3321", "result"),
    (C.get_record_list(AG, "0", "20240101", "20240131", "9"),
     "CMD GETRECORDLIST AGENT=3321 INOUT=0 START=20240101 END=20240131 SEARCH=9", "list"),
    (C.get_conference_members(AG, "7001"), "CMD GETLISTCONFMEMBER AGENT=3321 ROOM=7001", "result"),
    (C.address_book(AG, "1", pname="Kim", tel1="010-1111-2222", default="1"),
     "CMD MAGADDRLIST AGENT=3321 TYPE=1 KEYIDX= GNAME= PNAME=Kim TEL1=01011112222 TEL2= TEL3= TEL4= TEL5= DEF=1 MEMO=",
     "result"),
    (C.set_user_info(AG, "NAME", "Kim"), "CMD SETUSERINFO AGENT=3321 KEY=NAME VAL=Kim", "result"),
    (C.sip_command("CMD|HANGUP|SIP/3584-09fb3350"), "CMD|HANGUP|SIP/3584-09fb3350", "event"),
    (C.sip_command("CMD GETVARINFO AGENT=3321 NAME=X"), "CMD GETVARINFO AGENT=3321 NAME=X", "result"),
])
def test_command_texts(cmd, text, answer):
    assert cmd.text == text
    assert cmd.answer == answer
    assert text.startswith("CMD") and "\n" not in text


def test_extension_with_letters():
    assert C.click2call("101t4004", "101t4005").text == "CMD CLICKCALL AGENT=101t4004 EXTEN=101t4005 CID= CONTEXT="


def test_event_answers_named():
    assert C.hangup(AG, CH).events == ("CHANNELOUT",)
    assert C.click2call(AG, "3322").events == ("RINGEVENT", "CHANNELLIST", "CHANNELOUT")
    assert C.sip_command("CMD|HANGUP|x").name == "HANGUP"


def test_repr_hides_password_and_masks_numbers():
    r = repr(C.login("07012340321", "hunter2"))
    assert "hunter2" not in r and "PWD=***" in r
    assert "01012345678" not in repr(C.click2call(AG, "01012345678"))


@pytest.mark.parametrize("build, match", [
    (lambda: C.click2call(AG, ""), "number is required"),
    (lambda: C.click2call(AG, "010 1234"), "number must be digits"),
    (lambda: C.click2call(AG, "12=3"), "number must be digits"),
    (lambda: C.click2call(AG, "1|2"), "number must be digits"),
    (lambda: C.click2call(AG, "+8210+1"), "number must be digits"),
    (lambda: C.click2call("", "3322"), "agent is required"),
    (lambda: C.click2call(AG, "3322", "a b"), "cid must not contain a space"),
    (lambda: C.click2call(AG, "3322", "", "x=y"), "context must not contain '='"),
    (lambda: C.hold(AG, ""), "channel is required"),
    (lambda: C.hangup(AG, "SIP/1 2"), "channel must not contain a space"),
    (lambda: C.monitor(AG, CH, "PAUSE"), "act must be one of START, STOP"),
    (lambda: C.transfer(AG, CH, ""), "exten is required"),
    (lambda: C.invite_conference(AG, "", "3456"), "room is required"),
    (lambda: C.invite_conference(AG, "r", ""), "peers is required"),
    (lambda: C.invite_conference(AG, "r", "3456,,3457"), "empty entry"),
    (lambda: C.remove_conference(AG, "r", ["Local/1@x-1,2"]), "must not contain a comma"),
    (lambda: C.send_sms(AG, "01012345678", ""), "empty message"),
    (lambda: C.send_sms(AG, "01012345678", "a" * 201), "201 characters long; at most 200"),
    (lambda: C.send_sms(AG, "01012345678", "line1\nline2"), "CR and LF are not allowed"),
    (lambda: C.send_peer_msg(AG, "3456", "x\ry"), "CR and LF are not allowed"),
    (lambda: C.send_peer_msg(AG, "3456", "a|b"), "must not contain '\\|'"),
    (lambda: C.send_sms(AG, "01012345678", "x", type="1"), "reservation time"),
    (lambda: C.send_sms(AG, "01012345678", "x", type="1", info="20240101"), "YYYYMMDDHHMMSS"),
    (lambda: C.send_sms(AG, "ALLDOMAIN", "x"), "must be digits"),
    (lambda: C.send_peer_msg(AG, "ALLDOMAIN,3456", "x"), "ALLDOMAIN must be the only entry"),
    (lambda: C.set_forward(AG, "2"), "use must be one of 0, 1"),
    (lambda: C.set_forward(AG, "1", "0"), "number is required"),
    (lambda: C.set_forward(AG, "1", "7", "3456"), "type must be one of 0, 1, 2, 3"),
    (lambda: C.set_forward(AG, "1", "0", "3456", "20111341"), "not a real date"),
    (lambda: C.get_call_history(AG, inout="5"), "inout must be one of 0, 1, 9"),
    (lambda: C.get_call_history(AG, start="yesterday"), "start must be YYYYMMDD"),
    (lambda: C.get_call_history(AG, start="2011-02-30 10:00:00"), "not a real date"),
    (lambda: C.get_recv_sms_list(AG, 0), "page must be a positive integer"),
    (lambda: C.get_var_info(AG, ""), "name is required"),
    (lambda: C.sip_command("HANGUP x"), "must start with 'CMD|<NAME>'"),
    (lambda: C.sip_command("CMD|HANGUP|x\ny"), "one line"),
    (lambda: C.sip_command("CMD LOGIN ID=a PWD=b"), "use login()"),
    (lambda: C.login("", "pw"), "user_id is required"),
    (lambda: C.login("id", ""), "password is required"),
])
def test_validation_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_password_never_in_errors():
    with pytest.raises(ValueError) as ei:
        C.login("07012340321", "sec ret")
    assert "sec ret" not in str(ei.value) and "ret" not in str(ei.value)


def test_message_limit_counts_characters_not_bytes():
    assert C.send_sms(AG, "01012345678", "가" * 200).text.endswith("MSG=" + "가" * 200)


@pytest.mark.parametrize("given, hours, wire", [
    ("20110917", False, "20110917"),
    ("2011091713", True, "2011091713"),
    ("20110917133001", False, "20110917133001"),
    ("2011-09-17", False, "20110917"),
    ("2011-09-17 13:30:01", False, "20110917133001"),
    ("2011-09-17 13:30:01", True, "2011091713"),
    (date(2011, 9, 17), True, "20110917"),
    (datetime(2011, 9, 17, 13, 30, 1), False, "20110917133001"),
    (datetime(2011, 9, 17, 13, 30, 1), True, "2011091713"),
    ("", False, ""),
    (None, False, ""),
])
def test_wire_dates(given, hours, wire):
    assert C.wire_date(given, hours=hours) == wire


def test_numbers():
    assert C.number("+821012345678") == "+821012345678"
    assert C.number("*72#") == "*72#"
    assert C.number("010-1234-5678") == "01012345678"
    with pytest.raises(ValueError):
        C.number("1-2a")
