"""A synchronous drop-in for the vendor's ActiveX control, with the vendor's names.

Programs written for the control through win32com port by swapping one import::

    # from win32com.client import DispatchWithEvents
    from lguapi.compat import DispatchWithEvents

    class Events:
        def OnSendLoginResultEvent(self, text): print("login", text)
        def OnSendRingEvent(self, text): print("ring", text)
        def OnSendNetworkErrorEvent(self): print("network error")

    api = DispatchWithEvents("LGUBaseOpenApi.LGUBaseOpenApiCtrl.1", Events)
    api.SetSeedEncryption()
    api.ConnectServer("127.0.0.1", "8086", "07012340321", password)
    api.Click2Call("01012345678", "", "")

What matches the control:

* Method names (looked up case-insensitively, as IDispatch does: ``PickUp``, ``UnHold``,
  ``Atxfer`` and ``HangupChannel`` all work) and arguments, including the methods real
  integrations call beyond the manual (``GetVarInfo``, ``GetQStatus``, ...).
* Defaults: the basic cipher is on (``SetEncryption(1)``), SEED is off until
  ``SetSeedEncryption()``, heartbeat 20 s, auto-reconnect 30 s.
* Events: ``On<EventName>`` handlers receive the exact raw strings (``OnSendRingEvent(text)``,
  ``OnSendEtcEvent(name, text)``, ``OnSendCmdErrorEvent(cmd, msg)``, ``OnSendDtmfEvent(text)``,
  ``OnSendNetworkErrorEvent()``...), all on **one** thread (``lguapi-events``), in the order
  the server sent them. A handler that raises is logged with its traceback and counted in
  ``callback_errors``; it never stops later events.
* Command methods return at once; their answers arrive as events. A command that cannot be
  sent (not connected, no current call) raises ``OnSendCmdErrorEvent(<CMD>, reason)`` like
  the control's own errors; connection failures in ``LoginServer``/``ConnectServer`` raise
  ``OnSendCmdErrorEvent("Connect", reason)`` (the vendor's sample page filters exactly that).
  Bad arguments (too-long SMS text, a number with spaces) raise ``ValueError`` at once —
  the one deliberate difference: the control would send them and fail later.

``LoginServer`` and ``ConnectServer`` block until the login result has been delivered (or
``login_timeout`` passed) and return True on success.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import warnings
from typing import Any, Callable

from .client import Client
from .errors import LguapiError, LoginError
from .events import Disconnected, LoggedIn, Reconnected

__all__ = ["LGUBaseOpenApi", "DispatchWithEvents", "PumpWaitingMessages", "EVENT_CALLBACKS"]

log = logging.getLogger("lguapi.compat")

#: wire event name -> vendor callback (events not listed go to SendEtcEvent(name, text))
EVENT_CALLBACKS = {
    "LOGINRESULT": "SendLoginResultEvent",
    "RINGEVENT": "SendRingEvent",
    "CHANNELLIST": "SendChannelListEvent",
    "CHANNELOUT": "SendChannelOutEvent",
    "CMDRESULT": "SendCommandResultEvent",
    "RECVPEERMSG": "SendPeerMsgEvent",
    "RECVSMS": "SendSMSEvent",
    "DTMFEVENT": "SendDtmfEvent",
}

_STOP = object()


def _event_name(text: str) -> str:
    cut = len(text)
    for sep in ("|", " "):
        i = text.find(sep)
        if 0 <= i < cut:
            cut = i
    return text[:cut]


def _cmd_error_fields(text: str) -> tuple[str, str]:
    """``CMDERROR|CMD:HOLD|MSG:no current call`` -> ``("HOLD", "no current call")``."""
    from lgucore import tokenize

    m = tokenize(text.encode("utf-8"), charset="utf-8")
    return m.get("CMD", ""), m.get("MSG", "")


class LGUBaseOpenApi:
    """The control's methods and events over :class:`lguapi.Client`, synchronously.

    ``oam_ca`` (a CA file) and ``oam_verify`` configure the HTTPS check of OAM discovery;
    ``login_timeout`` bounds ``LoginServer``/``ConnectServer``. Further keywords
    (``seed_key``, ``basic_key``, ``charset``, ``byteorder``, ``backups``, ``tls``) go to
    the :class:`~lguapi.Client`. Event handlers are ``On<EventName>`` methods of a
    subclass, of the class given to :func:`DispatchWithEvents`, or attributes set on the
    instance (``api.OnSendRingEvent = print``).
    """

    def __init__(self, *, oam_ca: str | None = None, oam_verify: bool = True, login_timeout: float = 15.0,
                 **client_options: Any) -> None:
        self._options = dict(client_options)
        self._oam_ca = oam_ca
        self._oam_verify = oam_verify
        self._login_timeout = float(login_timeout)
        self._cipher = "basic"  # the control's default: SetEncryption(1)
        self._heartbeat = 20
        self._auto_reconnect = 30
        self._oam: str | None = None
        self._client: Client | None = None
        self._tasks: set = set()
        self._lost_reported = False
        #: handlers that raised (each is logged with its traceback)
        self.callback_errors = 0
        self._events: queue.Queue = queue.Queue()
        self._loop = asyncio.new_event_loop()
        self._io = threading.Thread(target=self._loop.run_forever, name="lguapi-io", daemon=True)
        self._io.start()
        self._dispatcher = threading.Thread(target=self._dispatch_forever, name="lguapi-events", daemon=True)
        self._dispatcher.start()
        self._closed = False

    def __repr__(self) -> str:
        c = self._client
        state = "logged in" if c is not None and c.is_logged_in else "not connected"
        return f"<LGUBaseOpenApi {state} cipher={self._cipher}>"

    # --- threads --------------------------------------------------------------------

    def _run(self, coro, timeout: float | None = None):
        if self._closed:
            coro.close()
            raise RuntimeError("this LGUBaseOpenApi object is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _post(self, callback: str, *args: Any) -> None:
        self._events.put((callback, args))

    def _dispatch_forever(self) -> None:
        while True:
            item = self._events.get()
            if item is _STOP:
                return
            name, args = item
            handler: Callable | None = getattr(self, "On" + name, None)
            if handler is None:
                continue
            try:
                handler(*args)
            except Exception:  # a handler's bug must not stop the events after it
                self.callback_errors += 1
                log.exception("event handler On%s raised", name)

    def close(self) -> None:
        """Disconnect and stop the background threads (Python only; the control has no equivalent)."""
        if self._closed:
            return
        try:
            self.DisconnectServer()
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._io.join(5)
            self._events.put(_STOP)
            if threading.current_thread() is not self._dispatcher:
                self._dispatcher.join(5)
            self._loop.close()

    def __enter__(self) -> LGUBaseOpenApi:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def wait_events(self, timeout: float = 5.0) -> bool:
        """Block until every event received so far has been handled (True) or ``timeout`` passed."""
        done = threading.Event()
        self._loop.call_soon_threadsafe(self._events.put, ("_Flushed", (done,)))
        return done.wait(timeout)

    def On_Flushed(self, done: threading.Event) -> None:  # internal marker, runs on the event thread
        done.set()

    # --- events from the client (io thread) ------------------------------------------

    def _on_text(self, text: str) -> None:
        name = _event_name(text)
        if name == "PING":
            return  # answered by the client; the control shows nothing
        if name == "BYE":
            self._report_lost()
            return
        if name == "CMDERROR":
            self._post("SendCmdErrorEvent", *_cmd_error_fields(text))
            return
        cb = EVENT_CALLBACKS.get(name)
        if cb is None:
            self._post("SendEtcEvent", name, text)
        else:
            self._post(cb, text)

    def _on_disconnected(self, ev: Disconnected) -> None:
        self._report_lost()

    def _on_logged_in(self, ev) -> None:
        # a new session: its loss is reported again (once), like the control after a reconnect
        self._lost_reported = False

    def _report_lost(self) -> None:
        if not self._lost_reported:
            self._lost_reported = True
            self._post("SendNetworkErrorEvent")

    # --- system methods (manual §2) ----------------------------------------------------

    def LoginServer(self, strId: str, strPasswd: str, strServer: str = "") -> bool:
        """Log in; ``strServer`` "" asks the OAM server (``SetOamServerIP``), else connects to ``<ip>:8086``."""
        host = (strServer or "").strip() or None
        if host is None and not self._oam:
            self._post("SendCmdErrorEvent", "Connect", "no server: call SetOamServerIP('ip:port') or give a server")
            return False
        return self._login(host, 8086, strId, strPasswd)

    def ConnectServer(self, strAddress: str, strPort, strUserID: str, strUserPwd: str) -> bool:
        """Connect to ``strAddress:strPort`` and log in (the vendor's development entry)."""
        try:
            port = int(strPort)
        except (TypeError, ValueError):
            raise ValueError(f"port must be a number, not {strPort!r}") from None
        return self._login(strAddress, port, strUserID, strUserPwd)

    def _login(self, host: str | None, port: int, user_id: str, password: str) -> bool:
        self.DisconnectServer(_report=False)
        opts = dict(self._options)
        client = Client(host, port, cipher=self._cipher, heartbeat=self._heartbeat,
                        auto_reconnect=self._auto_reconnect, oam=self._oam, oam_ca=self._oam_ca,
                        oam_verify=self._oam_verify, **opts)
        client.add_text_hook(self._on_text)
        client.on(Disconnected, self._on_disconnected)
        client.on(LoggedIn, self._on_logged_in)
        client.on(Reconnected, self._on_logged_in)
        self._client = client
        self._lost_reported = False

        async def go():
            return await client.login(user_id, password)

        try:
            self._run(go(), self._login_timeout)
            return True
        except LoginError:
            return False  # the LOGINRESULT itself reached OnSendLoginResultEvent
        except (LguapiError, OSError, TimeoutError) as exc:
            self._post("SendCmdErrorEvent", "Connect", str(exc))
            return False

    def DisconnectServer(self, _report: bool = True) -> None:
        """Close the connection (the control then raises SendNetworkErrorEvent)."""
        client, self._client = self._client, None
        if client is None or self._closed:
            return
        if not _report:
            client.remove_text_hook(self._on_text)
            client.off(Disconnected, self._on_disconnected)
        try:
            self._run(client.close(), 30)
        except Exception:
            log.exception("closing the connection failed")

    def SetEncryption(self, nUse: int) -> None:
        """1: the basic cipher (default), 0: plain text. Takes effect at the next login."""
        self._cipher = "basic" if int(nUse) else "none"

    def SetSeedEncryption(self) -> None:
        """Use SEED (recommended) from the next login on."""
        self._cipher = "seed"

    def SetHeartBeat(self, nTime: int) -> None:
        """Seconds between heartbeats (the control caps it at 30). Takes effect at the next login."""
        n = int(nTime)
        if n > 30:
            warnings.warn(f"SetHeartBeat({n}): the vendor caps the heartbeat at 30 s; using 30", stacklevel=2)
            n = 30
        self._heartbeat = n

    def SetAutoReconnect(self, nTime: int) -> None:
        """Seconds between reconnect attempts after a loss (0: off). Takes effect at the next login."""
        self._auto_reconnect = max(0, int(nTime))

    def SetOamServerIP(self, strIp: str) -> None:
        """``"ip:port"`` of the OAM server that ``LoginServer(id, pwd, "")`` asks."""
        self._oam = strIp.strip() or None

    def IsConnected(self) -> bool:
        c = self._client
        return bool(c is not None and c.is_connected and c.is_logged_in)

    # --- CTI methods (manual §3) ----------------------------------------------------

    def _fire(self, cmd: str, method: str, *args: Any, **kwargs: Any) -> None:
        client = self._client
        if client is None:
            self._post("SendCmdErrorEvent", cmd, "not connected")
            return

        async def start():
            task = asyncio.ensure_future(getattr(client, method)(*args, **kwargs))
            await asyncio.sleep(0)  # run the command up to its send: argument and state checks
            if task.done():
                return task.exception()
            self._tasks.add(task)
            task.add_done_callback(self._settled)
            return None

        exc = self._run(start(), 30)
        if exc is None:
            return
        if isinstance(exc, ValueError) and not isinstance(exc, LguapiError):
            raise exc
        if isinstance(exc, LguapiError):
            self._post("SendCmdErrorEvent", cmd, str(exc))
            return
        raise exc

    def _settled(self, task) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # the server's own CMDERROR already reached OnSendCmdErrorEvent; the rest is logged
            log.debug("command ended with %r", exc)

    def Click2Call(self, strPhoneNum: str, strCID: str = "", strContext: str = "") -> None:
        self._fire("CLICKCALL", "click2call", strPhoneNum, strCID or "", strContext or "")

    def Answer(self) -> None:
        self._fire("ANSWER", "answer")

    def Hold(self) -> None:
        self._fire("HOLD", "hold")

    def Unhold(self) -> None:
        self._fire("UNHOLD", "unhold")

    def Pickup(self, strPickup: str = "") -> None:
        self._fire("PICKUP", "pickup", strPickup or "")

    def HangUp(self) -> None:
        self._fire("HANGUP", "hangup")

    def HangUpDst(self) -> None:
        self._fire("HANGUP", "hangup_dst")

    def HangUpChannel(self, strChannel: str) -> None:
        self._fire("HANGUP", "hangup_channel", strChannel)

    def StartRecord(self) -> None:
        self._fire("MONITOR", "start_record")

    def StopRecord(self) -> None:
        self._fire("MONITOR", "stop_record")

    def Transfer(self, strExten: str) -> None:
        self._fire("TRANSFER", "transfer", strExten)

    def AtXfer(self, strExten: str) -> None:
        self._fire("ATXFER", "atxfer", strExten)

    def AtXferCID(self, strExten: str, strExtenCID: str) -> None:
        warnings.warn("AtXferCID was withdrawn by the vendor; use AtXfer", DeprecationWarning, stacklevel=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._fire("ATXFERCID", "atxfer_cid", strExten, strExtenCID)

    def RedirectConference(self, room: str) -> None:
        self._fire("REDIRECTCONF", "redirect_conference", room)

    def InviteConference(self, room: str, peers: str) -> None:
        self._fire("INVITECONF", "invite_conference", room, peers)

    def JoinConference(self, room: str) -> None:
        warnings.warn("JoinConference was withdrawn by the vendor", DeprecationWarning, stacklevel=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._fire("JOINCONF", "join_conference", room)

    def CallWithConference(self, room: str, strPeers: str) -> None:
        self._fire("CALLWITHCONF", "call_with_conference", room, strPeers)

    def RemoveConference(self, room: str, channels: str) -> None:
        self._fire("REMOVECONF", "remove_conference", room, channels)

    def SendSIPCommand(self, strCommand: str) -> None:
        self._fire("SIPCOMMAND", "send_sip_command", strCommand)

    def SendSMS(self, strType: str, strInfo: str, strPeers: str, strMsg: str) -> None:
        self._fire("SENDSMS", "send_sms", strPeers, strMsg, type=(strType or "0").strip() or "0",
                   info=(strInfo or "").strip())

    def SendPeerMsg(self, strType: str, strInfo: str, strPeers: str, strMsg: str) -> None:
        self._fire("SENDPEERMSG", "send_peer_msg", strPeers, strMsg, type=(strType or "0").strip() or "0",
                   info=(strInfo or "").strip())

    def SetForward(self, strUse: str, strForwardType: str = "", strForwardCall: str = "", strStartDayTime: str = "",
                   strEndDayTime: str = "", strEtc: str = "") -> None:
        self._fire("SETFORWARD", "set_forward", (strUse or "").strip(), (strForwardType or "").strip(),
                   (strForwardCall or "").strip(), (strStartDayTime or "").strip(), (strEndDayTime or "").strip(),
                   (strEtc or "").strip())

    def GetPeerInfo(self, strPeer: str) -> None:
        self._fire("GETPEERINFO", "get_peer_info", strPeer)

    def GetCallHistory(self, strSearchCat: str, strInOut: str, strStart: str, strEnd: str, strSearch: str) -> None:
        self._fire("GETCALLHISTORY", "get_call_history", strSearchCat, strInOut, strStart, strEnd, strSearch)

    def GetStatusPeers(self, strPeers: str, room: str = "") -> None:
        self._fire("GETSTATUSPEERS", "get_status_peers", strPeers, room or "")

    def GetRecvSmsList(self, page=1, strCat: str = "") -> None:
        self._fire("GETRECVSMSLIST", "get_recv_sms_list", page, strCat or "")

    def GetVarInfo(self, name: str) -> None:
        self._fire("GETVARINFO", "get_var_info", name)

    def GetQStatus(self, strType: str = "", strQName: str = "", strMember: str = "") -> None:
        self._fire("GETQSTATUS", "get_queue_status", strType, strQName, strMember)

    def GetRecordList(self, strInOut: str = "", strStart: str = "", strEnd: str = "", strSearch: str = "") -> None:
        self._fire("GETRECORDLIST", "get_record_list", strInOut, strStart, strEnd, strSearch)

    def GetListConfMember(self, room: str) -> None:
        self._fire("GETLISTCONFMEMBER", "get_conference_members", room)

    def MagAddrList(self, strType: str, strKeyIdx: str = "", strGName: str = "", strPName: str = "", strTel1: str = "",
                    strTel2: str = "", strTel3: str = "", strTel4: str = "", strTel5: str = "", strDef: str = "",
                    strMemo: str = "") -> None:
        self._fire("MAGADDRLIST", "address_book", strType, keyidx=strKeyIdx, gname=strGName, pname=strPName,
                   tel1=strTel1, tel2=strTel2, tel3=strTel3, tel4=strTel4, tel5=strTel5, default=strDef, memo=strMemo)

    def SetUserInfo(self, strKey: str, strVal: str) -> None:
        self._fire("SETUSERINFO", "set_user_info", strKey, strVal)

    # --- IDispatch-style case-insensitive lookup ---------------------------------------

    def __getattr__(self, name: str):
        # only called when normal lookup fails: PickUp, UnHold, Atxfer, HangupChannel, ...
        if name.startswith("_"):
            raise AttributeError(name)
        target = _METHODS.get(name.lower())
        if target is None or target == name:
            raise AttributeError(f"LGUBaseOpenApi has no method {name!r}")
        return getattr(self, target)


_METHODS = {n.lower(): n for n in vars(LGUBaseOpenApi) if n[:1].isupper()}


def DispatchWithEvents(progid: Any, user_event_class: type | None = None, **options: Any) -> LGUBaseOpenApi:
    """The win32com entry point: an :class:`LGUBaseOpenApi` whose events call ``user_event_class``'s methods.

    ``progid`` is accepted and ignored (there is no COM here). ``options`` go to
    :class:`LGUBaseOpenApi`.
    """
    if user_event_class is None:
        return LGUBaseOpenApi(**options)
    cls: type[LGUBaseOpenApi] = type(f"{user_event_class.__name__}LGUBaseOpenApi",
                                     (LGUBaseOpenApi, user_event_class), {})
    obj = cls.__new__(cls)
    LGUBaseOpenApi.__init__(obj, **options)
    init = user_event_class.__dict__.get("__init__")
    if init is not None:
        init(obj)
    return obj


def PumpWaitingMessages(timeout: float = 0.05) -> int:
    """Kept for ported message loops: events already arrive on their own thread, so this just sleeps."""
    threading.Event().wait(timeout)
    return 0


