"""LGUBaseOpenApi: the vendor's ActiveX control as a Python object, with its method names, defaults and events.

Programs written for the control through win32com port by swapping one import (or with
no edit at all through ``python -m lguapi.compat.run``, see :mod:`lguapi.compat.run`)::

    from lguapi.compat import DispatchWithEvents

    class Events:
        def OnSendLoginResultEvent(self, text): print("login", text)
        def OnSendRingEvent(self, text): print("ring", text)

    api = DispatchWithEvents("LGUBaseOpenApi.LGUBaseOpenApiCtrl.1", Events)
    api.SetSeedEncryption()
    api.ConnectServer("127.0.0.1", "8086", "07012343001", "secret-3001")

What matches the control:

* Method names, looked up case-insensitively as IDispatch does (``PickUp``, ``UnHold``,
  ``Atxfer``, ``HangupChannel``), and arguments, including the methods real integrations
  call beyond the manual (``GetVarInfo``, ``GetQStatus``, ...); ``readyState`` is 4.
* Defaults: the basic cipher (``SetEncryption(1)``), SEED off until ``SetSeedEncryption()``,
  heartbeat 20 s, auto-reconnect 30 s, and a built-in OAM address for
  ``LoginServer(id, pwd, "")``: ``oam=`` or the ``LGUAPI_OAM`` environment variable.
* Events: ``On<EventName>`` handlers receive the exact raw strings, in the order the server
  sent them, either on one ``lguapi-events`` thread (``events="thread"``, the default of
  this direct API) or inside ``PumpWaitingMessages()``/``PumpMessages()`` on the thread that
  made the object (``events="pump"``, win32com's single-threaded apartment, the default of
  the stand-in ``win32com``). A handler that raises is logged and counted in
  ``callback_errors``; later events still arrive.
* Command methods return at once; answers arrive as events. A command that cannot be sent
  raises ``OnSendCmdErrorEvent(<CMD>, reason)``; connection failures of
  ``LoginServer``/``ConnectServer`` raise ``OnSendCmdErrorEvent("Connect", reason)``.
* Lifetime: an object whose last reference goes, or that is closed, logs out and leaves
  no thread or event loop behind, like a released COM object.

Deliberate differences: ``LoginServer``/``ConnectServer`` block until the login result
(or ``login_timeout``) and return True on success; bad arguments (an SMS over the limit,
a number with spaces) raise ``ValueError`` at once instead of failing on the server.
"""
from __future__ import annotations

import os
import warnings
import weakref
from collections.abc import Callable
from typing import Any

from ..discovery import parse_address
from .delivery import Delivery, PumpDelivery, ThreadDelivery, apartment
from .engine import Engine

__all__ = ["LGUBaseOpenApi", "READYSTATE_COMPLETE", "OAM_ENV", "OAM_CA_ENV"]

#: the value of ``readyState`` while the object can be used (the browser's READYSTATE_COMPLETE)
READYSTATE_COMPLETE = 4
#: environment variable with the default OAM address (``host:port``) of ``LoginServer(id, pwd, "")``
OAM_ENV = "LGUAPI_OAM"
#: environment variable with the CA file that verifies the OAM server's certificate
OAM_CA_ENV = "LGUAPI_OAM_CA"

_CIPHERS = ("basic", "seed", "none")
_EVENTS = ("thread", "pump")
_OWN_OPTIONS = ("host", "port")


