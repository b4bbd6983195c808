"""``lguapi.Client``: one LGUBaseOpenAPI login over asyncio, every command of docs/protocol.md §4.3.

>>> async def main():                                   # doctest: +SKIP
...     async with lguapi.connect("127.0.0.1", user_id="07012340321", password="secret") as client:
...         client.on(lguapi.RingEvent, lambda ev: print("ringing:", ev.caller_id))
...         await client.click2call("01012345678")
...         async for ev in client.events():
...             print(ev)

The wire work lives in :mod:`lguapi._protocol` (frames, heartbeat, dead detection), the
command texts and their validation in :mod:`lguapi.commands`, the typed query results in
:mod:`lguapi.results`. This module keeps the session: login, correlation of answers to
commands, the current call's channels, event delivery with backpressure, and reconnects.
See docs/client.md for the policies (overflow, reconnect, correlation, logging) and
docs/limits.md for every bound.
"""
from __future__ import annotations

import asyncio
import codecs
import dataclasses
import functools
import inspect
import logging
import random
import os
import ssl as _ssl
import time
import warnings
import weakref
from collections import deque
from typing import Any, AsyncIterator, Callable, Generator, TypeVar, overload

import msgspec
import msgspec.structs

from lgucore import DEFAULT_BASIC_KEY, DEFAULT_SEED_KEY, TEXT, TextCodec, tokenize

from . import commands as C
from . import events as E
from . import results as R
from ._aqueue import AsyncQueueStream
from ._log import WarningLimiter, mask_number, mask_text
from ._protocol import FRAMES_PER_TURN, READ_SIZE, Session
from .channels import own_channel, same_channel
from .commands import Command
from .discovery import discover, parse_address
from .errors import (
    CommandError, CommandTimeout, ConnectFailed, ConnectionLost, DiscoveryError, LguapiError, LoginError,
    NoCurrentCall, ResultTooLarge,
)
from .events import (
    ByeEvent, ChannelListEvent, ChannelOutEvent, CommandResultEvent, Connected, Disconnected, Event,
    LoggedIn, LoginResultEvent, Reconciled, Reconnected, Reconnecting, RingEvent, parse_event,
)

__all__ = [
    "Client", "connect", "EventStream", "LoginError", "CommandError", "NoCurrentCall", "CommandTimeout",
    "ConnectionLost", "ConnectFailed", "DiscoveryError", "LguapiError", "ResultTooLarge", "ClientStats",
    "HEARTBEAT_MAX", "MAX_RESULT_ROWS", "MAX_RESULT_BYTES",
]

_time = time.time
#: an event class, for callbacks typed by the event they receive
EventT = TypeVar("EventT", bound=Event)
log: logging.Logger = logging.getLogger("lguapi.client")

#: the vendor's cap on the heartbeat interval (manual §2.5)
HEARTBEAT_MAX = 30.0
#: default bounds of one pending split result (``max_result_rows``, ``max_result_bytes``)
MAX_RESULT_ROWS = 100_000
MAX_RESULT_BYTES = 16 * 1024 * 1024

_ERR_RES = frozenset({"ERR", "ERROR", "FAIL", "FAILED", "NOK", "NOT"})
_LIVE_STATES = frozenset({"UP", "RING", "RINGING", "BUSY", "DIALING"})
#: call events the own-call state may lag behind (folded when asked for, or at this many)
_TRACK_LAG = 16
_RING, _LIST, _CONF, _OUT, _OTHER = range(5)  # the kinds of call event _track knows


class _Fact(msgspec.Struct, gc=False):
    """What ``Client._track`` needs of one call event (strings, flags and None only: a fact
    waiting for the fold is never an object the garbage collector has to look at)."""

    kind: int
    a: str | None
    b: str | None
    x: Any
    uid: str | None


def _call_fact(ev) -> _Fact:
    if isinstance(ev, RingEvent):
        return _Fact(_RING, ev.channel, ev.remote_channel, ev.is_dial, ev.unique_id)
    if isinstance(ev, ChannelListEvent):
        return _Fact(_LIST, ev.channel1, ev.channel2, None, ev.unique_id1)
    if isinstance(ev, E.ConferenceEvent):
        return _Fact(_CONF, ev.channel, ev.member, ev.action, ev.unique_id)
    if isinstance(ev, ChannelOutEvent):
        return _Fact(_OUT, ev.channel, None, None, None)
    return _Fact(_OTHER, None, None, None, None)


# --- small pieces ---------------------------------------------------------------------


class _Secret:
    """Holds the password; never shows it."""

    __slots__ = ("_v",)

    def __init__(self, v: str) -> None:
        self._v = v

    def get(self) -> str:
        return self._v

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


@dataclasses.dataclass(frozen=True)
class ClientStats:
    """Counters of one client since it was made (``client.stats``); see docs/client.md, "Counters"."""

    #: frames that could not be used (undecodable, unknown type), whatever their count in the log
    bad_frames: int = 0
    #: warnings left out of the log by the rate limit (``warning_burst`` per ``warning_interval``)
    warnings_suppressed: int = 0
    #: CMDRESULT/CMDERROR answers no waiting request could take (late, duplicated or unsolicited)
    unmatched_answers: int = 0
    #: split results cut at ``max_result_rows`` / ``max_result_bytes``
    oversized_results: int = 0
    #: pieces of abandoned split results (timed out, cut, cancelled) read and thrown away
    discarded_pieces: int = 0
    #: bytes of split results being collected right now
    pending_result_bytes: int = 0
    #: callbacks and text hooks that raised
    callback_errors: int = 0
    #: times a full consumer queue made the client stop reading
    overflow_pauses: int = 0


class _Pending:
    """A command waiting for its answer; ``args`` are the request's arguments an answer may echo."""

    __slots__ = ("cmd", "answer", "events", "future", "pieces", "size", "rows", "timer", "args")

    def __init__(self, cmd: Command, future: asyncio.Future) -> None:
        self.cmd = cmd.name
        self.answer = cmd.answer
        self.events = cmd.events
        self.future = future
        self.pieces: list[CommandResultEvent] = []
        self.size = 0
        self.rows = 0
        self.timer: asyncio.TimerHandle | None = None
        self.args = _request_args(cmd)


class _Call(msgspec.Struct, gc=False, frozen=True):
    """The own current call, as the client follows it (strings and flags only: never tracked
    by the garbage collector, so thousands of connections' calls cost full collections nothing)."""

    own: str | None = None
    other: str | None = None
    state: str | None = None  # "ringing" | "dialing" | "talking"
    incoming: bool | None = None
    unique_id: str | None = None


def _is_async(cb) -> bool:
    return inspect.iscoroutinefunction(cb) or inspect.iscoroutinefunction(getattr(cb, "__call__", None))


_NOT_ECHO = frozenset({"AGENT", "PWD", "ID", "MSG"})
_NOT_PEER = frozenset({"RES", "MSG", "CMD"})


def _request_args(cmd: Command) -> dict[str, str]:
    """The ``KEY=VALUE`` arguments of a result command's text, except those never echoed (AGENT, MSG...)."""
    if cmd.answer not in ("result", "list") or not cmd.text.startswith("CMD "):
        return {}
    out: dict[str, str] = {}
    for word in cmd.text.split(" ")[2:]:
        key, sep, value = word.partition("=")
        if key == "MSG":
            break  # free text to the end of the command
        if sep and key not in _NOT_ECHO and value:
            out[key] = value.upper()
    return out


def _contradicts(p: _Pending, ev: CommandResultEvent) -> bool:
    """True when ``ev`` provably answers another request than ``p``: it echoes one of p's arguments
    with another value, or (a PEERS query without ROOM) reports a peer p did not ask about."""
    args = p.args
    if not args:
        return False
    for key, value in ev.fields:
        if key is None or not value:
            continue
        mine = args.get(key)
        if mine is not None:
            if value.strip().upper() != mine:
                return True
        elif "PEERS" in args and "ROOM" not in args and key not in _NOT_PEER and any(c.isdigit() for c in key):
            if key.upper() not in args["PEERS"].split(","):
                return True
    return False


def _continues(ev: CommandResultEvent) -> bool:
    """A CMDRESULT piece whose text ends in LF or CR has its continuation in the frame that follows (docs/protocol.md §7)."""
    return ev.raw.endswith(("\n", "\r"))


