"""lguapi.compat.LGUBaseOpenApi driven the way the vendor's sample page (manual §6.2) drives the control.

The emulator stack (TCP server, HTTPS OAM, admin HTTP) runs in its own thread and loop;
the test itself is synchronous, like a program written for the ActiveX control.
"""
from __future__ import annotations

import threading
import warnings

import pytest

from kit.clients import dead_port
from kit.compat import Events, module_stack
from lguapi.compat import EVENT_CALLBACKS, DispatchWithEvents, LGUBaseOpenApi, PumpWaitingMessages
from lguapi.server import generated_id, generated_password


stack = module_stack()


def make(stack, **kw):
    return DispatchWithEvents("LGUBaseOpenApi.LGUBaseOpenApiCtrl.1", Events, oam_ca=stack.stack.ca_file, **kw)


def test_sample_page_flow(stack):
    """sConnect() → ring → 전화받기/Hold/UnHold/StartRecord/끊기 → History → disconnect, as the sample page does."""
    api = make(stack)
    try:
        # sConnect(): SetAutoReconnect(20); SetSeedEncryption() when the Seed box is ticked; LoginServer(id, pwd, "")
        api.SetAutoReconnect(20)
        api.SetSeedEncryption()
        api.SetOamServerIP(f"127.0.0.1:{stack.stack.oam_port}")
        assert api.LoginServer(generated_id("3001"), generated_password("3001"), "") is True
        assert api.IsConnected() is True
        login = api.wait("login")
        assert login[1].startswith("LOGINRESULT|STATUS:1|EXTEN:3001|CALLERID:07012343001|")

        # an outside caller rings the 070 number
        n = len(api.seen)
        call = stack.admin("/calls", {"from": "01012345678", "to": generated_id("3001")})
        ring = api.wait("ring", n)
        assert ring[1].startswith("RINGEVENT|ISDIAL:0|CHANNEL:SIP/3001-")
        assert "CALLERID:01012345678" in ring[1]

        api.Answer()
        cl = api.wait("channellist", n)
        assert cl[1].startswith("CHANNELLIST|CHANNEL1:SIP/gw2.eicn-")

        m = len(api.seen)
        api.Hold()
        assert api.wait("result", m)[1] == "CMDRESULT|CMD:HOLD|RES:OK"
        m = len(api.seen)
        api.UnHold()  # IDispatch names are case-insensitive
        assert api.wait("result", m)[1] == "CMDRESULT|CMD:UNHOLD|RES:OK"
        m = len(api.seen)
        api.StartRecord()
        assert api.wait("result", m)[1].startswith("CMDRESULT|CMD:MONITOR|ACT:START|RES:OK")

        m = len(api.seen)
        api.HangUp()
        out = api.wait("channelout", m)
        assert out[1].startswith("CHANNELOUT|CHANNEL:SIP/3001-") and out[1].endswith("HCAUSE:16")

        # OAM functions of the page: peer info and call history (split result + CMDRESULTEND via SendEtcEvent)
        m = len(api.seen)
        api.GetPeerInfo("3001,3002")
        assert api.wait("result", m)[1] == "CMDRESULT|CMD:GETPEERINFO|3001:OK:CONN|3002:OK:NOT"
        m = len(api.seen)
        api.GetCallHistory("1", "0", "20000101", "20991231", "9")
        hist = api.wait("result", m)
        assert hist[1].startswith("CMDRESULT|CMD:GETCALLHISTORY|RES:")
        end = api.wait("etc", m)
        assert end[1:] == ("CMDRESULTEND", "CMDRESULTEND|CMD:GETCALLHISTORY")

        # every handler ran on one thread, in the order the server sent the events
        assert api.threads == {"lguapi-events"}
        kinds = [e[0] for e in api.seen]
        assert kinds.index("ring") < kinds.index("channellist") < kinds.index("channelout")
        assert call["id"]

        m = len(api.seen)
        api.DisconnectServer()
        api.wait("neterror", m)
        assert api.IsConnected() is False
        assert api.wait_events()
        assert [e[0] for e in api.seen[m:]] == ["neterror"]  # exactly once
    finally:
        api.close()