class LGUBaseOpenApi:
    """The control's methods and events over :class:`lguapi.Client`, synchronously.

    Keywords: ``events`` ``"thread"`` (default) or ``"pump"`` (see the module docstring);
    ``oam`` (``host:port``, default ``$LGUAPI_OAM``), ``oam_ca`` (CA file, default
    ``$LGUAPI_OAM_CA``) and ``oam_verify`` configure OAM discovery; ``cipher``
    (``"basic"``, ``"seed"``, ``"none"``), ``heartbeat`` and ``auto_reconnect`` set what
    ``SetEncryption``/``SetSeedEncryption``, ``SetHeartBeat`` and ``SetAutoReconnect``
    would; ``login_timeout`` bounds ``LoginServer``/``ConnectServer``; ``max_pending_events``
    (10000, the size of a Windows thread's message queue) bounds the events waiting for
    their handlers: beyond it new events are dropped, counted in :attr:`events_dropped`
    and logged, so a thread that never pumps cannot grow without end. Further keywords
    (``seed_key``, ``basic_key``, ``charset``, ``byteorder``, ``backups``, ``tls``,
    ``command_timeout``) go to the :class:`~lguapi.Client`. Event handlers are
    ``On<EventName>`` methods of a subclass, of the class given to ``DispatchWithEvents``,
    of objects given to ``WithEvents``, or attributes set on the instance.
    """

    def __init__(self, *, events: str = "thread", oam: str | None = None, oam_ca: str | None = None,
                 oam_verify: bool = True, cipher: str = "basic", heartbeat: int = 20, auto_reconnect: int = 30,
                 login_timeout: float = 15.0, max_pending_events: int = 10000, **client_options: Any) -> None:
        if events not in _EVENTS:
            raise ValueError(f"events must be one of {', '.join(_EVENTS)}, not {events!r}")
        if cipher not in _CIPHERS:
            raise ValueError(f"cipher must be one of {', '.join(_CIPHERS)}, not {cipher!r}")
        if not float(login_timeout) > 0:
            raise ValueError(f"login_timeout must be > 0 seconds, not {login_timeout!r}")
        clash = [k for k in _OWN_OPTIONS if k in client_options]
        if clash:
            raise ValueError(f"{', '.join(clash)}: given to LoginServer/ConnectServer, not to the constructor")
        self._options = dict(client_options)
        self._oam = (oam if oam is not None else os.environ.get(OAM_ENV, "")).strip() or None
        self._oam_ca = oam_ca if oam_ca is not None else (os.environ.get(OAM_CA_ENV) or None)
        self._oam_verify = bool(oam_verify)
        self._login_timeout = float(login_timeout)
        self._cipher = cipher
        self._heartbeat = 20
        self._auto_reconnect = 30
        self.SetHeartBeat(heartbeat)
        self.SetAutoReconnect(auto_reconnect)
        self._sinks: list[Callable[[], Any]] = []
        #: handlers that raised (each is logged with its traceback)
        self.callback_errors = 0
        me = weakref.ref(self)
        self._delivery: Delivery = (ThreadDelivery(me, max_pending=max_pending_events) if events == "thread"
                                    else PumpDelivery(me, apartment(), max_pending=max_pending_events))
        self._events_mode = events
        self._engine = Engine(self._delivery.post)
        self._finalizer = weakref.finalize(self, _release, self._engine, self._delivery)

    def __repr__(self) -> str:
        state = "logged in" if self._engine.is_connected() else "closed" if self._engine.closed else "not connected"
        return f"<LGUBaseOpenApi {state} cipher={self._cipher} events={self._events_mode}>"

    # --- Python-side lifetime and events (the control has no equivalent) ---------------

    def close(self) -> None:
        """Log out and stop this object's threads now (what dropping the last reference does later)."""
        self._finalizer()

    def __enter__(self) -> LGUBaseOpenApi:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def readyState(self) -> int:
        """4 (READYSTATE_COMPLETE) while the object can be used, 0 once closed."""
        return 0 if self._engine.closed else READYSTATE_COMPLETE

    @property
    def events_dropped(self) -> int:
        """Events dropped because ``max_pending_events`` were already waiting for their handlers."""
        return self._delivery.backlog.dropped

    @property
    def events_mode(self) -> str:
        """``"thread"`` or ``"pump"``: where this object's handlers run."""
        return self._events_mode

    def wait_events(self, timeout: float = 5.0) -> bool:
        """Block until every event received so far has been handled (True) or ``timeout`` passed.

        With ``events="pump"`` on the object's own thread this pumps while it waits.
        """
        if not self._engine.closed:
            self._engine.run(_nothing(), timeout)  # what the loop already read is posted first
        return self._delivery.flush(timeout)

    def advise(self, sink: object) -> None:
        """Send events to ``sink``'s ``On<EventName>`` methods too (what ``WithEvents`` does).

        The object keeps only a weak reference: when the sink goes, its events stop.
        """
        try:
            ref: Callable[[], Any] = weakref.ref(sink)
        except TypeError:
            ref = lambda: sink  # noqa: E731 - objects without weak references stay until unadvise
        self._sinks.append(ref)

    def unadvise(self, sink: object) -> None:
        """Stop sending events to ``sink``."""
        self._sinks = [r for r in self._sinks if r() is not sink and r() is not None]

    def event_handlers(self, name: str) -> list[Callable[..., Any]]:
        """The callables that receive the vendor event ``name`` (``SendRingEvent``), in call order."""
        attr = "On" + name
        found = [getattr(t, attr) for t in (self, *(r() for r in self._sinks)) if t is not None and hasattr(t, attr)]
        return [h for h in found if callable(h)]

    # --- system methods (manual §2) ----------------------------------------------------

    def LoginServer(self, strId: str, strPasswd: str, strServer: str = "") -> bool:
        """Log in; ``strServer`` "" asks the OAM server, else ``host`` (port 8086) or ``host:port``."""
        server = (strServer or "").strip()
        if not server:
            if not self._oam:
                self._connect_error(f"no server: set {OAM_ENV}=host:port, pass oam=, call SetOamServerIP('ip:port') "
                                    "or give a server")
                return False
            return self._login(None, 8086, strId, strPasswd)
        try:
            host, port = parse_address(server, default_port=8086)
        except ValueError as exc:
            self._connect_error(str(exc))
            return False
        return self._login(host, port, strId, strPasswd)

    def ConnectServer(self, strAddress: str, strPort: Any, strUserID: str, strUserPwd: str) -> bool:
        """Connect to ``strAddress:strPort`` and log in (the vendor's development entry)."""
        try:
            port = int(strPort)
        except (TypeError, ValueError):
            raise ValueError(f"port must be a number, not {strPort!r}") from None
        return self._login(strAddress, port, strUserID, strUserPwd)

    def _connect_error(self, reason: str) -> None:
        self._delivery.post("SendCmdErrorEvent", ("Connect", reason))

    def _login(self, host: str | None, port: int, user_id: str, password: str) -> bool:
        options = dict(self._options, host=host, port=port, cipher=self._cipher, heartbeat=self._heartbeat,
                       auto_reconnect=self._auto_reconnect, oam=self._oam, oam_ca=self._oam_ca,
                       oam_verify=self._oam_verify)
        return self._engine.login(options, user_id, password, self._login_timeout)

    def DisconnectServer(self) -> None:
        """Close the connection (the control then raises SendNetworkErrorEvent)."""
        self._engine.disconnect(report=True)

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
        """``"ip:port"`` of the OAM server that ``LoginServer(id, pwd, "")`` asks (overrides ``oam=``)."""
        self._oam = (strIp or "").strip() or None

    def IsConnected(self) -> bool:
        return self._engine.is_connected()

    # --- CTI methods (manual §3) ------------------------------------------------------

    def _fire(self, cmd: str, method: str, *args: Any, **kwargs: Any) -> None:
        self._engine.fire(cmd, method, *args, **kwargs)

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

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: PickUp, UnHold, Atxfer, HangupChannel, ...
        if name.startswith("_"):
            raise AttributeError(name)
        target = _METHODS.get(name.lower())
        if target is None or target == name:
            raise AttributeError(f"LGUBaseOpenApi has no method {name!r}")
        return getattr(self, target)


_METHODS = {n.lower(): n for n in vars(LGUBaseOpenApi) if not n.startswith(("_", "On"))}


async def _nothing() -> None:
    return None


def _release(engine: Engine, delivery: Delivery) -> None:
    """The finalizer of a control object: log out, end the loop thread, then the event thread."""
    try:
        engine.close()
    finally:
        delivery.close()
