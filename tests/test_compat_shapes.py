"""Call shapes of the programs in the wild, replayed through the facade against the emulator.

* the vendor's MFC sample: a dialog with the control's wrapper class, ``short`` numbers,
  ``ConnectServer(ip, "8086", id, pwd)`` with the port as text, an event sink per event;
* a JSP/JS page (the manual's §6.2 sample and production pages derived from it):
  ``document.all.EventClientCtrl.<Method>`` with JavaScript values: numbers where the
  manual says text, ``' '`` for empty fields, five-argument ``SetForward``, the page's
  ``Click2Call(num, "outbound", "")``, ``readyState == 4`` before anything, and
  ``DisconnectServer()`` called from inside ``OnSendNetworkErrorEvent``.

Both run with ``events="pump"``: the dialog's and the browser's UI thread pump messages.
"""
from __future__ import annotations

from kit.compat import Events, module_stack
from lguapi import compat
from lguapi.server import generated_id, generated_password

PROGID = "LGUBaseOpenApi.LGUBaseOpenApiCtrl.1"


stack = module_stack(extens="3001-3006")


def no_python_errors(api):
    assert api.callback_errors == 0


def test_mfc_sample_shapes(stack):
    """CDialog::OnInitDialog / OnBnClicked* of the vendor's VC++ sample, in call order."""
    uid, pw = generated_id("3001"), generated_password("3001")
    api = compat.DispatchWithEvents(PROGID, Events, events="pump")
    try:
        # OnInitDialog: short values, basic cipher, then the development entry with the port as text
        api.SetEncryption(1)
        api.SetHeartBeat(15)
        api.SetAutoReconnect(15)
        assert api.ConnectServer("127.0.0.1", str(stack.stack.port), uid, pw) == True  # noqa: E712 - BOOL
        assert api.wait("login")[1].startswith("LOGINRESULT|STATUS:1|EXTEN:3001|")
        assert api.IsConnected()
        # OnBnClickedDial / OnBnClickedHangup
        m = len(api.seen)
        api.Click2Call("01012345678", "", "")
        assert "ISDIAL:1" in api.wait("ring", m)[1]
        api.HangUp()
        api.wait("channelout", m)
        # an inbound call: answer, hold/unhold, attended transfer to 3002, then hang up
        m = len(api.seen)
        stack.admin("/calls", {"from": "01099998888", "to": uid})
        api.wait("ring", m)
        api.Answer()
        api.wait("channellist", m)
        m = len(api.seen)
        api.Hold()
        assert api.wait("result", m)[1] == "CMDRESULT|CMD:HOLD|RES:OK"
        m = len(api.seen)
        api.Unhold()
        assert api.wait("result", m)[1] == "CMDRESULT|CMD:UNHOLD|RES:OK"
        m = len(api.seen)
        api.AtXfer("3002")
        assert "Local/3002@" in api.wait("channellist", m)[1]  # the consultation leg to 3002
        api.HangUp()
        api.wait("channelout", m)
        # OnBnClickedSms / PeerMsg / queries: the sample's argument shapes
        m = len(api.seen)
        api.SendSMS("0", "", "01012345678", "MFC 샘플 문자")
        assert "CMD:SENDSMS" in api.wait("result", m)[1]
        m = len(api.seen)
        api.SendPeerMsg("0", "", "3002", "내선 메시지")
        assert "CMD:SENDPEERMSG" in api.wait("result", m)[1]
        m = len(api.seen)
        api.GetPeerInfo("3001,3002")
        assert api.wait("result", m)[1].startswith("CMDRESULT|CMD:GETPEERINFO|3001:OK:CONN")
        m = len(api.seen)
        api.GetStatusPeers("3001,3002", "")
        assert api.wait("result", m)[1].startswith("CMDRESULT|CMD:GETSTATUSPEERS|")
        m = len(api.seen)
        api.GetCallHistory("1", "0", "20110901", "20991231", "9")
        assert api.wait("result", m)[1].startswith("CMDRESULT|CMD:GETCALLHISTORY|")
        # OnDestroy
        m = len(api.seen)
        api.DisconnectServer()
        api.wait("neterror", m)
        assert not api.IsConnected()
        assert not [e for e in api.seen if e[0] == "cmderror"], api.seen
        no_python_errors(api)
    finally:
        api.close()


class PageEvents(Events):
    """The <script for="EventClientCtrl" event="..."> blocks of the sample page."""

    def OnSendNetworkErrorEvent(self):
        super().OnSendNetworkErrorEvent()
        self.DisconnectServer()  # document.all.EventClientCtrl.DisconnectServer(); BtnCONN.value="접속"