def test_vendor_defaults_and_plain_connect(stack):
    api = make(stack)
    try:
        assert api._cipher == "basic"  # the control's default: SetEncryption(1)
        assert api.ConnectServer("127.0.0.1", str(stack.stack.port), generated_id("3002"), generated_password("3002"))
        assert api.wait("login")[1].startswith("LOGINRESULT|STATUS:1|EXTEN:3002|")
        api.SetEncryption(0)
        assert api._cipher == "none"
        # a command with no current call: the control's own error event, nothing raised
        m = len(api.seen)
        api.Hold()
        err = api.wait("cmderror", m)
        assert err[1] == "HOLD" and "no current call" in err[2]
        # bad arguments raise at once, before anything is sent
        with pytest.raises(ValueError):
            api.SendSMS("0", "", "01012345678", "x" * 201)
        with pytest.raises(ValueError):
            api.SendPeerMsg("0", "", "3001", "two\nlines")
        # the vendor's spellings resolve whatever their case
        for name in ("PickUp", "pickup", "UnHold", "Atxfer", "HangupChannel", "hangup", "getrecvsmslist"):
            assert callable(getattr(api, name))
        with pytest.raises(AttributeError):
            api.NoSuchMethod
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            api.AtXferCID("3003", "07012340000")
        assert any(issubclass(x.category, DeprecationWarning) for x in w)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            api.SetHeartBeat(45)
        assert api._heartbeat == 30 and w
        assert PumpWaitingMessages(0.01) == 0
    finally:
        api.close()


def test_login_failures_and_connect_errors(stack):
    api = make(stack)
    try:
        assert api.ConnectServer("127.0.0.1", str(stack.stack.port), generated_id("3003"), "wrong-password") is False
        bad = api.wait("login")
        assert bad[1].startswith("LOGINRESULT|STATUS:-2|")
        assert "wrong-password" not in repr(api) and "wrong-password" not in str(api.seen)
        # no OAM configured and no server: the control's Connect error
        m = len(api.seen)
        assert api.LoginServer(generated_id("3003"), generated_password("3003"), "") is False
        assert api.wait("cmderror", m)[1] == "Connect"
        # nothing listens on this port
        dead = dead_port()
        m = len(api.seen)
        assert api.ConnectServer("127.0.0.1", str(dead), generated_id("3003"), generated_password("3003")) is False
        assert api.wait("cmderror", m)[1] == "Connect"
    finally:
        api.close()


def test_duplicate_login_bye_is_one_network_error_and_no_reconnect(stack):
    first = make(stack)
    second = make(stack)
    try:
        assert first.ConnectServer("127.0.0.1", str(stack.stack.port), generated_id("3004"), generated_password("3004"))
        m = len(first.seen)
        assert second.ConnectServer("127.0.0.1", str(stack.stack.port), generated_id("3004"), generated_password("3004"))
        first.wait("neterror", m)
        assert first.wait_events()
        assert [e[0] for e in first.seen[m:]].count("neterror") == 1
        assert first.IsConnected() is False and second.IsConnected() is True
    finally:
        first.close()
        second.close()


def test_handler_errors_do_not_stop_events_and_attribute_handlers(stack):
    api = LGUBaseOpenApi(oam_ca=stack.stack.ca_file)
    got = []

    def boom(text):
        raise RuntimeError("handler bug")

    api.OnSendLoginResultEvent = boom
    api.OnSendRingEvent = got.append
    try:
        assert api.ConnectServer("127.0.0.1", str(stack.stack.port), generated_id("3005"), generated_password("3005"))
        stack.admin("/calls", {"from": "01099998888", "to": generated_id("3005")})
        deadline = threading.Event()
        for _ in range(100):
            if got:
                break
            deadline.wait(0.05)
        assert got and got[0].startswith("RINGEVENT|")
        assert api.callback_errors == 1
    finally:
        api.close()


def test_event_map_covers_protocol_callbacks():
    assert EVENT_CALLBACKS["RINGEVENT"] == "SendRingEvent"
    assert EVENT_CALLBACKS["DTMFEVENT"] == "SendDtmfEvent"
    assert EVENT_CALLBACKS["RECVSMS"] == "SendSMSEvent"
