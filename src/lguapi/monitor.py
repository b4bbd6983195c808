"""Monitor: many extensions, one connection each, one event loop — states, calls and counters.

:class:`Monitor` logs in every account of an accounts file (or a list of ``(id, password)``
pairs), one :class:`lguapi.Client` connection per extension, all in the running event loop,
with at most ``login_concurrency`` logins in flight. Every event feeds one shared
:class:`lguapi.calls.CallTracker`; the monitor keeps each extension's state (``offline``,
``idle``, ``ringing``, ``talking``, ``held``) and live wallboard counters, per domain and in
total, and writes every event and every finished call to a sink (JSON Lines by default).

    >>> async def wallboard():                                         # doctest: +SKIP
    ...     async with Monitor("127.0.0.1", 8086, accounts="accounts.toml", sink="events.jsonl") as m:
    ...         async for update in m.updates():
    ...             print(update.kind, update.call.id, m.snapshot()["counters"]["total"])

Losing one connection only takes that extension ``offline`` until its client reconnects
(``auto_reconnect``, passed through ``client_options``); the others are not touched.
"""
from __future__ import annotations

import asyncio
import collections
import gc
import itertools
import logging
import os
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable, Iterator, NamedTuple

from ._log import WarningLimiter, mask_number
from ._recent import RecentKeys
from .accounts import Account, load_accounts
from .events import ConnectionEvent, Disconnected, Event, LoggedIn, Reconnected
from .runtime import new_event_loop, raise_nofile_limit

if TYPE_CHECKING:
    from .client import Client
    from .sinks import Sink

__all__ = ["Monitor", "LoginProgress", "STATES", "GC_EVERY", "Account", "load_accounts", "raise_nofile_limit",
           "new_event_loop"]

log: logging.Logger = logging.getLogger("lguapi.monitor")

#: every per-extension state, in wallboard order
STATES = ("offline", "idle", "ringing", "talking", "held")
#: seconds of history behind ``snapshot()["events"]["per_second"]``
_RATE_WINDOW = 5.0
_DEFAULT_DOMAIN = "default"
#: seconds between runs of the tracker's timers (ring expiry, end grace)
_MAINTENANCE_INTERVAL = 0.5
#: (call id, end time) of the finished calls counted last, against counting one twice: the last
#: half to all of this many are remembered (two generations of half each)
_COUNTED_KEYS = 200_000
#: the garbage collector's third threshold once ``freeze_gc`` froze the logged-in state
_GC_OLD_THRESHOLD = 100
#: default ``gc_every``: events between two young collections the monitor runs itself
GC_EVERY = 1000
#: the ``batch`` of a sink the monitor opens from a path (records come a read at a time)
_SINK_BATCH = 512
#: the kind of every event (call) record: ``zip`` pairs it with each event of a read (call it ended)
_EVENT_KINDS = itertools.repeat("event")
_CALL_KINDS = itertools.repeat("call")


class LoginProgress(NamedTuple):
    """Where the initial logins stand: ``done`` includes ``failed``."""

    done: int
    total: int
    failed: int


def _set_reading(client, on: bool) -> None:
    """Pause or resume reading one client's socket."""
    if on:
        client.resume_reading()
    else:
        client.pause_reading()


def _follow(client, line: _Line, on: bool = True) -> None:
    """Have ``client`` hand ``line`` its events a read at a time (one at a time if it cannot
    batch), or stop with ``on=False``."""
    batches = getattr(client, "add_batch_consumer" if on else "remove_batch_consumer", None)
    if batches is not None:
        batches(line.on_events)
    else:
        (client.on if on else client.off)(Event, line.on_event)


def _facts(call) -> tuple[bool, bool, bool, float | None, float | None]:
    """What the counters need of a finished call: answered, missed, abandoned, ring and talk seconds."""
    return (getattr(call, "answer_at", None) is not None, getattr(call, "missed", False),
            getattr(call, "abandoned", False), getattr(call, "ring_seconds", None),
            getattr(call, "talk_seconds", None))


