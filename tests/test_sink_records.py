"""Sink records written by orjson are the records the standard library would write."""
from __future__ import annotations

import json

import pytest

from lgucore import tokenize
from lguapi import events as E
from lguapi.sinks import _dumps, _event_record, event_json

BODIES = [
    b"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3001-09b4afc0|RECHANNEL:SIP/gw2-09b25a90|INEXTEN:null|AGENT:3001|CALLERID:01012345678|UNIQUEID:1.5",
    b"CHANNELLIST|CHANNEL1:SIP/a-1|CHANNEL2:SIP/b-2|CALLER1ID:010|CALLER2ID:3001|INEXTEN:|UNIQUEID1:1.1|UNIQUEID2:1.2",
    b"CHANNELOUT|CHANNEL:SIP/a-1|UNIQUEID:1.1|HCAUSE:16",
    b"CHANNELOUT|CHANNEL:SIP/a-1|UNIQUEID:1.1|HCAUSE:99999999999999999999999",  # beyond 64 bits
    b"CMDRESULT|CMD:GETPEERINFO|3456:OK:CONN|3457:OK:NOT",
    "RECVSMS FROM:01011112222 MESSAGE: 안녕 하세요 SMSTO:07012345678".encode("cp949"),
    b"CONFERENCEEVENT|CMD:CONFMEMBERADD|CONFNAME:7001|CHANNEL:SIP/a-1|COUNT:2",
    b"WHATEVER|X:1|2",
    b"PING",
    b"BYE|REASON:duplicate login",
]


def _events():
    out = [E.parse_event(tokenize(b), exten="3001", ts=1700000000.123456, raw=b.decode("cp949"))
           for b in BODIES]
    login = out[0]
    out += [
        E.Connected(address="127.0.0.1:8086", exten="3001", ts=1.0),
        E.LoggedIn(address="a", result=E.parse_event(tokenize(b"LOGINRESULT|STATUS:1|EXTEN:3001")), ts=2.0),
        E.Disconnected(address="a", deliberate=True, reason="bye", ts=3.0),
        E.Reconciled(address="a", statuses=(("3001", "Up", "Dial"),), ts=4.0),
        E.UnknownEvent(name="X", raw="X|\ud800", fields=(("K", "\ud800"),), ts=5.0),  # a lone surrogate
    ]
    assert login is not None
    return out


@pytest.mark.parametrize("ev", _events(), ids=lambda e: type(e).__name__)
def test_same_record_as_the_standard_library(ev):
    fast = event_json("k" * 24, ev)
    slow = _dumps(_event_record("k" * 24, ev)).encode("utf-8", "surrogatepass")
    assert json.loads(fast.decode("utf-8", "surrogatepass")) == json.loads(slow.decode("utf-8", "surrogatepass"))
    assert fast.startswith(b'{"key":"' + b"k" * 24 + b'","kind":"event"')
