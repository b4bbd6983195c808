"""The audit of docs/compat.md holds: every method and event of the manual is there, and the facade does what the table says.

The table rows are read from docs/compat.md; each method marked supported must resolve on
the facade (case-insensitively, as IDispatch), and the less common methods are exercised
against the emulator here (the common ones are in test_compat*.py).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from kit.compat import Events, module_stack
from lguapi import compat
from lguapi.compat import EVENT_CALLBACKS
from lguapi.server import generated_id, generated_password

DOC = Path(__file__).resolve().parent.parent / "docs" / "compat.md"
MANUAL_METHODS = [
    "LoginServer", "ConnectServer", "DisconnectServer", "SetEncryption", "SetHeartBeat", "IsConnected",
    "SetAutoReconnect", "SetOamServerIP", "SetSeedEncryption", "Click2Call", "Answer", "Hold", "Unhold", "Pickup",
    "HangUp", "HangUpDst", "HangUpChannel", "StartRecord", "StopRecord", "Transfer", "AtXfer", "AtXferCID",
    "RedirectConference", "InviteConference", "JoinConference", "CallWithConference", "SendSIPCommand", "SendSMS",
    "SendPeerMsg", "SetForward", "GetPeerInfo", "GetCallHistory", "GetStatusPeers", "GETRECVSMSLIST",
]
MANUAL_EVENTS = [
    "SendRingEvent", "SendChannelListEvent", "SendChannelOutEvent", "SendNetworkErrorEvent", "SendLoginResultEvent",
    "SendCommandResultEvent", "SendEtcEvent", "SendPeerMsgEvent", "SendCmdErrorEvent", "SendSMSEvent",
]


def doc_rows() -> dict[str, str]:
    """``name -> supported`` cell of every table row of docs/compat.md whose first cell is a `Name`."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*`([A-Za-z_][\w.]*)(?:\([^`]*\))?`\s*\|\s*([^|]+)\|", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    return rows


def test_every_manual_method_and_event_is_in_the_audit_and_on_the_facade():
    rows = doc_rows()
    missing = [n for n in MANUAL_METHODS + MANUAL_EVENTS if n not in rows]
    assert not missing, f"docs/compat.md lacks rows for {missing}"
    with compat.Dispatch("LGUBaseOpenApi.LGUBaseOpenApiCtrl.1") as api:
        for name, supported in rows.items():
            if name.startswith("Send") and name.endswith("Event"):
                continue
            if supported.startswith("yes") and "." not in name:
                assert hasattr(api, name), f"{name} is marked supported but the facade lacks it"
    events = set(EVENT_CALLBACKS.values()) | {"SendNetworkErrorEvent", "SendEtcEvent", "SendCmdErrorEvent"}
    assert set(MANUAL_EVENTS) <= events


stack = module_stack(extens="3001-3005")


def test_less_common_methods_against_the_emulator(stack):
    uid, pw = generated_id("3001"), generated_password("3001")
    api = compat.DispatchWithEvents("LGUBaseOpenApi.LGUBaseOpenApiCtrl.1", Events, oam=stack.oam,
                                    oam_ca=stack.stack.ca_file)
    try:
        assert api.LoginServer(uid, pw, "")
        stack.admin("/calls", {"from": "01012345678", "to": uid})
        api.wait("ring")
        api.Answer()
        api.wait("channellist")

        def step(call, kind):
            m = len(api.seen)
            call()
            return api.wait(kind, m)

        assert step(api.StartRecord, "result")[1].startswith("CMDRESULT|CMD:MONITOR|ACT:START|RES:OK")
        assert step(api.StopRecord, "result")[1].startswith("CMDRESULT|CMD:MONITOR|ACT:STOP|RES:OK")
        assert "CONFMEMBERADD" in step(lambda: api.RedirectConference("7001"), "etc")[2]
        assert step(lambda: api.GetListConfMember("7001"), "result")[1].startswith("CMDRESULT|CMD:GETLISTCONFMEMBER|")
        assert "CONFMEMBERDEL" in step(api.HangUpDst, "etc")[2]
        step(api.HangUp, "channelout")
        assert step(lambda: api.SendSIPCommand("CMD GETVARINFO AGENT=3001 NAME=EXTEN"), "result")[1].startswith(
            "CMDRESULT|CMD:GETVARINFO|")
        with pytest.raises(ValueError, match="CMD"):
            api.SendSIPCommand("GETVARINFO")  # the control would send it and fail later; we refuse at once
        assert step(lambda: api.GetQStatus("", "", ""), "result")[1].startswith("CMDRESULT|CMD:GETQSTATUS|")
        assert step(lambda: api.GetRecordList("", "20000101", "20991231", ""), "result")[1].startswith(
            "CMDRESULT|CMD:GETRECORDLIST|")
        assert step(lambda: api.SetUserInfo("NAME", "홍길동"), "result")[1] == "CMDRESULT|CMD:SETUSERINFO|RES:OK"
        assert step(lambda: api.Pickup("3002"), "cmderror")[1] == "PICKUP"  # nothing rings there: the server says so
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            assert step(lambda: api.JoinConference("7001"), "cmderror")[1] == "JOINCONF"
        assert api.callback_errors == 0
    finally:
        api.close()