class _Counters:
    """Finished-call counters of one domain (or the total)."""

    __slots__ = ("ended", "answered", "missed", "abandoned", "ring_sum", "ring_n", "talk_sum", "talk_n")

    def __init__(self) -> None:
        self.ended = self.answered = self.missed = self.abandoned = 0
        self.ring_sum = self.talk_sum = 0.0
        self.ring_n = self.talk_n = 0

    def add(self, call) -> None:
        """Count one finished call (its fields read directly: the tracker's calls have them all;
        anything else is read as :func:`_facts` does, a missing field as its default)."""
        try:
            answered = call.answer_at is not None
            missed, abandoned, ring, talk = call.missed, call.abandoned, call.ring_seconds, call.talk_seconds
        except AttributeError:
            answered, missed, abandoned, ring, talk = _facts(call)
        self.ended += 1
        if answered:
            self.answered += 1
        if missed:
            self.missed += 1
        if abandoned:
            self.abandoned += 1
        if ring is not None:
            self.ring_sum += ring
            self.ring_n += 1
        if answered and talk is not None:
            self.talk_sum += talk
            self.talk_n += 1

    def merge(self, other: _Counters) -> None:
        """Add ``other``'s counts to these (the total is the sum of the domains')."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_dict(self, active: int, ringing: int) -> dict[str, Any]:
        return {
            "active": active, "ringing": ringing, "talking": active - ringing,
            "ended": self.ended, "answered": self.answered, "missed": self.missed, "abandoned": self.abandoned,
            "avg_ring_seconds": round(self.ring_sum / self.ring_n, 3) if self.ring_n else None,
            "avg_talk_seconds": round(self.talk_sum / self.talk_n, 3) if self.talk_n else None,
        }


class _Line:
    """One monitored extension: its account, client and whether it is logged in."""

    __slots__ = ("monitor", "account", "exten", "domain", "client", "online", "failed", "error", "since", "events",
                 "kicked")

    def __init__(self, monitor: Monitor, account: Account) -> None:
        self.monitor = monitor
        self.account = account
        self.exten = account.exten
        self.domain = account.domain
        self.client: Client | None = None
        self.online = False
        self.failed = False
        self.error: str | None = None
        self.since = time.time()
        self.events = 0
        self.kicked = False

    def on_events(self, evs: list[Event]) -> None:  # the Client's batch consumer: sync, cheap
        try:
            self.monitor._on_events(self, evs)
        except Exception:  # never let one bad batch kill the connection's reader
            log.exception("monitor: error handling %d event(s) on extension %s", len(evs), self.exten)

    def on_event(self, ev: Event) -> None:  # for a client without batches (a ``client_factory``'s)
        self.on_events([ev])

    def state(self, tracker) -> str:
        """offline, or the busiest of this extension's legs: talking > held > ringing > idle."""
        if not self.online:
            return "offline"
        if not self.exten:
            return "idle"
        best = "idle"
        for call in tracker.calls_of(self.exten):
            st = call.active_extens.get(self.exten)
            if st == "connected":
                return "talking"
            if st == "held":
                best = "held"
            elif st == "ringing" and best == "idle":
                best = "ringing"
        return best


