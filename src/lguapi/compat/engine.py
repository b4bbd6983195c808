"""The connection side of one control object: its own event-loop thread, its Client, and the vendor event strings it posts.

An :class:`Engine` never holds a reference to the control object that owns it: it only
calls the ``post(callback_name, args)`` function it was given. That is what lets a
control object be garbage-collected like a COM object whose last reference went; its
finalizer then calls :meth:`Engine.close`, which logs out and joins the thread.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from ..client import Client
from ..errors import LguapiError, LoginError
from ..events import Disconnected, Event, LoggedIn, Reconnected

__all__ = ["Engine", "EVENT_CALLBACKS", "Post"]

log: logging.Logger = logging.getLogger("lguapi.compat")

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

#: ``post("SendRingEvent", (text,))``: hands one vendor event to the delivery side
Post = Callable[[str, tuple], None]


def event_name(text: str) -> str:
    """``RINGEVENT|ISDIAL:0|...`` (or the space-separated form) -> ``RINGEVENT``."""
    cut = len(text)
    for sep in ("|", " "):
        i = text.find(sep)
        if 0 <= i < cut:
            cut = i
    return text[:cut]


def cmd_error_fields(text: str) -> tuple[str, str]:
    """``CMDERROR|CMD:HOLD|MSG:no current call`` -> ``("HOLD", "no current call")``."""
    m = _fields(text)
    return m.get("CMD", ""), m.get("MSG", "")


def _fields(text: str) -> Any:
    from lgucore import tokenize

    return tokenize(text.encode("utf-8"), charset="utf-8")


class Engine:
    """One event loop in one daemon thread (``lguapi-io``) running at most one :class:`Client`.

    All public methods are called from program threads and block until the loop has
    done the work; events leave through ``post`` in the order the server sent them.
    """

    def __init__(self, post: Post) -> None:
        self._post = post
        self._client: Client | None = None
        self._tasks: set[asyncio.Task] = set()
        self._lost_reported = False
        self._login_posted = False  # the LOGINRESULT of this connection said yes (IsConnected is True from then)
        self._closed = False
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=_serve, args=(self._loop,), name="lguapi-io", daemon=True)
        self._thread.start()

    @property
    def client(self) -> Client | None:
        """The current :class:`Client` (None before the first login and after a disconnect)."""
        return self._client

    @property
    def closed(self) -> bool:
        return self._closed

    def is_connected(self) -> bool:
        """Connected and logged in, as soon as a successful LOGINRESULT has been posted."""
        c = self._client
        return bool(c is not None and c.is_connected and (c.is_logged_in or self._login_posted))

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        """Run ``coro`` on the loop and wait for its result (RuntimeError once closed)."""
        if self._closed:
            coro.close()
            raise RuntimeError("this LGUBaseOpenApi object is closed")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a control method was called from the lguapi-io thread")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # --- login and logout -------------------------------------------------------------

    def login(self, client_options: dict[str, Any], user_id: str, password: str, timeout: float) -> bool:
        """Replace any connection by a new :class:`Client` and log in; events report the outcome."""
        self.disconnect(report=False)
        try:
            client = Client(**client_options)
        except ValueError as exc:
            self._post("SendCmdErrorEvent", ("Connect", str(exc)))
            return False
        client.add_text_hook(self._on_text)
        client.on(Disconnected, self._on_disconnected)
        client.on(LoggedIn, self._on_logged_in)
        client.on(Reconnected, self._on_logged_in)
        self._client = client
        self._lost_reported = False
        self._login_posted = False

        async def go() -> None:
            await client.login(user_id, password)

        try:
            self.run(go(), timeout)
            return True
        except LoginError:
            return False  # the LOGINRESULT itself went to SendLoginResultEvent
        except (LguapiError, OSError, TimeoutError) as exc:
            self._post("SendCmdErrorEvent", ("Connect", str(exc) or type(exc).__name__))
            return False

    def disconnect(self, report: bool = True) -> None:
        """Close the connection; with ``report`` the loss reaches SendNetworkErrorEvent (once)."""
        client, self._client = self._client, None
        if client is None or self._closed:
            return
        if not report:
            self._detach(client)
        try:
            self.run(client.close(), 30)
        except Exception:
            log.exception("closing the connection failed")

    def close(self) -> None:
        """Log out (no event), stop the loop and join its thread. Safe to call twice, from any thread."""
        with self._lock:
            if self._closed:
                return
            if threading.current_thread() is self._thread:
                # the garbage collector ran the finalizer on this very loop: close from inside it
                self._closed = True
                client, self._client = self._client, None
                if client is not None:
                    self._detach(client)
                self._loop.create_task(_close_then_stop(client, self._loop))
                return
            try:
                self.disconnect(report=False)
            finally:
                self._closed = True
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(10)

    def _detach(self, client: Client) -> None:
        """No more events from ``client`` (a close the program asked for raises none)."""
        client.remove_text_hook(self._on_text)
        client.off(Disconnected, self._on_disconnected)

    # --- commands ---------------------------------------------------------------------

    def fire(self, cmd: str, method: str, *args: Any, **kwargs: Any) -> None:
        """Start ``client.<method>(...)``; argument errors raise, refusals become SendCmdErrorEvent."""
        client = self._client
        if client is None:
            self._post("SendCmdErrorEvent", (cmd, "not connected"))
            return

        async def start() -> BaseException | None:
            task = asyncio.ensure_future(getattr(client, method)(*args, **kwargs))
            await asyncio.sleep(0)  # run the command up to its send: argument and state checks
            if task.done():
                return task.exception()
            self._tasks.add(task)
            task.add_done_callback(self._settled)
            return None

        exc = self.run(start(), 30)
        if exc is None:
            return
        if isinstance(exc, LguapiError):
            self._post("SendCmdErrorEvent", (cmd, str(exc)))
            return
        raise exc  # ValueError for bad arguments, before anything was sent

    def _settled(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # the server's own CMDERROR already reached SendCmdErrorEvent; the rest is logged
            log.debug("command ended with %r", task.exception())

    # --- events from the client (loop thread) -----------------------------------------

    def _on_text(self, text: str) -> None:
        name = event_name(text)
        if name == "PING":
            return  # answered by the client; the control shows nothing
        if name == "LOGINRESULT":
            self._login_posted = _login_ok(text)
        if name == "BYE":
            self._report_lost()
        elif name == "CMDERROR":
            self._post("SendCmdErrorEvent", cmd_error_fields(text))
        elif name in EVENT_CALLBACKS:
            self._post(EVENT_CALLBACKS[name], (text,))
        else:
            self._post("SendEtcEvent", (name, text))

    def _on_disconnected(self, ev: Event) -> None:
        self._report_lost()

    def _on_logged_in(self, ev: Any) -> None:
        # a new session: its loss is reported again (once), like the control after a reconnect
        self._lost_reported = False

    def _report_lost(self) -> None:
        self._login_posted = False
        if not self._lost_reported:
            self._lost_reported = True
            self._post("SendNetworkErrorEvent", ())


def _login_ok(text: str) -> bool:
    status = _fields(text).get("STATUS", "")
    return status.lstrip("-").isdigit() and int(status) > 0


async def _close_then_stop(client: Client | None, loop: asyncio.AbstractEventLoop) -> None:
    try:
        if client is not None:
            await client.close()
    finally:
        loop.stop()


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The io thread: run the loop until stopped, then end its tasks and executor threads and close it."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