def _merge(pieces: list[CommandResultEvent]) -> CommandResultEvent:
    if len(pieces) == 1:
        return pieces[0]
    first = pieces[0]
    fields = tuple(f for p in pieces for f in p.fields)
    res = "".join(p.res or "" for p in pieces) if any(p.res is not None for p in pieces) else None
    return dataclasses.replace(first, res=res, fields=fields, raw="\n".join(p.raw for p in pieces))


class EventStream(AsyncQueueStream):
    """``async for ev in client.events()``: every event, in order, until the client is closed.

    Each stream has its own queue of at most ``max_queue`` events; when one is full
    the client stops reading the socket (see docs/client.md, "Overflow"). Leaving the
    loop (``break``) drops the stream; ``aclose()`` or ``async with`` drop it at once.
    """

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        super().__init__()
        self._client = client

    def _taken(self) -> None:
        if self._client._reading_paused:
            self._client._maybe_resume()

    async def aclose(self) -> None:
        """Stop this stream (undelivered events are discarded with it)."""
        self._end()
        self._queue.clear()
        self._client._streams.discard(self)
        self._client._maybe_resume()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# --- the client -----------------------------------------------------------------------


class Client:
    """One login to an LGUBaseOpenAPI server (or the emulator).

    ``host=None`` discovers the server through the OAM server ``oam`` (``"host:port"``).
    ``backups`` are further ``(host, port)`` (or ``"host:port"``) tried in turn after the
    primary. ``heartbeat`` seconds between HEARTBEAT frames (clamped to 30 with a warning;
    0/None: no heartbeat and no dead detection); ``auto_reconnect`` seconds between
    reconnect rounds (0/None: no reconnect). ``command_timeout`` bounds every wait for an
    answer; ``max_queue`` bounds each consumer's queue (async callbacks, each ``events()``).
    ``tls``: None/False plain TCP, True TLS with the default CA store, or an
    :class:`ssl.SSLContext`. ``max_result_rows`` / ``max_result_bytes`` bound one split
    result (:class:`ResultTooLarge` past them); a repeated warning (bad frames) is logged at
    most ``warning_burst`` times per ``warning_interval`` seconds and counted in :attr:`stats`.
    ``frames_per_turn`` bounds the frames one connection handles per event-loop iteration
    (fair scheduling, see :mod:`lguapi._protocol`); ``read_size`` the bytes it takes from its
    socket per read (the rest waits in the kernel). ``capture``: a directory (or a
    :class:`lguapi.capture.CaptureWriter` shared by several clients) that records every frame
    received and sent, for :func:`lguapi.replay.replay` and ``lguapi serve --replay``
    (docs/capture.md); a directory given by name is closed with the client.
    """

    def __init__(self, host: str | None = None, port: int = 8086, *, cipher: str = "seed",
                 seed_key: bytes = DEFAULT_SEED_KEY, basic_key: bytes = DEFAULT_BASIC_KEY, charset: str = "cp949",
                 byteorder: str = "big", heartbeat: float | None = 20, auto_reconnect: float | None = 30,
                 backups=(), tls: bool | _ssl.SSLContext | None = None, oam: str | None = None,
                 oam_ca: str | None = None, oam_verify: bool = True, command_timeout: float = 10.0,
                 max_queue: int = 10000, max_result_rows: int = MAX_RESULT_ROWS,
                 max_result_bytes: int = MAX_RESULT_BYTES, warning_burst: int = 5,
                 warning_interval: float = 60.0, frames_per_turn: int = FRAMES_PER_TURN,
                 read_size: int = READ_SIZE, capture: Any = None) -> None:
        self._codec = _shared_codec(cipher, seed_key, basic_key, byteorder)
        try:
            self.charset: str = codecs.lookup(charset).name
        except LookupError:
            raise ValueError(f"unknown charset {charset!r}") from None
        if host is not None and not isinstance(host, str):
            raise ValueError(f"host must be a string or None, not {type(host).__name__}")
        if host is not None and not host.strip():
            host = None
        if host is None and not oam:
            raise ValueError("no server: give host, or oam='host:port' for OAM discovery")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be 1-65535, not {port!r}")
        self.host = host
        self.port = port
        self.cipher = cipher
        self.byteorder = byteorder
        self.heartbeat: float = _check_heartbeat(heartbeat)
        if auto_reconnect is not None and auto_reconnect < 0:
            raise ValueError("auto_reconnect must be >= 0 seconds (0/None: off)")
        self.auto_reconnect: float = float(auto_reconnect or 0)
        self.backups: tuple[tuple[str, int], ...] = tuple(
            parse_address(b) if isinstance(b, str) else (str(b[0]), int(b[1])) for b in backups)
        if tls is True:
            tls = _ssl.create_default_context()
        elif tls is False:
            tls = None
        elif tls is not None and not isinstance(tls, _ssl.SSLContext):
            raise ValueError("tls must be None, True, False or an ssl.SSLContext")
        self.tls: _ssl.SSLContext | None = tls
        self.oam = oam
        self.oam_ca = oam_ca
        self.oam_verify: bool = bool(oam_verify)
        if command_timeout is None or command_timeout <= 0:
            raise ValueError("command_timeout must be > 0 seconds")
        self.command_timeout: float = float(command_timeout)
        if not isinstance(max_queue, int) or max_queue < 1:
            raise ValueError("max_queue must be a positive integer")
        self.max_queue = max_queue
        self.max_result_rows: int = _positive_int(max_result_rows, "max_result_rows")
        self.max_result_bytes: int = _positive_int(max_result_bytes, "max_result_bytes")
        self._limiter = WarningLimiter(burst=warning_burst, interval=warning_interval)
        if not isinstance(frames_per_turn, int) or frames_per_turn < 1:
            raise ValueError("frames_per_turn must be a positive integer")
        self.frames_per_turn = frames_per_turn
        if not isinstance(read_size, int) or read_size < 1:
            raise ValueError("read_size must be a positive integer")
        self.read_size = read_size
        self._capture_spec = capture  # a path is opened at the first connection
        self._capture: Any = None
        self._capture_conn = 0

        # session
        self.user_id: str | None = None
        self._password: _Secret | None = None
        self.exten: str | None = None
        self.login_result: LoginResultEvent | None = None
        self.address: str | None = None
        self._session: Session | None = None
        self._logged_in = False
        self._closed = False
        self._closing = False
        self._bye: str | None = None
        self._refused_for_good = False
        self._addresses: tuple[tuple[str, int], ...] = ()
        self._reconnect_task: asyncio.Task | None = None
        self._down_since: float | None = None
        self._call = _Call()
        self._untracked: list[_Fact] = []  # call events not folded into _call yet (see _current_call)

        # correlation: live waiters per command name; the split result under way per name
        # (its _Pending, or the kind "list"/"result" of an abandoned one being read to its end)
        self._results: dict[str, deque[_Pending]] = {}
        self._event_waiters: list[_Pending] = []
        self._split: dict[str, _Pending | str] = {}
        self._bad_frames = 0
        self._unmatched = 0
        self._oversized = 0
        self._discarded = 0

        # delivery
        self._subs: dict[Any, list[tuple[Callable, bool]]] = {}
        self._cache: dict[type, tuple[tuple, tuple]] = {}
        self._text_hooks: list[Callable[[str], Any]] = []
        self._batch_consumers: tuple[Callable[[list[Event]], Any], ...] = ()
        self._turn_events: list[Event] = []  # events of the read turn under way, for the batch consumers
        self._streams: weakref.WeakSet[EventStream] = weakref.WeakSet()
        self._pump_q: deque = deque()
        self._pump_task: asyncio.Task | None = None
        self._reading_paused = False
        self._app_paused = False
        self._pause_logged = -1e9
        #: callbacks (and text hooks) that raised; each is logged with its traceback
        self.callback_errors: int = 0
        self.last_callback_error: BaseException | None = None
        #: how many times a full queue made the client stop reading
        self.overflow_pauses: int = 0

    # --- introspection ----------------------------------------------------------------

    def __repr__(self) -> str:
        state = ("closed" if self._closed else "logged-in" if self._logged_in else
                 "connected" if self.is_connected else "reconnecting" if self._reconnect_task else "idle")
        return (f"<Client {state} user={mask_number(self.user_id)} exten={self.exten} "
                f"address={self.address or self._target()} cipher={self.cipher}>")

    def _target(self) -> str:
        return f"{self.host}:{self.port}" if self.host else f"oam:{self.oam}"

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the client's counters (bad frames, suppressed warnings, unmatched answers...)."""
        pending = sum(p.size for p in self._split.values() if isinstance(p, _Pending))
        return ClientStats(self._bad_frames, self._limiter.suppressed, self._unmatched, self._oversized,
                           self._discarded, pending, self.callback_errors, self.overflow_pauses)

    @property
    def is_connected(self) -> bool:
        """The TCP connection is up (logged in or not)."""
        s = self._session
        return s is not None and s.transport is not None and not s.transport.is_closing()

    @property
    def is_logged_in(self) -> bool:
        return self._logged_in and self.is_connected

    @property
    def own_channel(self) -> str | None:
        """The own channel of the current call (``CHANNEL=`` of call control), from events."""
        return self._current_call().own

    @property
    def remote_channel(self) -> str | None:
        """The other party's channel of the current call (``DSTCHANNEL``), from events."""
        return self._current_call().other

    @property
    def call_state(self) -> str | None:
        """``"ringing"`` (incoming), ``"dialing"``, ``"talking"`` or None when there is no current call."""
        return self._current_call().state

    # --- subscriptions ----------------------------------------------------------------

    @overload
    def on(self, event_type: type[EventT], callback: Callable[[EventT], Any]) -> None: ...
    @overload
    def on(self, event_type: str, callback: Callable[[Event], Any]) -> None: ...

    def on(self, event_type: type[Event] | str, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(event)`` for every event of ``event_type`` (subclasses included).

        ``Event`` subscribes to everything, connection-state events included. A string is
        a wire name (``"RINGEVENT"``), a class name (``"RingEvent"``), a connection-state
        name (``"disconnected"``) or any other event name (matched against ``event.name``).
        Sync callbacks run as the event is read; ``async def`` callbacks run one at a time,
        in order, on a task of the client. An exception in a callback is logged with its
        traceback and counted in :attr:`callback_errors`; delivery goes on.
        """
        if not callable(callback):
            raise ValueError(f"callback must be callable, not {type(callback).__name__}")
        key = _event_key(event_type)
        self._subs.setdefault(key, []).append((callback, _is_async(callback)))
        self._cache.clear()

    def off(self, event_type: type[Event] | str, callback: Callable[[Any], Any]) -> None:
        """Remove a callback added with :meth:`on` (no error when it is not there)."""
        key = _event_key(event_type)
        lst = self._subs.get(key)
        if lst:
            for i, (cb, _) in enumerate(lst):
                if cb == callback:
                    del lst[i]
                    break
            if not lst:
                del self._subs[key]
        self._cache.clear()

    def add_text_hook(self, hook: Callable[[str], Any]) -> None:
        """Call ``hook(text)`` with every received text, as sent (before parsing), in order.

        For layers that need the vendor's raw strings (the compat facade). Sync only;
        exceptions are logged and counted like callback errors.
        """
        if not callable(hook):
            raise ValueError("hook must be callable")
        self._text_hooks.append(hook)

    def remove_text_hook(self, hook: Callable[[str], Any]) -> None:
        try:
            self._text_hooks.remove(hook)
        except ValueError:
            pass

    def add_batch_consumer(self, consumer: Callable[[list[Event]], Any]) -> None:
        """Call ``consumer(events)`` with every event, in order, a list at a time.

        For consumers of many connections (:class:`lguapi.Monitor`): one call per read turn
        (the events of one read, at most ``frames_per_turn``) instead of one per event. Each
        event has gone to the :meth:`on` callbacks before its batch is handed over; an event
        the client makes itself (a connection-state event such as :class:`Disconnected`)
        comes alone, after any batch under way. The list is the consumer's to keep. Sync
        only; an exception is logged and counted in :attr:`callback_errors`, like a callback's.
        """
        if not callable(consumer):
            raise ValueError("consumer must be callable")
        self._batch_consumers += (consumer,)

    def remove_batch_consumer(self, consumer: Callable[[list[Event]], Any]) -> None:
        """Undo :meth:`add_batch_consumer` (no error when ``consumer`` is not there)."""
        self._batch_consumers = tuple(c for c in self._batch_consumers if c != consumer)

    def events(self) -> EventStream:
        """An async iterator over every event from now on, ending when the client is closed."""
        s = EventStream(self)
        if self._closed:
            s._end()
        else:
            self._streams.add(s)
        return s

    # --- delivery ---------------------------------------------------------------------

    def _handlers_for(self, cls: type) -> tuple[tuple, tuple]:
        h = self._cache.get(cls)
        if h is None:
            sync: list[Callable[..., Any]] = []
            asyn: list[Callable[..., Any]] = []
            for k in cls.__mro__:
                for cb, is_async in self._subs.get(k, ()):
                    (asyn if is_async else sync).append(cb)
            h = (tuple(sync), tuple(asyn))
            self._cache[cls] = h
        return h

    def _emit(self, ev: Event) -> None:
        """Deliver an event the client made itself (not read): to everyone at once."""
        if self._capture is not None and isinstance(ev, E.ConnectionEvent):
            self._capture_event(ev)
        self._dispatch(ev)
        if self._batch_consumers:
            self._end_turn()  # never overtake events of a read still being handed over
            self._hand_over([ev])

    def _end_turn(self) -> None:
        """Hand the events of the read turn that just ended to the batch consumers."""
        evs = self._turn_events
        if evs:
            self._turn_events = []
            self._hand_over(evs)

    def _hand_over(self, evs: list[Event]) -> None:
        for consumer in self._batch_consumers:
            try:
                consumer(evs)
            except Exception as e:  # a consumer's bug must not stop the reader
                self._callback_failed(consumer, evs[0], e)

    def _dispatch(self, ev: Event) -> None:
        """Run the :meth:`on` callbacks of ``ev`` and feed the ``events()`` streams."""
        sync, asyn = self._cache.get(type(ev)) or self._handlers_for(type(ev))
        named = self._subs.get(ev.name) if self._subs else None
        if named:
            sync = sync + tuple(cb for cb, a in named if not a)
            asyn = asyn + tuple(cb for cb, a in named if a)
        for cb in sync:
            try:
                r = cb(ev)
            except Exception as e:  # a user's bug must not stop the reader
                self._callback_failed(cb, ev, e)
                continue
            if r is not None and inspect.isawaitable(r):
                self._pump_q.append((None, r, ev))
                self._ensure_pump()
        if asyn:
            for cb in asyn:
                self._pump_q.append((cb, None, ev))
            self._ensure_pump()
        full = len(self._pump_q) >= self.max_queue
        if self._streams.data:  # type: ignore[attr-defined]  # the WeakSet's own set: a cheap emptiness test
            for s in self._streams:
                s._push(ev)
                if len(s._queue) >= self.max_queue:
                    full = True
        if full and not self._reading_paused:
            self._pause_reading()

    def _callback_failed(self, cb, ev, exc: BaseException) -> None:
        self.callback_errors += 1
        self.last_callback_error = exc
        log.error("event callback %s failed on %s (%d callback errors so far)",
                  getattr(cb, "__qualname__", repr(cb)), type(ev).__name__ if ev is not None else "text",
                  self.callback_errors, exc_info=exc)

    def _ensure_pump(self) -> None:
        if self._pump_task is None:
            self._pump_task = asyncio.get_running_loop().create_task(self._pump(), name="lguapi-client-callbacks")

    async def _pump(self) -> None:
        q = self._pump_q
        try:
            while q:
                cb, aw, ev = q.popleft()
                try:
                    await (cb(ev) if aw is None else aw)
                except Exception as e:
                    self._callback_failed(cb or aw, ev, e)
                if self._reading_paused:
                    self._maybe_resume()
        finally:
            self._pump_task = None
            while q:  # cancelled with work left (close() timed out): say so, never silently
                cb, aw, ev = q.popleft()
                if aw is not None and hasattr(aw, "close"):
                    aw.close()
                log.warning("async callback %s not run for %s: the client was closed",
                            getattr(cb, "__qualname__", cb), type(ev).__name__)

    def _pause_reading(self) -> None:
        self._reading_paused = True
        self.overflow_pauses += 1
        now = asyncio.get_running_loop().time()
        if now - self._pause_logged >= 60.0:  # at most one warning a minute: a slow consumer flaps
            self._pause_logged = now
            log.warning("%s: event queue full (%d): reading paused until consumers catch up; the server may drop "
                        "this connection as a slow reader (%d pauses so far)", self.address, self.max_queue,
                        self.overflow_pauses)
        else:
            log.debug("%s: event queue full: reading paused", self.address)
        if self._session is not None:
            self._session.pause()

    def _maybe_resume(self) -> None:
        if not self._reading_paused:
            return
        low = self.max_queue // 2
        if len(self._pump_q) > low or any(len(s._queue) > low for s in self._streams):
            return
        self._reading_paused = False
        log.debug("%s: consumers caught up: reading resumed", self.address)
        if self._session is not None and not self._app_paused:
            self._session.resume()

    def pause_reading(self) -> None:
        """Stop reading the current connection until :meth:`resume_reading` (flow control).

        For an application whose own consumer (a sink, a database) falls behind: events stay
        in the socket, the server sees a slow reader and may in the end drop the connection
        (docs/protocol.md §6), which the client reports and reconnects from. Combined with the
        client's own overflow pause: reading resumes only when neither holds it. A new
        connection (after a reconnect) starts reading.
        """
        self._app_paused = True
        if self._session is not None:
            self._session.pause()

    def resume_reading(self) -> None:
        """Undo :meth:`pause_reading` (reading restarts unless the client's own queues are full)."""
        self._app_paused = False
        if self._session is not None and not self._reading_paused:
            self._session.resume()

    # --- the wire ---------------------------------------------------------------------

    def _capture_session(self, address: str) -> tuple[Any, int] | None:
        """``(writer, connection id)`` for a new session when frames are recorded."""
        spec = self._capture_spec
        if spec is None:
            return None
        if self._capture is None:
            from .capture import CaptureWriter

            self._capture = spec if isinstance(spec, CaptureWriter) else CaptureWriter(os.fspath(spec))
        self._capture_conn = self._capture.open_connection(
            address=address, login=self.user_id, exten=self.exten, cipher=self.cipher, charset=self.charset)
        return self._capture, self._capture_conn

    def _capture_event(self, ev: Event) -> None:
        fields = {k: v for k, v in ev.__dict__.items() if k != "result"}
        fields["event"] = type(ev).__name__
        self._capture.event(self._capture_conn, fields, ts=ev.ts)

    def _on_text(self, session: Session, plain: bytes) -> None:
        if session is not self._session:
            return
        ts = _time()
        if session.capture is not None:
            session.capture[0].received(session.capture[1], TEXT, plain, ts=ts)
        text = plain.decode("ascii") if plain.isascii() else plain.decode(self.charset, "replace")
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s <- %s", self.address, mask_text(text))
        if self._text_hooks:
            for hook in tuple(self._text_hooks):
                try:
                    hook(text)
                except Exception as e:
                    self._callback_failed(hook, None, e)
        ev = parse_event(tokenize(plain, charset=self.charset), exten=self.exten, ts=ts, raw=text)
        special = _SPECIAL.get(ev.name)
        if special is not None:
            ev = special(self, ev) or ev
        if self._subs or self._streams.data:  # type: ignore[attr-defined]  # the WeakSet's own set
            self._dispatch(ev)
        if self._batch_consumers:
            self._turn_events.append(ev)

    def _on_turn_end(self, session: Session) -> None:
        evs = self._turn_events
        if evs:  # _end_turn, without one more call per read
            self._turn_events = []
            self._hand_over(evs)

    def _on_bad_frame(self, session: Session, kind: str, detail: str) -> None:
        self._bad_frames += 1
        self._limiter.warning(log, kind, "%s: %s; %d bad frames so far", session.address, detail, self._bad_frames)

    def _on_ping(self, ev) -> None:
        s = self._session
        if s is not None:
            try:
                s.send(self._codec.encode(b"CMD|PONG"))
            except ConnectionError:
                return
            if s.capture is not None:
                s.capture[0].sent(s.capture[1], TEXT, b"CMD|PONG")

    def _on_bye(self, ev: ByeEvent) -> None:
        self._bye = ev.reason or "BYE"
        log.warning("%s: server said BYE (%s): the session is over and will not be resumed",
                    self.address, ev.reason)
        if self._session is not None:
            self._session.close(f"BYE: {ev.reason or 'no reason'}")

    def _on_login_result(self, ev: LoginResultEvent):
        ev = E.with_login_exten(ev)
        q = self._results.get("LOGIN")
        if q:
            self._finish(q[0], ev)
        return ev

    def _on_result(self, ev: CommandResultEvent) -> None:
        name = ev.cmd or ""
        cur = self._split.get(name)
        if isinstance(cur, str):  # the rest of an abandoned split result: read, counted, not kept
            self._discarded += 1
            if cur == "result" and not _continues(ev):
                del self._split[name]
            return
        p = cur if cur is not None else self._taker(name, ev)
        if p is None:
            return
        if p.answer not in ("list", "result", "login", "none"):
            self._finish(p, ev)  # an event-answered command answered with CMDRESULT (send_sip_command)
            return
        more = p.answer == "list" or _continues(ev)
        if more:
            self._split[name] = p  # the next pieces of this command are p's (or, if p is cut, discarded)
        if self._collect(p, ev) and not more:
            self._finish(p, _merge(p.pieces))

    def _on_result_end(self, ev) -> None:
        name = ev.cmd or ""
        cur = self._split.pop(name, None)
        if isinstance(cur, str):
            self._discarded += 1
            return
        p = cur
        if p is None:  # a list with no row at all: CMDRESULTEND alone
            q = self._results.get(name)
            p = q[0] if q and q[0].answer == "list" else None
        if p is not None:
            self._finish(p, list(p.pieces) if p.answer == "list" else _merge(p.pieces))

    def _on_cmd_error(self, ev) -> None:
        name = ev.cmd or ""
        cur = self._split.pop(name, None)
        if isinstance(cur, str):
            return
        p = cur if cur is not None else self._taker(name, ev)
        if p is not None:
            self._finish(p, CommandError(ev.cmd, ev.msg))

    def _taker(self, name: str, ev) -> _Pending | None:
        """The oldest live request of ``name`` that ``ev`` does not provably belong elsewhere; None: unmatched.

        A request that timed out or was cancelled is no longer here, so its late answer is
        never taken for a later request's when the answer shows which request it answers.
        """
        q = self._results.get(name)
        if q:
            for p in q:
                if not isinstance(ev, CommandResultEvent) or not _contradicts(p, ev):
                    return p
        self._unmatched += 1
        log.debug("%s: %s answer for %s matches no waiting request (late, duplicated or unsolicited): ignored",
                  self.address, ev.name, name)
        return None

    def _collect(self, p: _Pending, ev: CommandResultEvent) -> bool:
        """Add one piece to ``p``; past a bound, fail ``p`` with ResultTooLarge and return False."""
        res = ev.res or ""
        p.pieces.append(ev)
        p.size += len(ev.raw)
        p.rows += res.count("\n") + (not _continues(ev))
        if p.rows > self.max_result_rows:
            option, limit = "max_result_rows", f"{self.max_result_rows} rows"
        elif p.size > self.max_result_bytes:
            option, limit = "max_result_bytes", f"{self.max_result_bytes} bytes"
        else:
            return True
        self._oversized += 1
        log.warning("%s: %s result passed %s=%s (%d rows, %d bytes): failed, the rest is discarded",
                    self.address, p.cmd, option, limit, p.rows, p.size)
        self._finish(p, ResultTooLarge(p.cmd, limit, p.rows, p.size), abandoned=True)
        return False

    def _on_call_event(self, ev):
        lag = self._untracked
        fact = _call_fact(ev)
        if fact.kind == _RING:
            lag.clear()  # a ring sets the own call afresh: the events before it no longer matter
        lag.append(fact)
        if len(lag) >= _TRACK_LAG:
            self._current_call()
        if self._event_waiters:
            self._on_answer_event(ev)

    def _current_call(self) -> _Call:
        """The own call, brought up to date with the call events received since last asked.

        Folding them only when someone asks (a property, a call-control command) costs the
        many clients of a monitor nothing per event; at most :data:`_TRACK_LAG` wait."""
        lag = self._untracked
        if lag:
            for fact in lag:
                self._track(fact)
            lag.clear()
        return self._call

    def _on_answer_event(self, ev) -> None:
        for p in self._event_waiters:
            if ev.name in p.events:
                if p.cmd == "CLICKCALL" and isinstance(ev, RingEvent) and ev.is_dial is False:
                    continue
                self._finish(p, ev)
                return

    # --- correlation ------------------------------------------------------------------

    def _register(self, cmd: Command) -> _Pending:
        fut = asyncio.get_running_loop().create_future()
        p = _Pending(cmd, fut)
        self._results.setdefault(cmd.name, deque()).append(p)
        if cmd.answer == "event":
            self._event_waiters.append(p)
        p.timer = fut.get_loop().call_later(self.command_timeout, self._expire, p)
        fut.add_done_callback(functools.partial(self._settled, p))
        return p

    def _settled(self, p: _Pending, fut: asyncio.Future) -> None:
        if fut.cancelled():  # the caller gave up waiting: like a timeout
            self._finish(p, None, abandoned=True)
        elif fut.exception() is not None:
            pass  # retrieved here so an unawaited command never warns "exception never retrieved"

    def _expire(self, p: _Pending) -> None:
        p.timer = None
        self._finish(p, CommandTimeout(p.cmd, self.command_timeout), abandoned=True)

    def _unlink(self, p: _Pending) -> None:
        q = self._results.get(p.cmd)
        if q is not None:
            try:
                q.remove(p)
            except ValueError:
                pass
            if not q:
                del self._results[p.cmd]
        if p.answer == "event":
            try:
                self._event_waiters.remove(p)
            except ValueError:
                pass

    def _finish(self, p: _Pending, value, *, abandoned: bool = False) -> None:
        """Settle ``p`` with ``value`` and forget it; ``abandoned`` (timeout, cancel, bound): the rest of
        a split result it had begun is read to its end and thrown away, never given to another request."""
        self._unlink(p)
        if p.timer is not None:
            p.timer.cancel()
            p.timer = None
        if self._split.get(p.cmd) is p:
            if abandoned:
                self._split[p.cmd] = "list" if p.answer == "list" else "result"
            else:
                del self._split[p.cmd]
        p.pieces = []
        p.size = 0
        fut = p.future
        if not fut.done() and value is not None:
            if isinstance(value, BaseException):
                fut.set_exception(value)
            else:
                fut.set_result(value)

    def _fail_all(self, reason: str) -> None:
        pend = [p for q in self._results.values() for p in q]
        self._results.clear()
        self._event_waiters.clear()
        self._split.clear()  # a new connection starts with no result under way
        for p in pend:
            if p.timer is not None:
                p.timer.cancel()
                p.timer = None
            p.pieces = []
            if not p.future.done():
                p.future.set_exception(ConnectionLost(f"{p.cmd}: {reason}"))

    def _encode(self, text: str) -> bytes:
        try:
            plain = text.encode(self.charset)
        except UnicodeEncodeError as e:
            bad = text[e.start:e.end]
            raise ValueError(f"the text contains characters the {self.charset} charset cannot carry: {bad!r}") from None
        if len(plain) > self._codec.max_plain:
            raise ValueError(f"command of {len(plain)} bytes exceeds the {self._codec.max_plain} bytes one "
                             f"{self.cipher} frame can carry")
        return self._codec.encode(plain)

    async def send(self, command: Command | str, *, wait: bool = True) -> Any:
        """Send a :class:`~lguapi.commands.Command` (or a raw ``CMD ...`` text) and return its answer.

        The answer is the CMDRESULT event (``answer == "result"``), the list of pieces
        (``"list"``) or the confirming event (``"event"``). With ``wait=False`` it returns
        as soon as the text is written; the answer still arrives as an event (and keeps
        the per-command order for later waits).
        """
        if isinstance(command, str):
            command = C.sip_command(command)
        session = self._require(command.name, login=command.name != "LOGIN")
        data = self._encode(command.text)
        p = self._register(command) if command.answer != "none" else None
        try:
            session.send(data)
        except ConnectionError as e:
            if p is not None:
                self._finish(p, ConnectionLost(f"{command.name}: {e}"))
            raise ConnectionLost(f"{command.name}: the connection is closed") from None
        if session.capture is not None:  # the LOGIN password is masked by the writer
            session.capture[0].sent(session.capture[1], TEXT, command.text.encode(self.charset))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s -> %s", self.address, mask_text(command.text))
        if p is None or not wait:
            return None
        return await p.future

    def _require(self, name: str, *, login: bool = True) -> Session:
        s = self._session
        if self._closed:
            raise ConnectionLost(f"{name}: the client is closed")
        if s is None or s.transport is None or s.transport.is_closing():
            raise ConnectionLost(f"{name}: not connected" + (" (reconnecting)" if self._reconnect_task else ""))
        if login and not self._logged_in:
            raise ConnectionLost(f"{name}: not logged in")
        return s

    # --- connection -------------------------------------------------------------------

    async def login(self, user_id: str, password: str) -> LoginResultEvent:
        """Connect (discovering the server through OAM when ``host`` is None) and log in.

        Returns the LOGINRESULT; raises :class:`LoginError` (``.status``, ``.msg``) when the
        server refuses, :class:`ConnectFailed` when no address accepts a connection,
        :class:`DiscoveryError` when OAM cannot tell where to go. The credentials are kept
        (privately) for automatic reconnects.
        """
        C.login(user_id, password)  # validate before anything happens
        try:
            password.encode(self.charset)
        except UnicodeEncodeError:
            raise ValueError(f"the password has characters the {self.charset} charset cannot carry "
                             f"(not shown)") from None
        if self._closed:
            raise ConnectionLost("the client is closed")
        if self._session is not None or self._reconnect_task is not None:
            raise LguapiError("already connected: close() this client first")
        self.user_id = user_id
        self._password = _Secret(password)
        self._bye = None
        try:
            self._addresses = await self._resolve()
            errors = []
            for host, port in self._addresses:
                if self._closing:
                    raise ConnectionLost("the client was closed while logging in")
                try:
                    return await self._connect_and_login(host, port)
                except (OSError, ConnectionLost, asyncio.TimeoutError) as e:
                    errors.append(f"{host}:{port}: {e}")
                    log.warning("could not connect to %s:%d: %s", host, port, e)
            raise ConnectFailed("could not connect: " + "; ".join(errors))
        except BaseException:
            self._password = None
            raise

    async def _resolve(self) -> tuple[tuple[str, int], ...]:
        if self.host:
            addrs = [(self.host, self.port)]
        else:
            assert self.oam is not None and self.user_id is not None, "no host: __init__ required oam"
            info = await discover(self.oam, self.user_id, ca=self.oam_ca, verify=self.oam_verify,
                                  timeout=self.command_timeout)
            addrs = list(info.addresses)
        for b in self.backups:
            if b not in addrs:
                addrs.append(b)
        return tuple(addrs)

    async def _connect_and_login(self, host: str, port: int) -> LoginResultEvent:
        loop = asyncio.get_running_loop()
        address = f"{host}:{port}"
        self._refused_for_good = False
        log.info("connecting to %s (%s cipher, %s byte order)", address, self.cipher, self.byteorder)

        def factory() -> Session:
            # the session is current from its first byte on: nothing it reads is dropped
            s = Session(self, self._codec, heartbeat=self.heartbeat, address=address,
                        frames_per_turn=self.frames_per_turn, capture=self._capture_session(address),
                        read_size=self.read_size)
            self._session = s
            return s

        try:
            _, session = await asyncio.wait_for(loop.create_connection(
                factory, host, port, ssl=self.tls, server_hostname=host if self.tls else None), self.command_timeout)
        except BaseException as e:
            s = self._session
            if s is not None and s.address == address:
                self._session = None  # never announced: its end is not an event
                if s.transport is not None:
                    s.abort("connect interrupted")
            if isinstance(e, asyncio.TimeoutError):
                raise ConnectionLost(f"connecting to {address} timed out after {self.command_timeout:g} s") from None
            raise
        if self._closing:
            self._session = None  # never announced: its end is not an event
            session.abort("closed by the application")
            raise ConnectionLost("the client was closed while connecting")
        self.address = address
        self._logged_in = False
        self._emit(Connected(name=Connected.NAME, address=address, exten=self.exten))
        try:
            pw = self._password.get() if self._password else ""
            ev = await self.send(C.login(self.user_id or "", pw))
        except CommandTimeout:
            await self._drop(session, "no LOGINRESULT")
            raise LoginError(None, f"no LOGINRESULT within {self.command_timeout:g} s") from None
        except CommandError as e:
            await self._drop(session, "login answered with CMDERROR")
            raise LoginError(None, e.msg) from None
        except BaseException:
            session.abort("login interrupted")
            raise
        if not ev.ok:
            err = LoginError(ev.status, ev.msg)
            log.warning("login of %s at %s refused: status %s %s", mask_number(self.user_id), address,
                        ev.status, mask_text(ev.msg or ""))
            self._refused_for_good = err.permanent  # a reconnect stops here: its Disconnected says so
            await self._drop(session, f"login refused: {err}", graceful=True)
            raise err
        self._logged_in = True
        self._current_call()  # events read so far are folded with the extension they came for
        self.exten = ev.exten
        self.login_result = ev
        if session.capture is not None:
            session.capture[0].set_exten(session.capture[1], self.exten)
        if self._reading_paused:  # consumers are still behind: read no further events yet
            session.pause()
        log.info("logged in as %s (exten %s) at %s", mask_number(self.user_id), self.exten, address)
        self._emit(LoggedIn(name=LoggedIn.NAME, address=address, result=ev, exten=self.exten))
        return ev

    async def _drop(self, session: Session, reason: str, *, graceful: bool = False) -> None:
        """End ``session`` and wait until it is gone (its Disconnected emitted), at most a second."""
        if graceful:
            session.close(reason)
        else:
            session.abort(reason)
        try:
            await asyncio.wait_for(asyncio.shield(session.closed), 1.0)
        except asyncio.TimeoutError:
            session.abort(reason)
            await asyncio.shield(session.closed)

    def _on_lost(self, session: Session, reason: str) -> None:
        if session is not self._session:
            return
        self._session = None
        was_logged_in = self._logged_in
        self._logged_in = False
        self._fail_all(reason)
        deliberate = self._closing
        will = (not deliberate and self._bye is None and self.auto_reconnect > 0 and self._password is not None
                and (was_logged_in or self._reconnect_task is not None) and not self._refused_for_good)
        if self._bye is not None and not deliberate:
            reason = f"BYE: {self._bye}"
        level = logging.INFO if deliberate else logging.WARNING
        log.log(level, "%s: disconnected (%s)%s", session.address, reason, "; will reconnect" if will else "")
        self._emit(Disconnected(name=Disconnected.NAME, address=session.address, deliberate=deliberate, reason=reason,
                                will_reconnect=will, exten=self.exten))
        if session.capture is not None:
            session.capture[0].close_connection(session.capture[1], reason)
        if will:
            if self._down_since is None:
                self._down_since = asyncio.get_running_loop().time()
            if self._reconnect_task is None:
                self._reconnect_task = asyncio.get_running_loop().create_task(
                    self._reconnect(), name="lguapi-client-reconnect")

    async def _reconnect(self) -> None:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        attempt = 0
        delay = min(self.auto_reconnect, 1.0) * random.random() * 0.5  # spread a herd of clients
        try:
            while not self._gave_up():
                await asyncio.sleep(delay)
                delay = self.auto_reconnect
                for host, port in self._addresses:
                    if self._gave_up():
                        return
                    attempt += 1
                    address = f"{host}:{port}"
                    log.info("reconnecting to %s (attempt %d)", address, attempt)
                    self._emit(Reconnecting(name=Reconnecting.NAME, address=address, attempt=attempt, exten=self.exten))
                    try:
                        await self._connect_and_login(host, port)
                    except LoginError as e:
                        if e.permanent:  # its Disconnected(will_reconnect=False) is out already
                            log.error("reconnect stopped: %s", e)
                            self._down_since = None
                            self._password = None
                            return
                        log.warning("reconnect to %s: %s", address, e)
                        continue
                    except (OSError, ConnectionLost, asyncio.TimeoutError) as e:
                        log.warning("reconnect to %s failed: %s", address, e)
                        if self._gave_up():  # BYE while logging in again: the session is over
                            return
                        continue
                    down = loop.time() - self._down_since if self._down_since is not None else None
                    self._down_since = None
                    log.info("reconnected to %s after %s s: events may have been missed", address,
                             f"{down:.1f}" if down is not None else "?")
                    self._emit(Reconnected(name=Reconnected.NAME, address=address, gap_possible=True, downtime=down, exten=self.exten))
                    await self._reconcile()
                    if self.is_logged_in or self._gave_up():
                        return  # logged in again, or BYE while reconciling: nothing reconnects after BYE
                    break  # lost again while reconciling: next round
        finally:
            if self._reconnect_task is me:
                self._reconnect_task = None

    def _gave_up(self) -> bool:
        """No reconnect any more: the application closed the client, or the server said BYE."""
        return self._closing or self._bye is not None

    async def _reconcile(self) -> None:
        try:
            statuses = await self.get_status_peers(self.exten or "")
        except (LguapiError, ValueError) as e:
            log.warning("reconciliation after reconnect failed (%s): no Reconciled event", e)
            return
        mine = [s for s in statuses if s.peer == self.exten] or statuses
        if not any((s.state or "").upper() in _LIVE_STATES for s in mine):
            self._untracked.clear()
            self._call = _Call()
        self._emit(Reconciled(name=Reconciled.NAME, address=self.address, statuses=tuple(s.as_tuple() for s in statuses),
                              exten=self.exten))

    async def close(self) -> None:
        """Log out by closing the connection; never reconnects. Ends every :meth:`events` stream.

        Emits ``Disconnected(deliberate=True)`` when a connection (or a reconnect) was
        active. Waits for pending async callbacks for up to ``command_timeout``.
        """
        if self._closed:
            return
        self._closed = True
        self._closing = True
        me = asyncio.current_task()
        task = self._reconnect_task
        was_reconnecting = task is not None
        if task is not None and task is not me:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self._reconnect_task = None
        s = self._session
        if s is not None:
            s.close("closed by the application")
            try:
                await asyncio.wait_for(asyncio.shield(s.closed), self.command_timeout)
            except asyncio.TimeoutError:
                s.abort("closed by the application")
                await asyncio.shield(s.closed)
        elif was_reconnecting:
            self._emit(Disconnected(name=Disconnected.NAME, address=self.address, deliberate=True, reason="closed by the application",
                                    will_reconnect=False, exten=self.exten))
        self._fail_all("the client was closed")
        self._password = None
        for st in list(self._streams):
            st._end()
        pump = self._pump_task
        if pump is not None and pump is not me:
            try:
                await asyncio.wait_for(asyncio.shield(pump), self.command_timeout)
            except asyncio.TimeoutError:
                log.warning("async callbacks still running %g s after close(): cancelled", self.command_timeout)
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
        if self._capture is not None:
            if self._capture is not self._capture_spec:
                self._capture.close()  # opened here from a directory name: ours to close
            else:
                self._capture.flush()  # the caller's writer: what this client recorded reaches the OS
        log.info("client closed (%s)", mask_number(self.user_id))

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- call tracking ----------------------------------------------------------------

    def _own_of(self, a: str | None, b: str | None) -> int:
        """0 when ``a`` is the own extension's channel, 1 when ``b`` is, -1 when unknown
        (the one rule the call tracker uses too: :func:`lguapi.channels.own_channel`)."""
        own = own_channel(self.exten, a, b)
        return -1 if own is None else 0 if own is a else 1

    def _track(self, fact: _Fact) -> None:
        """Apply one call event, as ``_call_fact`` gives it, to the own call."""
        c = self._call
        kind, a, b, x, uid = fact.kind, fact.a, fact.b, fact.x, fact.uid
        if kind == _RING:  # a = CHANNEL, b = RECHANNEL, x = ISDIAL
            # ISDIAL:0 (manual §5.2/5.3): CHANNEL is the own ringing phone, RECHANNEL the caller.
            # ISDIAL:1 (manual §5.1/5.3): CHANNEL is the called party, RECHANNEL the own phone.
            who = self._own_of(a, b)
            if who == -1:
                who = 1 if x else 0
            own, other = (a, b) if who == 0 else (b, a)
            self._call = _Call(own, other, "dialing" if x else "ringing", not x, uid)
        elif kind == _LIST:  # a = CHANNEL1, b = CHANNEL2
            # CHANNEL1 is the caller's leg (UNIQUEID1 = the call's first id): the own channel when
            # dialling out (§5.1, §5.3 at 3322), CHANNEL2 (a new channel) when answering (§5.2, §5.3 at 3321).
            who = self._own_of(a, b)
            if who == -1:
                who = 1 if c.incoming else 0
            own, other = (a, b) if who == 0 else (b, a)
            self._call = _Call(own, other, "talking", c.incoming if c.state else who == 1, uid)
        elif kind == _CONF:  # a = CHANNEL, b = MEMBER, x = the action
            # our addition: a room joined without RINGEVENT/CHANNELLIST (CALLWITHCONF) still gives the
            # own channel; leaving the room ends it
            mine = b == self.exten or own_channel(self.exten, a, None) is not None
            if x == "CONFMEMBERADD" and mine and not c.own:
                self._call = _Call(a, None, "talking", None, uid)
            elif x == "CONFMEMBERDEL" and same_channel(a, c.own):
                self._call = _Call()
        elif kind == _OUT:  # a = CHANNEL
            if same_channel(a, c.own):
                self._call = _Call()
            elif same_channel(a, c.other):
                # the other party left; the own channel may live on (a conference room)
                self._call = msgspec.structs.replace(c, other=None)

    def _agent(self, name: str) -> str:
        """The own extension (``AGENT=``); ConnectionLost unless logged in right now."""
        if self._logged_in and self.exten and self.is_connected:
            return self.exten
        self._require(name)
        raise ConnectionLost(f"{name}: not logged in")

    def _own(self, name: str) -> str:
        own = self._current_call().own
        if not own:
            raise NoCurrentCall(name, "the own channel")
        return own

    def _other(self, name: str) -> str:
        other = self._current_call().other
        if not other:
            raise NoCurrentCall(name, "the other party's channel")
        return other

    @staticmethod
    def _ok(ev: CommandResultEvent) -> CommandResultEvent:
        res = (ev.res or "").strip()
        if res and res.split()[0].upper() in _ERR_RES:
            raise CommandError(ev.cmd, f"RES:{res}")
        return ev

    # --- call control -----------------------------------------------------------------

    async def click2call(self, number: str, cid: str = "", context: str = "", *, wait: bool = True) -> Any:
        """Dial ``number`` from the own phone (Click2Call).

        Returns the RINGEVENT (ISDIAL:1), or the CHANNELLIST / CHANNELOUT when the call is
        answered or fails before ringing. Every call-control method takes ``wait``: with
        ``wait=False`` it returns None once the command is written, and the answer (or a
        CMDERROR) arrives only as events.
        """
        return await self.send(C.click2call(self._agent("CLICKCALL"), number, cid, context), wait=wait)

    async def answer(self, *, wait: bool = True) -> ChannelListEvent | None:
        """Answer the ringing call: ``CMD ANSWER AGENT= CHANNEL=<caller> CONTEXT= MYCHANNEL=<own>``."""
        agent = self._agent("ANSWER")
        if self._current_call().state != "ringing":
            raise NoCurrentCall("ANSWER", "an incoming ring")
        return await self.send(C.answer(agent, self._other("ANSWER"), self._own("ANSWER")), wait=wait)

    async def hold(self) -> CommandResultEvent:
        agent = self._agent("HOLD")
        return self._ok(await self.send(C.hold(agent, self._own("HOLD"))))

    async def unhold(self) -> CommandResultEvent:
        agent = self._agent("UNHOLD")
        return self._ok(await self.send(C.unhold(agent, self._own("UNHOLD"))))

    async def pickup(self, exten: str = "", *, wait: bool = True) -> ChannelListEvent | None:
        """Pick up the ring at ``exten`` (empty: any ring of the own pickup group)."""
        return await self.send(C.pickup(self._agent("PICKUP"), exten), wait=wait)

    async def hangup(self, *, wait: bool = True) -> ChannelOutEvent | None:
        """Hang up the own channel (also rejects a ring)."""
        agent = self._agent("HANGUP")
        return await self.send(C.hangup(agent, self._own("HANGUP")), wait=wait)

    async def hangup_dst(self, *, wait: bool = True) -> ChannelOutEvent | None:
        """Hang up the other party's channel."""
        agent = self._agent("HANGUP")
        return await self.send(C.hangup(agent, self._other("HANGUP")), wait=wait)

    async def hangup_channel(self, channel: str, *, wait: bool = True) -> ChannelOutEvent | None:
        """Hang up the given channel."""
        return await self.send(C.hangup(self._agent("HANGUP"), channel), wait=wait)

    async def start_record(self) -> CommandResultEvent:
        agent = self._agent("MONITOR")
        return self._ok(await self.send(C.monitor(agent, self._own("MONITOR"), "START")))

    async def stop_record(self) -> CommandResultEvent:
        agent = self._agent("MONITOR")
        return self._ok(await self.send(C.monitor(agent, self._own("MONITOR"), "STOP")))

    async def transfer(self, exten: str, *, wait: bool = True) -> ChannelOutEvent | None:
        """Blind transfer of the current call to ``exten``; returns the CHANNELOUT of the own leg."""
        agent = self._agent("TRANSFER")
        return await self.send(C.transfer(agent, self._own("TRANSFER"), exten), wait=wait)

    async def atxfer(self, exten: str, *, wait: bool = True) -> ChannelListEvent | None:
        """Attended transfer: returns the CHANNELLIST with ``Local/<exten>@xfercontext-...;2``."""
        agent = self._agent("ATXFER")
        return await self.send(C.atxfer(agent, self._own("ATXFER"), exten), wait=wait)

    async def atxfer_cid(self, exten: str, cid: str, *, wait: bool = True) -> ChannelListEvent | None:
        """Deprecated by the vendor (manual §3.13): attended transfer showing ``cid``."""
        warnings.warn("atxfer_cid (AtXferCID) is withdrawn by the vendor; use atxfer()", DeprecationWarning,
                      stacklevel=2)
        agent = self._agent("ATXFERCID")
        return await self.send(C.atxfer_cid(agent, self._own("ATXFERCID"), exten, cid), wait=wait)

    async def redirect_conference(self, room: str, *, wait: bool = True) -> E.ConferenceEvent | None:
        """Move the current call (both parties) into conference ``room``."""
        agent = self._agent("REDIRECTCONF")
        return await self.send(C.redirect_conference(agent, room, self._own("REDIRECTCONF"),
                                                     self._other("REDIRECTCONF")), wait=wait)

    async def invite_conference(self, room: str, peers: C.Peers, *, wait: bool = False) -> E.ConferenceEvent | None:
        """Invite ``peers`` (extensions) into ``room`` (only after :meth:`redirect_conference`).

        The invitees' phones ring; the CONFERENCEEVENT comes when one answers, so by default
        this returns once the command is written (a refusal arrives as CommandErrorEvent).
        ``wait=True`` waits for the first CONFERENCEEVENT (or CMDERROR) up to ``command_timeout``.
        """
        return await self.send(C.invite_conference(self._agent("INVITECONF"), room, peers), wait=wait)

    async def join_conference(self, room: str, *, wait: bool = True) -> E.ConferenceEvent | None:
        """Deprecated by the vendor (manual §3.16)."""
        warnings.warn("join_conference (JoinConference) is withdrawn by the vendor", DeprecationWarning,
                      stacklevel=2)
        return await self.send(C.join_conference(self._agent("JOINCONF"), room), wait=wait)

    async def call_with_conference(self, room: str, peers: C.Peers, *, wait: bool = True) -> E.ConferenceEvent | None:
        """Call ``peers`` and the own phone into conference ``room``."""
        return await self.send(C.call_with_conference(self._agent("CALLWITHCONF"), room, peers), wait=wait)

    async def remove_conference(self, room: str, channels: C.Peers, *, wait: bool = True) -> E.ConferenceEvent | None:
        """Remove ``channels`` from conference ``room``."""
        return await self.send(C.remove_conference(self._agent("REMOVECONF"), room, channels), wait=wait)

    async def send_sip_command(self, text: str, *, wait: bool = True) -> Any:
        """Pass a command text through (SendSIPCommand), e.g. ``"CMD|HANGUP|SIP/3584-09fb3350"``.

        Returns the answer recognised for the named command (CMDRESULT, or its event).
        """
        self._agent("SIPCOMMAND")
        return await self.send(C.sip_command(text), wait=wait)

    # --- messages and settings --------------------------------------------------------

    async def send_sms(self, peers: C.Peers, text: str, *, type: str = "0", info: C.Value = "") -> dict[str, str]:
        """Send an SMS to ``peers`` (numbers); returns ``{peer: result}``."""
        ev = await self.send(C.send_sms(self._agent("SENDSMS"), peers, text, type=type, info=info))
        return R.parse_delivery(self._ok(ev))

    async def send_peer_msg(self, peers: C.Peers, text: str, *, type: str = "0", info: str = "") -> dict[str, str]:
        """Send a message to extensions (or ``"ALLDOMAIN"``); returns ``{peer: "OK"|"NOT"}``."""
        ev = await self.send(C.send_peer_msg(self._agent("SENDPEERMSG"), peers, text, type=type, info=info))
        return R.parse_delivery(self._ok(ev))

    async def set_forward(self, use: C.Value, type: C.Value = "", number: str = "", start: C.Value = "",
                          end: C.Value = "", etc: str = "") -> R.ForwardResult:
        """Set (``use=1``) or clear (``use=0``) call forwarding; ``type`` 0 always, 1 no answer, 2 busy,
        3 ring both; ``start``/``end`` as dates (hour precision)."""
        ev = await self.send(C.set_forward(self._agent("SETFORWARD"), use, type, number, start, end, etc))
        return R.parse_forward(self._ok(ev))

    async def set_user_info(self, key: str, value: str) -> CommandResultEvent:
        return self._ok(await self.send(C.set_user_info(self._agent("SETUSERINFO"), key, value)))

    async def address_book(self, type: str, **fields: str) -> CommandResultEvent:
        """MagAddrList: ``type`` plus ``keyidx, gname, pname, tel1..tel5, default, memo``."""
        return self._ok(await self.send(C.address_book(self._agent("MAGADDRLIST"), type, **fields)))

    # --- queries ----------------------------------------------------------------------

    async def get_peer_info(self, peers: C.Peers) -> dict[str, R.PeerInfo]:
        """Per extension: registered with the PBX? an API session connected?"""
        ev = await self.send(C.get_peer_info(self._agent("GETPEERINFO"), peers))
        return R.parse_peer_info(self._ok(ev))

    async def get_call_history(self, cat: C.Value = "1", inout: C.Value = "0", start: C.Value = "",
                               end: C.Value = "", search: C.Value = "9") -> list[R.HistoryRow] | int:
        """Call history rows (names decoded); with ``inout=9`` the number of calls instead."""
        pieces = await self.send(C.get_call_history(self._agent("GETCALLHISTORY"), cat, inout, start, end, search))
        if str(inout) == "9":
            return R.parse_history_count(pieces)
        return R.parse_call_history(R.rows_of(pieces), charset=self.charset)

    async def get_status_peers(self, peers: C.Peers, room: str = "") -> list[R.PeerStatus]:
        ev = await self.send(C.get_status_peers(self._agent("GETSTATUSPEERS"), peers, room))
        return R.parse_status_peers(self._ok(ev))

    async def get_recv_sms_list(self, page: C.Value = 1, cat: str = "") -> list[R.SmsRow]:
        pieces = await self.send(C.get_recv_sms_list(self._agent("GETRECVSMSLIST"), page, cat))
        return R.parse_recv_sms_list(R.rows_of(pieces))

    async def get_var_info(self, name: str) -> R.VarInfo:
        ev = await self.send(C.get_var_info(self._agent("GETVARINFO"), name))
        return R.parse_var_info(self._ok(ev))

    async def get_queue_status(self, type: str = "", qname: str = "", member: str = "") -> list[R.QueueMember]:
        ev = await self.send(C.get_queue_status(self._agent("GETQSTATUS"), type, qname, member))
        return R.parse_queue_status(self._ok(ev))

    async def get_record_list(self, inout: C.Value = "", start: C.Value = "", end: C.Value = "",
                              search: C.Value = "") -> list[R.RecordRow]:
        pieces = await self.send(C.get_record_list(self._agent("GETRECORDLIST"), inout, start, end, search))
        return R.parse_record_list(R.rows_of(pieces))

    async def get_conference_members(self, room: str) -> list[R.ConfMember]:
        ev = await self.send(C.get_conference_members(self._agent("GETLISTCONFMEMBER"), room))
        return R.parse_conference_members(self._ok(ev))


_SPECIAL: dict[str, Callable] = {
    "PING": Client._on_ping,
    "BYE": Client._on_bye,
    "LOGINRESULT": Client._on_login_result,
    "CMDRESULT": Client._on_result,
    "CMDRESULTEND": Client._on_result_end,
    "CMDERROR": Client._on_cmd_error,
    "RINGEVENT": Client._on_call_event,
    "CHANNELLIST": Client._on_call_event,
    "CHANNELOUT": Client._on_call_event,
    "CONFERENCEEVENT": Client._on_call_event,
}


_CODECS: dict[tuple, TextCodec] = {}


def _shared_codec(cipher: str, seed_key: bytes, basic_key: bytes, byteorder: str) -> TextCodec:
    """One TextCodec per (cipher, keys, byte order): it is stateless, and a Monitor runs thousands of clients."""
    if isinstance(seed_key, (bytes, bytearray)) and isinstance(basic_key, (bytes, bytearray)):
        key = (cipher, bytes(seed_key), bytes(basic_key), byteorder)
        codec = _CODECS.get(key)
        if codec is None:
            codec = _CODECS[key] = TextCodec(cipher, seed_key=seed_key, basic_key=basic_key, byteorder=byteorder)
        return codec
    return TextCodec(cipher, seed_key=seed_key, basic_key=basic_key, byteorder=byteorder)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return value


def _check_heartbeat(heartbeat) -> float:
    if heartbeat is None or heartbeat == 0:
        return 0.0
    hb = float(heartbeat)
    if hb < 0:
        raise ValueError("heartbeat must be >= 0 seconds (0/None: off)")
    if hb > HEARTBEAT_MAX:
        msg = f"heartbeat {hb:g} s is above the vendor's {HEARTBEAT_MAX:g} s cap: using {HEARTBEAT_MAX:g} s"
        warnings.warn(msg, UserWarning, stacklevel=3)
        log.warning("%s", msg)
        hb = HEARTBEAT_MAX
    return hb


_CONNECTION_NAMES = {cls.NAME: cls for cls in (Connected, LoggedIn, Disconnected, Reconnecting, Reconnected,
                                                Reconciled)}


def _event_key(event_type):
    if isinstance(event_type, type) and issubclass(event_type, Event):
        return event_type
    if isinstance(event_type, str) and event_type:
        cls = E.EVENT_TYPES.get(event_type) or _CONNECTION_NAMES.get(event_type)
        if cls is None:
            obj = getattr(E, event_type, None)
            if isinstance(obj, type) and issubclass(obj, Event):
                cls = obj
        return cls if cls is not None else event_type
    raise ValueError(f"event_type must be an Event class or a name, not {event_type!r}")


class connect:
    """``async with lguapi.connect(host, user_id=..., password=..., **client_options) as client:``

    Creates a :class:`Client`, logs in, and closes it on exit. ``await connect(...)``
    also works and returns the logged-in client (close it yourself).
    """

    def __init__(self, host: str | None = None, port: int = 8086, *, user_id: str, password: str, **kw: Any) -> None:
        C.login(user_id, password)
        self._client = Client(host, port, **kw)
        self._creds = (user_id, _Secret(password))

    def __repr__(self) -> str:
        return f"<connect {self._client!r}>"

    async def _open(self) -> Client:
        uid, pw = self._creds
        self._creds = (uid, _Secret(""))
        try:
            await self._client.login(uid, pw.get())
        except BaseException:
            await self._client.close()
            raise
        return self._client

    def __await__(self) -> Generator[Any, None, Client]:
        return self._open().__await__()

    async def __aenter__(self) -> Client:
        return await self._open()

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()
