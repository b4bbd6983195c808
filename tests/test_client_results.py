"""Typed query results (lguapi.results) parsed from the answer texts of docs/protocol.md and the manual."""
from __future__ import annotations

import base64
from datetime import datetime

import pytest

from lguapi import results as R
from lguapi.discovery import parse_address, parse_serverinfo
from lguapi.errors import DiscoveryError
from kit.text import ev as event_of


def ev(text: str):
    return event_of(text, raw=True)


def test_peer_info_manual_3_22():
    info = R.parse_peer_info(ev("CMDRESULT|CMD:GETPEERINFO|3456:OK:CONN|3457:OK:NOT"))
    assert list(info) == ["3456", "3457"]
    assert info["3456"] == R.PeerInfo("3456", "OK", "CONN")
    assert info["3456"].registered and info["3456"].connected
    assert info["3457"].registered and not info["3457"].connected


def test_peer_info_unregistered():
    info = R.parse_peer_info(ev("CMDRESULT|CMD:GETPEERINFO|101t4004:UNREACHABLE:NOT"))
    assert not info["101t4004"].registered


def test_status_peers_manual_3_24():
    s = R.parse_status_peers(ev("CMDRESULT|CMD:GETSTATUSPEERS|3456:Up:Link_Channel(SIP/5060-b5c10a20)"))
    assert s == [R.PeerStatus("3456", "Up", "Link_Channel(SIP/5060-b5c10a20)")]
    s = R.parse_status_peers(ev("CMDRESULT|CMD:GETSTATUSPEERS|3456:Up:Dial(SIP/070xxxx3023@210.182.171.16|90|)"))
    assert s[0].app == "Dial(SIP/070xxxx3023@210.182.171.16|90|)"
    s = R.parse_status_peers(ev("CMDRESULT|CMD:GETSTATUSPEERS|3456:Down:|3457:Ringing:AppDial"))
    assert s[0] == R.PeerStatus("3456", "Down", None) and s[1].state == "Ringing"
    assert s[0].as_tuple() == ("3456", "Down", None)


def test_call_history_rows_manual_3_23():
    rows = [
        "2011-11-12 20:39:19^MDcwNzU5OSoqKio=^3456^inbound^20^0^NO-ANS^0^0",
        "2011-11-11 22:44:04^KioqKg==^3456^outbound^457^456^OK^0^0",
        "2011-11-10 20:57:20^MDcwNzU0OSoqKio=^3456^inbound^10^0^NO-ANS^0^0^",
    ]
    h = R.parse_call_history(rows)
    assert [r.name for r in h] == ["0707599****", "****", "0707549****"]
    assert h[0].direction == "inbound" and h[0].ring_seconds == 20 and h[0].talk_seconds == 0
    assert h[1].result == "OK" and h[1].talk_seconds == 456
    assert h[2].extra == ("0", "0") and h[0].timestamp == datetime(2011, 11, 12, 20, 39, 19)
    assert h[0].name_b64 == "MDcwNzU5OSoqKio="


def test_call_history_korean_name_and_bad_base64():
    name = base64.b64encode("홍길동".encode("cp949")).decode()
    h = R.parse_call_history([f"20240101120000^{name}^3321^outbound^1^2^OK^0^0", "20240101^!!^3321^inbound^^^BUSY"])
    assert h[0].name == "홍길동" and h[0].timestamp == datetime(2024, 1, 1, 12)
    assert h[1].name is None and h[1].ring_seconds is None and h[1].result == "BUSY"


def test_rows_of_split_result():
    pieces = [ev("CMDRESULT|CMD:GETCALLHISTORY|RES:a^1\nb^2\n"), ev("CMDRESULT|CMD:GETCALLHISTORY|RES:c^3")]
    assert R.rows_of(pieces) == ["a^1", "b^2", "c^3"]
    assert R.rows_of([ev("CMDRESULT|CMD:GETCALLHISTORY|RES:")]) == []
    assert R.rows_of([ev("CMDRESULT|CMD:X|RES:a\r\nb\rc")]) == ["a", "b", "c"]


def test_history_count():
    assert R.parse_history_count([ev("CMDRESULT|CMD:GETCALLHISTORY|RES:42")]) == 42
    with pytest.raises(ValueError, match="not a number"):
        R.parse_history_count([ev("CMDRESULT|CMD:GETCALLHISTORY|RES:x")])


def test_recv_sms_rows_manual_3_25():
    r = R.parse_recv_sms_list(["2014-11-04 13:53:06^010xxxx0850^3^OK^123!?가나^more"])
    assert r == [R.SmsRow("2014-11-04 13:53:06", "010xxxx0850", "3", "OK", "123!?가나^more",
                          raw="2014-11-04 13:53:06^010xxxx0850^3^OK^123!?가나^more")]


def test_record_rows():
    r = R.parse_record_list(["20240101120000^3321^01012345678^65^rec/3321-1.wav"])
    assert r[0].seconds == 65 and r[0].file == "rec/3321-1.wav" and r[0].peer == "01012345678"


def test_queue_conf_var_forward_delivery():
    q = R.parse_queue_status(ev("CMDRESULT|CMD:GETQSTATUS|3321:idle:4|3322:busy:"))
    assert q == [R.QueueMember("3321", "idle", 4), R.QueueMember("3322", "busy", None)]
    m = R.parse_conference_members(ev("CMDRESULT|CMD:GETLISTCONFMEMBER|3447:SIP/10033447-0716|3448:SIP/x-1"))
    assert m[0] == R.ConfMember("3447", "SIP/10033447-0716")
    assert R.parse_var_info(ev("CMDRESULT|CMD:GETVARINFO|NAME:QUEUE|VALUE:a:b")) == R.VarInfo("QUEUE", "a:b")
    f = R.parse_forward(ev("CMDRESULT|CMD:SETFORWARD|RES:IFW userid:(tmpid3458)-(ipcctest.com)-(070xxxx3456)"))
    assert f.enabled and f.code == "IFW" and f.detail.startswith("userid:(tmpid3458)")
    assert not R.parse_forward(ev("CMDRESULT|CMD:SETFORWARD|RES:DFW userid:(tmpid3456)-()")).enabled
    assert R.parse_delivery(ev("CMDRESULT|CMD:SENDPEERMSG|3458:OK|3457:NOT")) == {"3458": "OK", "3457": "NOT"}
    assert R.parse_delivery(ev("CMDRESULT|CMD:SENDSMS|RES:OK")) == {"RES": "OK"}


def test_serverinfo():
    info = parse_serverinfo("SERVERINFO|ADDR:10.1.2.3:8086|BACKUPADDR:10.1.2.4:8087|BACKADDR2:10.1.2.5:8088\r\n")
    assert info.addresses == (("10.1.2.3", 8086), ("10.1.2.4", 8087), ("10.1.2.5", 8088))
    assert parse_serverinfo("SERVERINFO|ADDR:h:1").backups == ()
    with pytest.raises(DiscoveryError, match="does not know this user ID"):
        parse_serverinfo("SERVERINFO|ERROR:-1")
    with pytest.raises(DiscoveryError, match="not SERVERINFO"):
        parse_serverinfo("<html>")
    with pytest.raises(DiscoveryError, match="bad ADDR"):
        parse_serverinfo("SERVERINFO|ADDR:h:99999")
    assert parse_address("[::1]:9") == ("::1", 9) and parse_address("host") == ("host", 8086)