class Monitor:
    """Log in many extensions and watch them: states, calls, counters, sink.

    ``accounts``: a TOML accounts file (the emulator's format), a ``Directory``, or an
    iterable of ``(id, password)`` pairs. ``sink``: a path/URL for :func:`lguapi.sinks.open_sink`
    (``"events.jsonl"``, ``"sqlite:///calls.db"``), a sink object, or ``None``.
    ``client_options`` go to every :class:`lguapi.Client` (``auto_reconnect``, ``heartbeat`` ...).
    ``on_progress(LoginProgress)`` is called after every login attempt. ``freeze_gc=True``
    calls :func:`gc.freeze` once the logins are done (process-wide: everything alive then is
    left out of later collections, which keeps full collections — and latency spikes —
    short with thousands of connections; the CLI does this) and raises the collector's third
    threshold to 100 unless it is higher already or the collector is off (docs/monitor.md,
    "Performance"). ``gc_every``: every this many events the monitor collects the youngest
    generation itself (:func:`gc.collect` ``(0)``), which keeps each of those collections to
    a few ms instead of tens (default :data:`GC_EVERY`; ``0``: leave it to the interpreter;
    skipped while the collector is disabled). ``capture``: a directory where
    every frame of every connection is recorded (docs/capture.md; replay it with
    :func:`lguapi.replay.replay` or ``lguapi replay``), or a
    :class:`lguapi.capture.CaptureWriter` configured by the caller (its segment size, how many
    segments to keep), which the monitor flushes but does not close.
    ``cluster="redis://HOST:PORT/DB"``
    makes this monitor one member of a cluster sharing the accounts: it logs in only the
    extensions of the shards it leases (:class:`lguapi.cluster.node.ClusterNode`, options in
    ``cluster_options``; see docs/cluster.md).

    >>> m = Monitor("127.0.0.1", 8086, accounts=[("07012343001", "secret-3001")])  # doctest: +SKIP
    >>> await m.start(); print(m.snapshot()["states"]); await m.close()           # doctest: +SKIP
    """

    def __init__(self, host: str | None, port: int = 8086, *, accounts: Any, cipher: str = "seed",
                 sink: Any = None, login_concurrency: int = 100, login_retries: int = 2,
                 client_options: dict[str, Any] | None = None, tracker: Any = None, ring_expiry: float = 300.0,
                 on_progress: Callable[[LoginProgress], Any] | None = None,
                 client_factory: Callable[..., Any] | None = None, sink_high_water: int = 10_000,
                 max_sink_backlog: int = 1_000_000, freeze_gc: bool = False,
                 capture: str | os.PathLike | Any = None, cluster: Any = None,
                 cluster_options: dict | None = None, gc_every: int = GC_EVERY) -> None:
        if login_concurrency < 1:
            raise ValueError("login_concurrency must be at least 1")
        if not isinstance(gc_every, int) or gc_every < 0:
            raise ValueError("gc_every must be an integer >= 0 (0: off)")
        self.host = host
        self.port = port
        self.cipher = cipher
        self._accounts = load_accounts(accounts)
        if not self._accounts:
            raise ValueError("no accounts to monitor")
        self._lines = [_Line(self, a) for a in self._accounts]
        self._by_exten: dict[str, _Line] = {ln.exten: ln for ln in self._lines if ln.exten}
        self._by_id: dict[str, _Line] = {ln.account.id: ln for ln in self._lines}
        self._login_concurrency = login_concurrency
        self._login_retries = max(0, int(login_retries))
        self._client_options = dict(client_options or {})
        self._client_factory = client_factory
        self._owns_tracker = tracker is None
        if tracker is None:
            from .calls import CallTracker

            tracker = CallTracker(ring_expiry=ring_expiry)
        self.tracker = tracker
        self._sink_spec = sink
        self.sink: Sink | None = None
        self._owns_sink = False
        self._max_sink_backlog = max_sink_backlog
        self._freeze_gc = freeze_gc
        self._gc_every = gc_every
        self._gc_due = gc_every  # events left until the next young collection
        self._capture_dir = capture
        self.capture: Any = None  # the CaptureWriter every client records into, once started
        self._owns_capture = False
        self._sink_high = max(1, sink_high_water)
        self._sink_low = self._sink_high // 4
        self._sink_batch: Callable[[Iterable], list] | None = None  # the sink's write_batch, if any
        self._reading_paused = False
        self.sink_pauses: int = 0
        self._paused_lines: dict[_Line, None] = {}  # connections paused for the sink
        self._sink_queue: collections.deque = collections.deque()
        self._sink_wakeup: asyncio.Event | None = None
        self._sink_dropped = 0
        self._sink_written = 0
        self._sink_errors = WarningLimiter(burst=3, interval=60.0)  # a full disk fails every read's write
        self._on_progress = on_progress
        self._progress = LoginProgress(0, len(self._lines), 0)
        self._progress_subs: list[asyncio.Queue] = []
        self._domains: dict[str, _Counters] = {}  # finished-call counters by domain (the total is their sum)
        self._counted = RecentKeys(_COUNTED_KEYS // 2)  # call id -> end time: an end seen again is not counted twice
        self._events = 0
        self._event_samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=256)
        self._started_at: float | None = None
        self._login_done_at: float | None = None
        self._tasks: list[asyncio.Task] = []
        self._login_task: asyncio.Task | None = None
        self._closing = False
        self._closed = False
        self._update_hooks: list[Callable[[Any], Any]] = []
        self._event_hooks: list[Callable[[Event], Any]] = []
        self._cluster: Any = None
        if cluster is not None:  # lguapi.cluster decides which accounts this process logs in
            from .cluster.node import ClusterNode

            self._client_options["auto_reconnect"] = 0  # re-logins only while the lease is valid
            self._cluster = ClusterNode(self, cluster, **(cluster_options or {}))

    # -- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> Monitor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self, *, wait: bool = True) -> LoginProgress:
        """Open the sink and log every extension in (``login_concurrency`` at a time).

        With ``wait=False`` logins go on in the background (watch :meth:`progress`); call
        :meth:`wait_logged_in` to wait for them. Returns the progress so far.
        Failed logins are logged (never with the password) and counted, not raised.
        """
        if self._started_at is not None:
            raise RuntimeError("Monitor.start() called twice")
        if self._closed:
            raise RuntimeError("Monitor is closed")
        self._started_at = time.time()
        raise_nofile_limit(len(self._lines) + 64)
        if self._capture_dir is not None:
            from .capture import CaptureWriter

            spec = self._capture_dir
            # a directory is opened (and closed) here; a CaptureWriter the caller configured
            # (segment size, how many to keep) is only flushed at close: the caller owns it
            self._owns_capture = not isinstance(spec, CaptureWriter)
            self.capture = CaptureWriter(spec) if self._owns_capture else spec
            self._client_options["capture"] = self.capture
        await self._open_sink()
        self._sink_wakeup = asyncio.Event()
        if self.sink is not None and self._sink_batch is None:  # a batching sink is written by the readers
            self._tasks.append(asyncio.create_task(self._sink_writer(), name="lguapi-monitor-sink"))
        self._tasks.append(asyncio.create_task(self._maintenance(), name="lguapi-monitor-maintenance"))
        first_logins = self._cluster.start() if self._cluster is not None else self._login_all()
        self._login_task = asyncio.create_task(first_logins, name="lguapi-monitor-login")
        if wait:
            await self.wait_logged_in()
        return self._progress

    async def wait_logged_in(self) -> LoginProgress:
        """Wait until every initial login has succeeded or failed."""
        if self._login_task is None:
            raise RuntimeError("Monitor.start() was not called")
        await asyncio.shield(self._login_task)
        return self._progress

    async def close(self) -> None:
        """Log every extension out, flush and close the sink (if the monitor opened it)."""
        if self._closed:
            return
        self._closing = True
        self._closed = True
        if self._login_task is not None and not self._login_task.done():
            self._login_task.cancel()
            await asyncio.gather(self._login_task, return_exceptions=True)
        if self._cluster is not None:
            await self._cluster.close()  # hands the shards over (logs out first), then leaves
        clients = [ln.client for ln in self._lines if ln.client is not None]
        results = await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                log.warning("monitor: error closing a client: %r", r)
        for ln in self._lines:
            ln.online = False
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self._drain_sink()
        if self.capture is not None:
            if self._owns_capture:
                self.capture.close()
            else:
                self.capture.flush()
        if self.sink is not None and self._owns_sink:
            try:
                await self.sink.close()
            except Exception:
                log.exception("monitor: error closing the sink")
        if self._owns_tracker:
            self.tracker.close()  # ends every updates() iterator
        for q in self._progress_subs:
            q.put_nowait(None)

    # -- login ----------------------------------------------------------------------------
    def _new_client(self):
        if self._client_factory is not None:
            return self._client_factory(self.host, self.port, cipher=self.cipher, **self._client_options)
        from .client import Client

        return Client(self.host, self.port, cipher=self.cipher, **self._client_options)

    async def _login_all(self) -> None:
        sem = asyncio.Semaphore(self._login_concurrency)
        done = failed = 0
        total = len(self._lines)

        async def one(line: _Line) -> None:
            nonlocal done, failed
            async with sem:
                ok = await self._login_line(line)
            done += 1
            if not ok:
                failed += 1
            self._set_progress(LoginProgress(done, total, failed))

        await asyncio.gather(*(one(ln) for ln in self._lines))
        self._login_done_at = time.time()
        if self._freeze_gc:
            gc.freeze()  # thousands of long-lived connections: keep them out of every full collection
            gen0, gen1, gen2 = gc.get_threshold()
            if gen0 > 0 and gen2 < _GC_OLD_THRESHOLD:
                # events come and go by the hundred thousand and die young: full collections (each
                # scans every connection's live objects) 10x more rarely; young ones unchanged, as a
                # higher first threshold makes each young collection -- a pause -- longer
                gc.set_threshold(gen0, gen1, _GC_OLD_THRESHOLD)
        for q in self._progress_subs:
            q.put_nowait(None)

    async def _login_line(self, line: _Line) -> bool:
        from .client import LoginError

        acc = line.account
        for attempt in range(self._login_retries + 1):
            if self._closing or (self._cluster is not None and not self._cluster.may_login(acc.id)):
                return False
            client = self._new_client()
            _follow(client, line)
            line.client = client
            try:
                result = await client.login(acc.id, acc.password)
            except LoginError as e:  # wrong id/password, locked ...: retrying will not help
                line.failed, line.error = True, f"login refused: {e}"
                log.warning("monitor: login of %s refused: %s", mask_number(acc.id), e)
                await self._discard(line, client)
                return False
            except asyncio.CancelledError:
                await self._discard(line, client)
                raise
            except Exception as e:  # connection refused, timed out ...
                line.error = f"{type(e).__name__}: {e}"
                log.warning("monitor: login of %s failed (attempt %d): %s", mask_number(acc.id), attempt + 1,
                            line.error)
                await self._discard(line, client)
                if attempt < self._login_retries:
                    await asyncio.sleep(0.2 * (attempt + 1))
                continue
            line.failed, line.error = False, None
            self._bind(line, getattr(client, "exten", None) or getattr(result, "exten_number", None),
                       getattr(result, "domain", None))
            line.online = True
            line.since = time.time()
            return True
        line.failed = True
        return False

    async def _discard(self, line: _Line, client) -> None:
        try:
            _follow(client, line, on=False)
        except Exception:
            pass
        try:
            await client.close()
        except Exception as e:
            log.debug("monitor: closing a failed client: %r", e)
        if line.client is client:
            line.client = None

    def _bind(self, line: _Line, exten: str | None, domain: str | None) -> None:
        if exten and line.exten != exten:
            if line.exten and self._by_exten.get(line.exten) is line:
                del self._by_exten[line.exten]
            line.exten = exten
        if line.exten:
            self._by_exten[line.exten] = line
        if not line.domain:
            line.domain = domain or _DEFAULT_DOMAIN

    def _set_progress(self, p: LoginProgress) -> None:
        self._progress = p
        for q in self._progress_subs:
            q.put_nowait(p)
        if self._on_progress is not None:
            try:
                self._on_progress(p)
            except Exception:
                log.exception("monitor: on_progress callback failed")

    async def progress(self) -> AsyncIterator[LoginProgress]:
        """Login progress as it happens: the current value first, then one per login; ends
        when every initial login is done."""
        q: asyncio.Queue = asyncio.Queue()
        q.put_nowait(self._progress)
        if self._login_task is not None and self._login_task.done():
            q.put_nowait(None)
        else:
            self._progress_subs.append(q)
        try:
            while True:
                p = await q.get()
                if p is None:
                    return
                yield p
        finally:
            if q in self._progress_subs:
                self._progress_subs.remove(q)

    @property
    def login_progress(self) -> LoginProgress:
        """``LoginProgress(done, total, failed)`` of the initial logins."""
        return self._progress

    @property
    def logins_done(self) -> bool:
        """Has every initial login succeeded or failed?"""
        return self._login_task is not None and self._login_task.done()

    # -- events ---------------------------------------------------------------------------
    def _on_events(self, line: _Line, evs: list[Event]) -> None:
        """The events of one read of ``line``'s connection, in order (a connection-state
        event comes alone): counters, tracker, sink records, updates, hooks.

        With no hook the read is handled as a whole (one tracker call, one sink hand-off).
        A hook looks at live calls, so with hooks each event is handled in turn: every hook
        sees each call as its own event left it, never as later events of the read did."""
        n = len(evs)
        self._events += n
        line.events += n
        if self._gc_every:
            self._gc_due -= n
            if self._gc_due <= 0:
                self._collect_young()
        if n == 1 and isinstance(evs[0], ConnectionEvent):
            self._connection_event(line, evs[0])
        if self._update_hooks or self._event_hooks:
            for ev in evs:
                try:
                    self._on_event(line, ev)
                except Exception:  # one event's failure is its own: the rest of the read goes on
                    log.exception("monitor: error handling %s on extension %s", type(ev).__name__, line.exten)
            return
        updates = self._track(line, evs)
        if self.sink is not None:
            self._enqueue(_EVENT_KINDS, evs, line)
        if updates:
            self._apply_all(updates, line)

    def _on_event(self, line: _Line, ev: Event) -> None:
        """One event when hooks are set: tracker, sink record, updates, then the hooks."""
        try:
            updates = self.tracker.feed(ev)
        except Exception:
            log.exception("monitor: the call tracker failed on %s from extension %s", type(ev).__name__, line.exten)
            updates = []
        if self.sink is not None:
            self._enqueue(_EVENT_KINDS, [ev], line)
        if updates:
            self._apply_all(updates, line)
        if self._event_hooks:
            self._run_event_hooks(ev)

    def _collect_young(self) -> None:
        """``gc_every`` events went by: collect the youngest generation now, while it is small.

        CPython starts a young collection when its objects created minus objects freed pass
        a threshold, so the call tracker's many small tuples, created as older ones are freed,
        pile up by the hundred thousand between two collections: one pause of tens of ms.
        Collecting every ``gc_every`` events looks at each of them once as well, in pauses of
        a few ms. Left alone while the application has turned the collector off."""
        self._gc_due = max(1, self._gc_due + self._gc_every)  # a read past the mark counts towards the next
        if gc.isenabled():
            gc.collect(0)

    def _track(self, line: _Line, evs: list[Event]) -> list:
        """Feed ``evs`` to the tracker in one call; an event it fails on is logged and the
        events after it are still fed (one by one from there: each failure costs its own)."""
        it = iter(evs)
        try:
            return self.tracker.feed_many(it)
        except Exception:
            rest = list(it)  # feed_many stopped at the failed event: these come after it
            bad = len(evs) - len(rest) - 1
            log.exception("monitor: the call tracker failed on %s (event %d of %d from extension %s); the "
                          "call updates of the %d event(s) before it in this read are lost",
                          type(evs[bad]).__name__, bad + 1, len(evs), line.exten, bad)
        updates: list = []
        for ev in rest:
            try:
                updates += self.tracker.feed(ev)
            except Exception:
                log.exception("monitor: the call tracker failed on %s from extension %s", type(ev).__name__,
                              line.exten)
        return updates

    def _run_event_hooks(self, ev: Event) -> None:
        for hook in self._event_hooks:
            try:
                hook(ev)
            except Exception:
                log.exception("monitor: event hook failed")

    def _connection_event(self, line: _Line, ev: Event) -> None:
        if isinstance(ev, Disconnected):
            if line.online:
                line.since = time.time()
            line.online = False
            if not ev.deliberate and (ev.reason or "").startswith("BYE"):
                line.kicked, line.error = True, f"kicked: {ev.reason}"
            if not ev.deliberate and not self._closing:
                log.info("monitor: extension %s lost its connection%s", line.exten,
                         " (reconnecting)" if ev.will_reconnect else "")
        elif isinstance(ev, (LoggedIn, Reconnected)):
            if isinstance(ev, LoggedIn) and ev.result is not None:
                self._bind(line, ev.result.exten_number, ev.result.domain)
            if not line.online:
                line.since = time.time()
            line.online = not self._closing
            line.kicked = False

    def _apply_all(self, updates: list, line: _Line | None = None) -> None:
        """Count the calls ``updates`` ended, queue their records at once, run the update hooks."""
        hooks = self._update_hooks
        ended = []
        for u in updates:
            if u.kind == "ended":
                call = u.call
                if getattr(call, "end_reason", None) != "merged":  # part of another call: count it nowhere
                    self._count_ended(call, line)
                    ended.append(call)
            if hooks:
                self._publish(u)
        if ended and self.sink is not None:
            self._enqueue(_CALL_KINDS, ended, line)

    def _count_ended(self, call, line: _Line | None) -> None:
        if not self._counted.add(call.id, getattr(call, "end_at", None)):
            return
        dom = self._domain_of(call, line)
        c = self._domains.get(dom)
        if c is None:
            c = self._domains[dom] = _Counters()
        c.add(call)  # once: the total is the domains' sum, made when the stats are read

    def _domain_of(self, call, line: _Line | None = None) -> str:
        for ex in getattr(call, "exten", ()) or ():
            other = self._by_exten.get(ex)
            if other is not None and other.domain:
                return other.domain
        if line is not None and line.domain:
            return line.domain
        return _DEFAULT_DOMAIN

    def _publish(self, update) -> None:
        for hook in self._update_hooks:
            try:
                hook(update)
            except Exception:
                log.exception("monitor: update hook failed")

    def updates(self, *, maxsize: int = 100_000) -> AsyncIterator[Any]:
        """Every :class:`lguapi.calls.CallUpdate` from now on (``async for``), until the monitor
        closes. Each consumer has its own queue of ``maxsize``; a consumer that falls that
        far behind loses its oldest updates, counted in the iterator's ``dropped`` and logged
        (the tracker's policy) — the monitor itself never waits for a consumer."""
        return self.tracker.updates(maxsize=maxsize)

    def add_update_hook(self, hook: Callable[[Any], Any]) -> None:
        """Call ``hook(update)`` synchronously for every call update (cheap: no queue)."""
        self._update_hooks.append(hook)

    def add_event_hook(self, hook: Callable[[Event], Any]) -> None:
        """Call ``hook(event)`` synchronously for every event, after the tracker has seen it
        and its call updates went out (cheap: no queue)."""
        self._event_hooks.append(hook)

    # -- cluster seam: lguapi.cluster decides which accounts this process logs in ----------
    @property
    def cluster_node(self) -> Any:
        """The :class:`lguapi.cluster.node.ClusterNode` of a monitor made with ``cluster=``, else None."""
        return self._cluster

    def account_ids(self) -> list[str]:
        """The login id of every account, in accounts-file order."""
        return [ln.account.id for ln in self._lines]

    def account_info(self, login_id: str) -> dict:
        """``{"exten", "domain", "online", "state", "refused", "busy"}`` of one account (``busy``: a
        login or logout is under way; ``refused``: the server refused its password for good)."""
        ln = self._by_id[login_id]
        return {"exten": ln.exten, "domain": ln.domain, "online": ln.online, "state": ln.state(self.tracker),
                "refused": bool(ln.failed and (ln.error or "").startswith("login refused")),
                "busy": ln.client is not None and not ln.online}

    async def login_accounts(self, login_ids: list[str]) -> int:
        """Log these accounts in (``login_concurrency`` at a time; lines already logged in or
        logging in are left alone). Returns how many are online afterwards."""
        sem = asyncio.Semaphore(self._login_concurrency)
        lines = [self._by_id[i] for i in login_ids if i in self._by_id]

        async def one(line: _Line) -> None:
            async with sem:
                if line.client is None and not self._closing:
                    await self._login_line(line)

        await asyncio.gather(*(one(ln) for ln in lines))
        return sum(1 for ln in lines if ln.online)

    async def logout_accounts(self, login_ids: list[str]) -> None:
        """Log these accounts out (close their connections) and wait until they are closed."""
        lines = [self._by_id[i] for i in login_ids if i in self._by_id]
        await asyncio.gather(*(self._discard(ln, ln.client) for ln in lines if ln.client is not None))
        for ln in lines:
            ln.online = False

    # -- sink -----------------------------------------------------------------------------
    async def _open_sink(self) -> None:
        spec = self._sink_spec
        if spec is None:
            return
        if isinstance(spec, (str, os.PathLike)):
            from .sinks import open_sink

            # records come a read at a time: a larger batch makes one write (transaction) for
            # as many as the queue's chunks did (SQLite about 20% cheaper per record than at 100)
            # ... and an SQLite sink commits in its writer thread while the loop goes on
            self.sink = open_sink(os.fspath(spec), batch=_SINK_BATCH, background=True)
            self._owns_sink = True
        else:
            self.sink = spec
        self._sink_batch = getattr(self.sink, "write_batch", None)

    def _enqueue(self, kinds: Iterator[str], objs: list, line: _Line | None) -> None:
        """A ``(kind, obj)`` record for each of ``objs`` at once (the events of a read with
        :data:`_EVENT_KINDS`, the calls it ended with :data:`_CALL_KINDS`): handed straight to
        a batching sink (it buffers the lines itself; the objects die young, no queue entry,
        no writer wake-up), queued for any other sink."""
        batch = self._sink_batch
        if batch is not None:
            self._hand(batch, zip(kinds, objs), len(objs))
            return
        room = self._max_sink_backlog - len(self._sink_queue)
        if room < len(objs):
            self._drop(len(objs) - max(0, room))
            objs = objs[:max(0, room)]
        self._sink_queue.extend(zip(kinds, objs))
        self._queued(line)

    def _drop(self, n: int) -> None:
        """``n`` records did not fit under ``max_sink_backlog``: counted, and logged now and then."""
        before = self._sink_dropped
        self._sink_dropped += n
        if before == 0 or before // 10_000 != self._sink_dropped // 10_000:
            log.error("monitor: the sink is %d records behind; %d record(s) dropped so far",
                      len(self._sink_queue), self._sink_dropped)

    def _queued(self, line: _Line | None) -> None:
        """Records were queued (``line`` fed them): pause ``line`` when the backlog is high;
        wake the writer."""
        if line is not None and len(self._sink_queue) >= self._sink_high:
            self._pause_line(line)
        w = self._sink_wakeup
        if w is not None and not w.is_set():
            w.set()

    def _pause_line(self, line: _Line) -> None:
        """The sink is behind and ``line`` just fed it: stop reading that connection (the
        server holds its events) until the backlog is down to the low-water mark. Only the
        connections that keep delivering while the backlog is high are paused; quiet ones
        are never touched, so a crossing costs one pause, not one per connection."""
        paused = self._paused_lines
        if line in paused or line.client is None:
            return
        if not paused:
            self._reading_paused = True
            self.sink_pauses += 1
            if self.sink_pauses == 1 or self.sink_pauses % 100 == 0:
                log.warning("monitor: the sink is %d records behind: reading the busiest connections "
                            "paused until it catches up (%d pause(s) so far)", len(self._sink_queue),
                            self.sink_pauses)
        paused[line] = None
        _set_reading(line.client, False)

    def _resume_reading(self) -> None:
        paused, self._paused_lines = self._paused_lines, {}
        self._reading_paused = False
        for ln in paused:
            if ln.client is not None:
                _set_reading(ln.client, True)

    async def _sink_writer(self) -> None:
        """Drain the queue of a sink without ``write_batch`` whenever records come."""
        wake = self._sink_wakeup
        assert wake is not None, "the sink writer runs after start()"
        while True:
            await wake.wait()
            wake.clear()
            await self._drain_sink()

    async def _drain_sink(self) -> None:
        sink = self.sink
        if sink is None:
            return
        if self._sink_batch is None:
            await self._drain_one_by_one(sink)
        try:
            await sink.flush()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("monitor: flushing the sink failed")

    def _hand(self, batch: Callable[[Iterable], list], items: Iterable, n: int) -> None:
        """Give ``n`` ``(kind, obj)`` records to ``batch`` (``write_batch``): counted, each
        refused one logged, a failed write logged at most 3 times a minute with its traceback
        (the built-in sinks keep the records for the next write; the rest are counted)."""
        try:
            failed = batch(items)
        except Exception as e:  # the built-in sinks keep the records for their next write
            self._sink_errors.error(log, "write", "monitor: a sink write failed (%s); its records wait in the sink "
                                    "for the next one", e, exc_info=True)
            failed = []
        self._sink_written += n - len(failed)
        for (kind, _obj), exc in failed:
            log.error("monitor: the sink could not write a %s record: %s", kind, exc)

    async def _drain_one_by_one(self, sink) -> None:
        """Any other sink (the :class:`lguapi.sinks.Sink` protocol): one awaited write per record."""
        q = self._sink_queue
        n = 0
        while q:
            kind, obj = q.popleft()
            n += 1
            if self._reading_paused and len(q) <= self._sink_low:
                self._resume_reading()
            elif n % 1000 == 0 and len(q) > self._sink_low:
                await asyncio.sleep(0)  # a sink that never suspends must not starve the loop
            try:
                if kind == "event":
                    await sink.write_event(obj)
                else:
                    await sink.write_call(obj)
                self._sink_written += 1
            except asyncio.CancelledError:
                q.appendleft((kind, obj))
                raise
            except Exception:
                log.exception("monitor: the sink could not write a %s record", kind)

    async def _maintenance(self) -> None:
        while True:
            await asyncio.sleep(_MAINTENANCE_INTERVAL)
            try:
                updates = self.tracker.expire()
            except Exception:
                log.exception("monitor: expiring calls failed")
                continue
            if updates:
                self._apply_all(updates)

    def expire_now(self, now: float | None = None) -> int:
        """Run the tracker's ring expiry at once (the monitor also does it every few seconds)."""
        updates = self.tracker.expire(now)
        if updates:
            self._apply_all(updates)
        return len(updates)

    # -- views ----------------------------------------------------------------------------
    @property
    def events_seen(self) -> int:
        return self._events

    def line_state(self, exten: str) -> str:
        """The state of one extension: offline, idle, ringing, talking or held."""
        line = self._by_exten.get(exten)
        if line is None:
            raise KeyError(f"extension {exten!r} is not monitored")
        return line.state(self.tracker)

    def states(self) -> dict[str, str]:
        """``{extension or login id: state}`` for every monitored extension."""
        return {(ln.exten or ln.account.id): ln.state(self.tracker) for ln in self._lines}

    def client(self, exten: str) -> Client | None:
        """The :class:`lguapi.Client` of one extension (``None`` before its login)."""
        line = self._by_exten.get(exten)
        if line is None:
            raise KeyError(f"extension {exten!r} is not monitored")
        return line.client

    def counters(self) -> dict[str, Any]:
        """Wallboard counters: ``{"total": {...}, "domains": {domain: {...}}}``.

        Each has ``active`` (live calls), ``ringing``, ``talking`` (live, past ringing),
        ``ended``, ``answered``, ``missed``, ``abandoned``, ``avg_ring_seconds`` and
        ``avg_talk_seconds`` (``None`` until a call gives one).
        """
        live: dict[str, list[int]] = {}
        total = [0, 0]
        for call in list(self.tracker.active.values()):
            if getattr(call, "state", None) == "ended":
                continue
            ringing = 1 if call.state == "ringing" else 0
            dom = self._domain_of(call)
            d = live.setdefault(dom, [0, 0])
            d[0] += 1
            d[1] += ringing
            total[0] += 1
            total[1] += ringing
        domains = {}
        for dom in sorted(set(self._domains) | set(live) | {ln.domain for ln in self._lines if ln.domain}):
            a, r = live.get(dom, (0, 0))
            domains[dom] = self._domains.get(dom, _Counters()).to_dict(a, r)
        every = _Counters()
        for c in self._domains.values():
            every.merge(c)
        return {"total": every.to_dict(total[0], total[1]), "domains": domains}

    def snapshot(self, *, calls: int = 200) -> dict[str, Any]:
        """Everything a wallboard shows, JSON-serialisable.

        ``{"ts", "started_at", "uptime", "logins": {"total","done","failed","online","kicked","seconds"},
        "states": {state: count}, "extensions": {exten: {"state","domain","id","since","calls","error","kicked"}},
        "counters": {...see counters()}, "calls": [up to ``calls`` live calls, to_dict()],
        "events": {"total", "per_second" (over the last 5 s), "average_per_second"}, "sink": {"path","written","backlog","dropped"}}``.
        """
        now = time.time()
        tracker = self.tracker
        active = tracker.active
        states = dict.fromkeys(STATES, 0)
        exts = {}
        for ln in self._lines:
            info = self._line_info(ln)
            states[info["state"]] += 1
            exts[ln.exten or ln.account.id] = info
        uptime = now - self._started_at if self._started_at else 0.0
        live_calls = []
        for call in list(active.values())[:max(0, calls)]:
            try:
                live_calls.append(call.to_dict())
            except Exception:
                log.exception("monitor: Call.to_dict failed")
        p = self._progress
        return {
            "ts": now,
            "started_at": self._started_at,
            "uptime": uptime,
            "logins": {"total": p.total, "done": p.done, "failed": p.failed,
                       "online": sum(1 for ln in self._lines if ln.online),
                       "kicked": sum(1 for ln in self._lines if ln.kicked),
                       "seconds": (self._login_done_at - self._started_at)
                       if self._login_done_at and self._started_at else None},
            "states": states,
            "extensions": exts,
            "counters": self.counters(),
            "calls": live_calls,
            "events": {"total": self._events, "per_second": self._recent_rate(now, uptime),
                       "average_per_second": round(self._events / uptime, 1) if uptime > 0 else 0.0},
            "sink": {"path": self._sink_path(), "written": self._sink_written, "backlog": len(self._sink_queue),
                     "dropped": self._sink_dropped},
            **({"cluster": self._cluster.snapshot()} if self._cluster is not None else {}),
        }

    def _recent_rate(self, now: float, uptime: float) -> float:
        """Events per second over the last few seconds (the samples are the snapshots taken)."""
        samples = self._event_samples
        samples.append((now, self._events))
        while len(samples) > 2 and now - samples[1][0] >= _RATE_WINDOW:
            samples.popleft()
        t0, n0 = samples[0]
        if now - t0 < 0.5:  # too short a window: the average since the start is the better guess
            return round(self._events / uptime, 1) if uptime > 0 else 0.0
        return round((self._events - n0) / (now - t0), 1)

    def extension(self, exten: str) -> dict:
        """One extension as :meth:`snapshot` lists it: ``{"state","domain","id","since","calls","error","kicked"}``."""
        line = self._by_exten.get(exten)
        if line is None:
            raise KeyError(f"extension {exten!r} is not monitored")
        return self._line_info(line)

    def _line_info(self, ln: _Line) -> dict:
        tracker = self.tracker
        return {"state": ln.state(tracker), "domain": ln.domain or _DEFAULT_DOMAIN, "id": ln.account.id,
                "since": ln.since, "calls": [c.id for c in tracker.calls_of(ln.exten)] if ln.exten else [],
                "error": ln.error, "kicked": ln.kicked}

    def _sink_path(self) -> str | None:
        if self._sink_spec is None:
            return None
        if isinstance(self._sink_spec, (str, os.PathLike)):
            return os.fspath(self._sink_spec)
        return str(getattr(self._sink_spec, "path", type(self._sink_spec).__name__))

    def __repr__(self) -> str:
        return (f"<Monitor {self.host}:{self.port} {len(self._lines)} extension(s), "
                f"{sum(1 for ln in self._lines if ln.online)} online>")
