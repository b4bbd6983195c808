"""Typed events from every event text of docs/protocol.md §4.4 and manual §5."""
import dataclasses
import json

import pytest

from lgucore import tokenize
from lguapi import events as ev
from lguapi._log import mask_number, mask_text, redact, set_masking


def parse(text, **kw):
    return ev.parse_event(tokenize(text.encode("cp949")), **kw)


def test_ring_event_manual_5_1():
    e = parse("RINGEVENT|ISDIAL:1|CHANNEL:SIP/gw2.eicn-09b25a90|RECHANNEL:SIP/3321-09b559d8|INEXTEN:null|"
              "AGENT:3321|CALLERID:01923XXXXX|UNIQUEID:1319339029.484", exten="3321")
    assert isinstance(e, ev.RingEvent)
    assert e.is_dial is True
    assert e.channel == "SIP/gw2.eicn-09b25a90"
    assert e.remote_channel == "SIP/3321-09b559d8"
    assert e.inbound_number is None  # "null" reads as None
    assert (e.agent, e.caller_id, e.unique_id, e.exten) == ("3321", "01923XXXXX", "1319339029.484", "3321")
    assert e.raw.startswith("RINGEVENT|ISDIAL:1|")


def test_channel_list_and_out_manual_5_2():
    cl = parse("CHANNELLIST|CHANNEL1:SIP/gw2.eicn-09b559d8|CHANNEL2:SIP/3321-09b25a90|CALLER1ID:010xxxx0907|"
               "CALLER2ID:3321|INEXTEN:070xxxx0321|UNIQUEID1:1319339116.486|UNIQUEID2:1319339122.488")
    assert isinstance(cl, ev.ChannelListEvent)
    assert (cl.channel1, cl.channel2) == ("SIP/gw2.eicn-09b559d8", "SIP/3321-09b25a90")
    assert (cl.caller1_id, cl.caller2_id, cl.inbound_number) == ("010xxxx0907", "3321", "070xxxx0321")
    assert (cl.unique_id1, cl.unique_id2) == ("1319339116.486", "1319339122.488")
    co = parse("CHANNELOUT|CHANNEL:SIP/3321-09b25a90|RECHANNEL:SIP/gw2.eicn-09b559d8|UNIQUEID:1319339122.488|"
               "SRCUNIQUEID:1319339116.486|HCAUSE:16")
    assert isinstance(co, ev.ChannelOutEvent)
    assert (co.unique_id, co.src_unique_id, co.hangup_cause) == ("1319339122.488", "1319339116.486", 16)


def test_channel_out_cause_above_127_and_missing():
    assert parse("CHANNELOUT|CHANNEL:SIP/1-0|HCAUSE:207").hangup_cause == 207
    assert parse("CHANNELOUT|CHANNEL:SIP/1-0|HCAUSE:").hangup_cause is None
    assert parse("CHANNELOUT|CHANNEL:SIP/1-0|HCAUSE:x").hangup_cause is None


def test_login_result_ok_and_failure():
    ok = parse("LOGINRESULT|STATUS:1|EXTEN:101t4004|CALLERID:070xxxx0321|DOMAIN:premium_c_12.lgdacom.net|"
               "MSG:101t4004,070xxxx0321,3321")
    assert ok.ok and ok.exten_number == "101t4004" and ok.domain == "premium_c_12.lgdacom.net"
    bad = parse("LOGINRESULT|STATUS:-2|MSG:wrong password")
    assert not bad.ok and bad.status == -2 and bad.domain is None


def test_command_result_keeps_every_field_in_order():
    e = parse("CMDRESULT|CMD:GETPEERINFO|3456:OK:CONN|3457:OK:NOT")
    assert isinstance(e, ev.CommandResultEvent)
    assert e.cmd == "GETPEERINFO" and e.res is None
    assert e.fields == (("3456", "OK:CONN"), ("3457", "OK:NOT"))
    legacy = parse("CMDRESULT CMD:MONITOR ACT:STOP RES:OK")
    assert (legacy.cmd, legacy.res, legacy.get("ACT")) == ("MONITOR", "OK", "STOP")