def test_jsp_page_shapes(stack):
    uid, pw = generated_id("3003"), generated_password("3003")
    ctrl = compat.DispatchWithEvents("{86019F2F-2899-4C4C-A6FE-24CFF7CD6D4C}", PageEvents, events="pump",
                                     oam=stack.oam, oam_ca=stack.stack.ca_file)
    try:
        assert ctrl.readyState == 4  # READY=1
        # sConnect(): SetAutoReconnect(20) (a JS number), SetSeedEncryption() when ticked, LoginServer(id, pwd, "")
        ctrl.SetAutoReconnect(20)
        ctrl.SetSeedEncryption()
        ctrl.LoginServer(uid, pw, "")
        assert "STATUS:1" in ctrl.wait("login")[1]
        assert ctrl.IsConnected() is True  # CheckConnect(): alert("연결상태 : " + bConnect)
        # dial(): Click2Call(inputnum.value, "outbound", "")
        m = len(ctrl.seen)
        ctrl.Click2Call("01012345678", "outbound", "")
        assert "ISDIAL:1" in ctrl.wait("ring", m)[1]
        ctrl.HangUp()  # hangup()
        ctrl.wait("channelout", m)
        # an inbound call: answer(), hold(), hold(1) -> UnHold(), then hangupChannel(Primarychan1.value)
        m = len(ctrl.seen)
        stack.admin("/calls", {"from": "01077776666", "to": uid})
        ctrl.wait("ring", m)
        ctrl.Answer()
        talking = ctrl.wait("channellist", m)[1]  # setInfoval() keeps CHANNEL2 in Primarychan1
        own = next(f.split(":", 1)[1] for f in talking.split("|") if f.startswith("CHANNEL2:"))
        m = len(ctrl.seen)
        ctrl.Hold()
        ctrl.wait("result", m)
        m = len(ctrl.seen)
        ctrl.UnHold()
        assert ctrl.wait("result", m)[1] == "CMDRESULT|CMD:UNHOLD|RES:OK"
        m = len(ctrl.seen)
        ctrl.HangupChannel(own)
        ctrl.wait("channelout", m)
        # OAM functions with the page's values: ' ' for empty, numbers from form fields
        for call, cmd in [
            (lambda: ctrl.SendPeerMsg("0", " ", "3004", "안녕하세요"), "SENDPEERMSG"),
            (lambda: ctrl.GetPeerInfo("3003,3004"), "GETPEERINFO"),
            (lambda: ctrl.GetStatusPeers("3003,3004", ""), "GETSTATUSPEERS"),
            (lambda: ctrl.SetForward("1", "1", "01012345678", "", "", ""), "SETFORWARD"),
            (lambda: ctrl.SetForward("0", " ", " ", " ", " "), "SETFORWARD"),  # the 착전해제 button: five arguments
            (lambda: ctrl.GetCallHistory(1, 0, "2011-09-01 00:00:00", "2099-09-30 23:59:59", 9), "GETCALLHISTORY"),
            (lambda: ctrl.GetCallHistory("1", "", "20110901", "20991231", "9"), "GETCALLHISTORY"),
            (lambda: ctrl.GetRecvSmsList("1", ""), "GETRECVSMSLIST"),
            (lambda: ctrl.GETRECVSMSLIST(1, ""), "GETRECVSMSLIST"),
        ]:
            m = len(ctrl.seen)
            call()
            assert f"CMD:{cmd}" in ctrl.wait("result", m)[1]
        m = len(ctrl.seen)
        ctrl.GetVarInfo("EXTEN")  # GetVarinfo(name), beyond the manual
        assert ctrl.wait("result", m)[1] == "CMDRESULT|CMD:GETVARINFO|NAME:EXTEN|VALUE:3003"
        # a duplicate login elsewhere: the page's OnSendNetworkErrorEvent calls DisconnectServer() itself
        m = len(ctrl.seen)
        other = compat.DispatchWithEvents(PROGID, Events, oam=stack.oam, oam_ca=stack.stack.ca_file)
        try:
            assert other.LoginServer(uid, pw, "")
            ctrl.wait("neterror", m)
        finally:
            other.close()
        assert ctrl.wait_events()
        assert [e[0] for e in ctrl.seen[m:]].count("neterror") == 1
        assert ctrl.IsConnected() is False
        assert not [e for e in ctrl.seen if e[0] == "cmderror"], ctrl.seen
        no_python_errors(ctrl)
    finally:
        ctrl.close()