def test_other_events():
    c = parse("CONFERENCEEVENT|CMD:CONFMEMBERADD|CONFNAME:_WITH/MTV|CHANNEL:SIP/10033447-0716|"
              "UNIQUEID:1322304649.51|COUNT:1|MEMBER:3447")
    assert (c.action, c.conf_name, c.count, c.member) == ("CONFMEMBERADD", "_WITH/MTV", 1, "3447")
    p = parse("RECVPEERMSG|FROM:3458|MSG:우리는@@민족")
    assert p.sender == "3458" and p.text == "우리는\n민족"
    s = parse("RECVSMS FROM:010xxxx0850 MESSAGE: 테스트 123acvh SMSTO:070xxxx9812")
    assert (s.sender, s.message, s.to) == ("010xxxx0850", "테스트 123acvh", "070xxxx9812")
    d = parse("DTMFEVENT|CHANNEL:SIP/3321-1|UNIQUEID:1.2|DIGIT:#")
    assert d.digit == "#"
    cdr = parse("CDREVENT|CHANNEL:SIP/3321-1|UNIQUEID:1.2|SRC:3321|DST:010|DISPOSITION:ANSWERED|DURATION:12|BILLSEC:9")
    assert (cdr.duration, cdr.billsec, cdr.disposition) == (12, 9, "ANSWERED")
    assert isinstance(parse("PING"), ev.PingEvent)
    assert parse("BYE|REASON:duplicate login").reason == "duplicate login"
    err = parse("CMDERROR|CMD:HOLD|MSG:no current call")
    assert (err.cmd, err.msg) == ("HOLD", "no current call")
    assert parse("CMDRESULTEND|CMD:GETCALLHISTORY").cmd == "GETCALLHISTORY"


def test_unknown_event_is_generic_not_dropped():
    u = parse("NEWTHING|A:1|B:2:3|pos")
    assert isinstance(u, ev.UnknownEvent)
    assert u.name == "NEWTHING" and u.fields == (("A", "1"), ("B", "2:3"), (None, "pos"))
    assert u.get("B") == "2:3"


def test_repeated_key_first_wins_and_events_are_frozen():
    e = parse("CHANNELOUT|CHANNEL:SIP/a-1|CHANNEL:SIP/b-2")
    assert e.channel == "SIP/a-1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.channel = "x"


def test_to_dict_is_json_serialisable():
    e = parse("CMDRESULT|CMD:GETPEERINFO|3456:OK:CONN", exten="3456")
    d = e.to_dict()
    assert d["event"] == "CommandResultEvent"
    json.dumps(d)
    json.dumps(ev.Reconciled(statuses=(("3321", "Up", "Dial"),)).to_dict())


def test_mask_and_redact():
    set_masking(True)
    assert mask_number("01012345678") == "010****5678"
    assert mask_number("3321") == "3321"
    assert mask_text("call from 01012345678 to 07012340321") == "call from 010****5678 to 070****0321"
    assert redact("CMD LOGIN ID=07012340321 PWD=secret-0321 ") == "CMD LOGIN ID=07012340321 PWD=*** "
    set_masking(False)
    try:
        assert mask_number("01012345678") == "01012345678"
        assert "secret" not in mask_text("CMD LOGIN ID=1 PWD=secret")
    finally:
        set_masking(True)


def test_event_name_defaults_to_the_wire_or_state_name():
    assert ev.PingEvent().name == "PING"
    assert ev.Disconnected(deliberate=True).name == "disconnected"
    assert ev.RingEvent(name="RINGEVENT").name == "RINGEVENT"


@pytest.mark.parametrize("text", [
    "RINGEVENT|ISDIAL:0|CHANNEL:SIP/3321-09b2a738|RECHANNEL:SIP/gw2.eicn-09b559d8|INEXTEN:null|AGENT:3321|"
    "CALLERID:01923XXXXX|UNIQUEID:1319339116.486",
    "CMDRESULT|CMD:HOLD|RES:OK", "NEWTHING|A:1", "PING", "BYE|REASON:x", "CHANNELOUT|HCAUSE:16",
])
def test_parsed_event_equals_the_dataclass_constructor(text):
    e = parse(text, exten="3321", ts=1.0)
    kw = {f.name: getattr(e, f.name) for f in dataclasses.fields(e)}
    assert type(e)(**kw) == e
    assert repr(type(e)(**kw)) == repr(e)
    assert e.ts == 1.0 and e.exten == "3321" and e.name == text.split("|")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.name = "x"
