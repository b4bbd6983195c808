"""Signed webhook delivery: feed messages to configured HTTP endpoints, through a durable outbox.

:class:`WebhookDispatcher` receives every feed message through :meth:`~WebhookDispatcher.offer`
(a synchronous, cheap hub listener), keeps those an endpoint's filters accept, commits them
to the SQLite :class:`~lguapi.gateway.outbox.Outbox` in batches on a worker thread, then POSTs
each as JSON, signed (:mod:`lguapi.gateway.signing`), retrying 5xx/408/429, timeouts and
connection errors with exponential backoff and jitter until ``max_attempts``, after which the
delivery is ``failed`` (the dead-letter list) until :meth:`~WebhookDispatcher.retry`.

>>> ep = WebhookEndpoint.from_config({"name": "crm", "url": "https://crm.example/hook",
...                                   "secret": "s3cret", "events": ["call.ringing"]})
>>> ep
WebhookEndpoint(name='crm', url='https://crm.example/hook', events=('call.ringing',), exten=None, domain=None)
"""
from __future__ import annotations

import asyncio
import collections
import heapq
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from .jsonable import dumps, mask_numbers
from .outbox import STATUSES, Delivery, Outbox, Outcome
from .signing import sign

__all__ = ["WebhookEndpoint", "WebhookDispatcher", "DEFAULTS", "EVENT_TYPES"]

log = logging.getLogger("lguapi.gateway.webhooks")

#: the documented defaults of every dispatcher option (``[webhook]`` table keys)
DEFAULTS: dict[str, Any] = {
    "outbox_path": "lguapi-webhooks.sqlite3",
    "max_attempts": 10,
    "backoff_base": 1.0,
    "backoff_cap": 300.0,
    "timeout": 10.0,
    "concurrency": 4,
    "max_outbox": 100_000,
    "delivered_retention": 86_400.0,
    "failed_retention": 7 * 86_400.0,
    "close_timeout": 5.0,
    "prune_interval": 60.0,
    "memory_window": 1000,
}
#: the message types a webhook can subscribe to, besides ``event.<name>`` and the wildcards
EVENT_TYPES = ("call.ringing", "call.answered", "call.updated", "call.ended", "extension.state")

_T = TypeVar("_T")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_EVENT_PATTERN = re.compile(r"^(\*|call\.\*|extension\.\*|event\.\*|event\.[a-z0-9_]+)$")
_ENDPOINT_KEYS = frozenset({"name", "url", "secret", "secret_env", "events", "exten", "domain",
                            "timeout", "concurrency", "mask_numbers"})
_USER_AGENT = "lguapi-webhooks/1"
_WRITE_RETRY_DELAY = 1.0
_DROP_LOG_INTERVAL = 10.0
_ERROR_TEXT_MAX = 200
_RELEASE_BATCH = 500


@dataclass(frozen=True)
class WebhookEndpoint:
    """One ``[[webhooks]]`` table: where to POST, the signing secret and the filters.

    ``events`` holds exact types (``call.ringing``), ``call.*``-style prefixes or ``*``
    (every message except ``gap``). ``exten``/``domain``, when given, keep only messages of
    those extensions/domains. ``timeout``/``concurrency`` override the dispatcher's defaults;
    ``mask_numbers`` sends phone numbers masked (``010****5678``; default: in full).
    The secret never appears in the repr, and the URL's query and user info are left out.
    """

    name: str
    url: str
    secret: bytes = field(repr=False)
    events: tuple[str, ...]
    exten: frozenset[str] | None = None
    domain: frozenset[str] | None = None
    timeout: float | None = field(default=None, repr=False)
    concurrency: int | None = field(default=None, repr=False)
    mask_numbers: bool = field(default=False, repr=False)

    def __repr__(self) -> str:
        return (f"WebhookEndpoint(name={self.name!r}, url={self.display_url!r}, events={self.events!r}, "
                f"exten={_sorted_or_none(self.exten)!r}, domain={_sorted_or_none(self.domain)!r})")

    @property
    def display_url(self) -> str:
        """The URL without user info, query or fragment (safe for logs)."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> WebhookEndpoint:
        """Build an endpoint from one ``[[webhooks]]`` TOML table; ValueError names a bad field."""
        if not isinstance(table, Mapping):
            raise ValueError("webhooks: each entry must be a table")
        unknown = sorted(set(table) - _ENDPOINT_KEYS)
        where = f"webhooks[{table.get('name', '?')!s}]"
        if unknown:
            raise ValueError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_ENDPOINT_KEYS))})")
        name = table.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{where}.name: required, 1-64 letters, digits, '_', '.' or '-'")
        return cls(
            name=name,
            url=_check_url(where, table.get("url")),
            secret=_secret(where, table),
            events=_events(where, table.get("events")),
            exten=_str_set(f"{where}.exten", table.get("exten")),
            domain=_str_set(f"{where}.domain", table.get("domain")),
            timeout=_positive(f"{where}.timeout", table.get("timeout"), float) if "timeout" in table else None,
            concurrency=_positive(f"{where}.concurrency", table.get("concurrency"), int)
            if "concurrency" in table else None,
            mask_numbers=_flag(f"{where}.mask_numbers", table.get("mask_numbers", False)),
        )

    def matches(self, message: Mapping[str, Any]) -> bool:
        """True when this endpoint wants ``message`` (a feed message dict)."""
        mtype = message.get("type")
        if not isinstance(mtype, str) or not self._wants_type(mtype):
            return False
        if self.domain is not None and message.get("domain") not in self.domain:
            return False
        if self.exten is not None:
            return not self.exten.isdisjoint(_extens_of(message))
        return True

    def _wants_type(self, mtype: str) -> bool:
        for pattern in self.events:
            if pattern == mtype:
                return True
            if pattern == "*":
                return mtype != "gap"
            if pattern.endswith(".*") and mtype.startswith(pattern[:-1]):
                return True
        return False


class WebhookDispatcher:
    """Delivers feed messages to webhook endpoints, durably (see the module docstring).

    Options (all keywords, defaults in :data:`DEFAULTS`, documented in
    docs/gateway-webhooks.md): ``max_attempts`` before a delivery is ``failed``;
    ``backoff_base``/``backoff_cap`` seconds of the exponential backoff (equal jitter:
    half the step plus a random part up to the other half; ``Retry-After`` of a 429/503 is
    honoured up to the cap); ``timeout`` of one request; ``concurrency`` requests in flight
    per endpoint; ``max_outbox`` pending plus failed deliveries kept (beyond it new ones are
    dropped, logged at ERROR and counted as ``dropped``); ``delivered_retention`` and
    ``failed_retention`` seconds before such rows are pruned (checked every
    ``prune_interval`` seconds); ``close_timeout`` seconds :meth:`close` waits for
    requests in flight; ``memory_window`` due deliveries per endpoint held in memory with
    their bodies (a longer backlog waits in the outbox, in order, and is read back in batches).
    """

    def __init__(self, outbox_path: str | os.PathLike[str] = DEFAULTS["outbox_path"],
                 endpoints: Iterable[WebhookEndpoint] = (), *, registry: Any = None,
                 max_attempts: int = DEFAULTS["max_attempts"], backoff_base: float = DEFAULTS["backoff_base"],
                 backoff_cap: float = DEFAULTS["backoff_cap"], timeout: float = DEFAULTS["timeout"],
                 concurrency: int = DEFAULTS["concurrency"], max_outbox: int = DEFAULTS["max_outbox"],
                 delivered_retention: float = DEFAULTS["delivered_retention"],
                 failed_retention: float = DEFAULTS["failed_retention"],
                 close_timeout: float = DEFAULTS["close_timeout"],
                 prune_interval: float = DEFAULTS["prune_interval"],
                 memory_window: int = DEFAULTS["memory_window"]) -> None:
        eps = list(endpoints)
        names = [ep.name for ep in eps]
        if len(set(names)) != len(names):
            raise ValueError("webhooks: endpoint names must be unique")
        _check_options(max_attempts=max_attempts, backoff_base=backoff_base, backoff_cap=backoff_cap,
                       timeout=timeout, concurrency=concurrency, max_outbox=max_outbox,
                       delivered_retention=delivered_retention, failed_retention=failed_retention,
                       close_timeout=close_timeout, prune_interval=prune_interval, memory_window=memory_window)
        self.outbox_path = os.fspath(outbox_path)
        if not self.outbox_path or self.outbox_path == ":memory:" or self.outbox_path.startswith("file:"):
            raise ValueError("webhook outbox: a file path is required (the outbox must survive a restart)")
        self.endpoints = tuple(eps)
        self.max_attempts = max_attempts
        self.backoff_base = float(backoff_base)
        self.backoff_cap = float(backoff_cap)
        self.timeout = float(timeout)
        self.concurrency = concurrency
        self.max_outbox = max_outbox
        self.delivered_retention = float(delivered_retention)
        self.failed_retention = float(failed_retention)
        self.close_timeout = float(close_timeout)
        self.prune_interval = float(prune_interval)
        self.memory_window = memory_window
        self._metrics = _Metrics(registry)
        self._outbox: Outbox | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._session: aiohttp.ClientSession | None = None
        self._lanes: dict[str, _Lane] = {}
        self._new: list[Delivery] = []
        self._outcomes: list[Outcome] = []
        self._dirty = asyncio.Event()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._heap_seq = 0
        self._timer_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._writer_task: asyncio.Task[None] | None = None
        self._final_write = False
        self._pending = 0
        self._failed = 0
        self._dropped = 0
        self._last_drop_log = 0.0
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._started = False
        self._closing = False

    def __repr__(self) -> str:
        return (f"<WebhookDispatcher {len(self.endpoints)} endpoint(s), outbox={self.outbox_path!r}, "
                f"pending={self._pending}, failed={self._failed}>")

    @staticmethod
    def options_from_config(table: Mapping[str, Any]) -> dict[str, Any]:
        """Constructor keywords from a ``[webhook]`` table (``outbox`` is the outbox path).

        The result includes ``outbox_path``, so ``WebhookDispatcher(endpoints=eps, **opts)`` works.
        """
        if not isinstance(table, Mapping):
            raise ValueError("webhook: must be a table")
        opts: dict[str, Any] = {}
        for key, value in table.items():
            name = "outbox_path" if key == "outbox" else key
            if name not in DEFAULTS:
                known = ", ".join(sorted("outbox" if k == "outbox_path" else k for k in DEFAULTS))
                raise ValueError(f"webhook: unknown field {key!r} (known: {known})")
            if name == "outbox_path":
                if not isinstance(value, str) or not value:
                    raise ValueError("webhook.outbox: a file path string is required")
                opts[name] = value
            else:
                kind = int if isinstance(DEFAULTS[name], int) else float
                opts[name] = _positive(f"webhook.{key}", value, kind)
        _check_options(**{k: v for k, v in opts.items() if k != "outbox_path"})
        return opts

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the outbox, reload its pending deliveries and start delivering."""
        if self._started:
            raise RuntimeError("WebhookDispatcher already started")
        self._started = True
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lguapi-outbox")
        try:
            self._outbox = await self._run(Outbox, self.outbox_path)
            counts = await self._run(self._outbox.counts)
            backlog = await self._run(self._outbox.pending)
        except BaseException:
            if self._outbox is not None:
                await self._run(self._outbox.close)
                self._outbox = None
            self._executor.shutdown(wait=False)
            self._closing = True
            raise
        self._pending += counts["pending"]
        self._failed = counts["failed"]
        self._session = aiohttp.ClientSession(    # no cookies: each delivery stands alone
            connector=aiohttp.TCPConnector(limit=0), headers={"User-Agent": _USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar())
        for ep in self.endpoints:
            self._lanes[ep.name] = _Lane(self, ep)
        for d in backlog:
            self._schedule(d)
        if backlog:
            log.info("webhooks: %d pending deliveries reloaded from %s", len(backlog), self.outbox_path)
        loop = asyncio.get_running_loop()
        self._writer_task = loop.create_task(self._writer(), name="webhooks-writer")
        self._tasks = [loop.create_task(self._timer(), name="webhooks-timer")]
        for lane in self._lanes.values():
            lane.start()
        self._update_gauge()

    async def close(self) -> None:
        """Stop: wait up to ``close_timeout`` for requests in flight, write every outcome, close."""
        if self._closing:
            return
        self._closing = True
        if not self._started:
            return
        try:
            await asyncio.wait_for(self._idle.wait(), self.close_timeout)
        except asyncio.TimeoutError:
            log.warning("webhooks: %d request(s) still in flight after %.1f s are cancelled; "
                        "they stay pending and will be sent again", self._inflight, self.close_timeout)
        for lane in self._lanes.values():
            await lane.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._final_write = True
        self._dirty.set()                  # the writer writes what is left, then returns
        if self._writer_task is not None:
            await self._writer_task
        if self._session is not None:
            await self._session.close()
        if self._outbox is not None:
            outbox, self._outbox = self._outbox, None
            await self._run(outbox.close)
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def __aenter__(self) -> WebhookDispatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the hub listener ------------------------------------------------------------------

    def offer(self, message: dict) -> None:
        """Queue ``message`` for every endpoint whose filters accept it; never blocks or raises.

        At the ``max_outbox`` bound the delivery is dropped, counted (``dropped``) and logged
        at ERROR (once per 10 seconds, with the count so far).
        """
        try:
            targets = [ep for ep in self.endpoints if ep.matches(message)]
            if not targets:
                return
            if self._final_write:   # the outbox is being closed: say so, never drop silently
                for ep in targets:
                    self._drop(ep, "the dispatcher is closed", logging.WARNING)
                return
            bodies: dict[bool, bytes] = {}   # full and masked, each encoded once
            now = time.time()
            event_id = message.get("id")
            mtype = str(message.get("type"))
            for ep in targets:
                if self._pending + self._failed >= self.max_outbox:
                    self._drop(ep, f"outbox full (max_outbox={self.max_outbox} pending+failed deliveries)")
                    continue
                body = bodies.get(ep.mask_numbers)
                if body is None:
                    body = bodies[ep.mask_numbers] = dumps(mask_numbers(message) if ep.mask_numbers else message).encode()
                self._new.append(Delivery(uuid.uuid4().hex, ep.name, event_id if isinstance(event_id, int)
                                          else None, mtype, body, now, 0, now))
                self._pending += 1
            self._dirty.set()
        except Exception:
            log.exception("webhooks: could not queue message of type %r", message.get("type"))

    # --- the dead-letter API -----------------------------------------------------------------

    def deliveries(self, status: str | None = None, limit: int = 100) -> list[dict]:
        """Deliveries in the outbox, most recently updated first (``status``: pending, delivered, failed).

        Each dict: ``id`` (= ``idempotency_key``), ``endpoint``, ``event_id``, ``event_type``,
        ``status``, ``attempts``, ``created_at``, ``updated_at``, ``next_at``, ``delivered_at``,
        ``last_status`` (HTTP status of the last attempt), ``last_error`` and ``event`` (the body).
        """
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown delivery status {status!r} (one of {', '.join(STATUSES)})")
        if self._outbox is None:
            return []
        return self._outbox.list(status, limit)

    async def retry(self, delivery_id: str) -> dict | None:
        """Send a ``failed`` delivery again (a fresh round of attempts); None if the id is unknown.

        A pending or delivered delivery is returned as it is (nothing changes).
        """
        if self._outbox is None or self._closing:
            raise RuntimeError("WebhookDispatcher is not running")
        outbox = self._outbox
        row = await self._run(outbox.get, delivery_id)
        if row is None or row["status"] != "failed":
            return row
        now = time.time()
        if await self._run(outbox.requeue, delivery_id, now):
            self._failed -= 1
            self._pending += 1
            self._schedule(Delivery(delivery_id, row["endpoint"], row["event_id"], row["event_type"],
                                    None, row["created_at"], 0, now))
            self._update_gauge()
            log.info("webhooks: delivery %s to %s queued again", delivery_id, row["endpoint"])
        return await self._run(outbox.get, delivery_id)

    def stats(self) -> dict[str, int]:
        """Counts kept in memory: ``pending``, ``failed``, ``dropped``, ``inflight``."""
        return {"pending": self._pending, "failed": self._failed, "dropped": self._dropped,
                "inflight": self._inflight}

    # --- internals: persistence --------------------------------------------------------------

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def _writer(self) -> None:
        """Commit new deliveries and outcomes in batches; after close() began, write the rest and return."""
        last_prune = time.monotonic()
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), self.prune_interval)
            except asyncio.TimeoutError:
                pass
            self._dirty.clear()
            written = await self._write_batch()
            if self._final_write and self._writer_done(written):
                return
            if not written:
                await asyncio.sleep(_WRITE_RETRY_DELAY)
                self._dirty.set()
            elif time.monotonic() - last_prune >= self.prune_interval:
                last_prune = time.monotonic()
                await self._prune()

    def _writer_done(self, written: bool) -> bool:
        """While closing: True once everything is written, or (logged) when writing fails."""
        if not written:
            log.error("webhooks: %d new deliveries and %d outcomes are lost at close: the outbox "
                      "cannot be written", len(self._new), len(self._outcomes))
            return True
        if self._new or self._outcomes:
            self._dirty.set()
            return False
        return True

    async def _write_batch(self) -> bool:
        new, outcomes = self._new, self._outcomes
        if not new and not outcomes:
            return True
        self._new, self._outcomes = [], []
        assert self._outbox is not None
        try:
            await self._run(self._outbox.write, new, outcomes)
        except Exception:
            log.exception("webhooks: writing %d new and %d updated deliveries to the outbox failed; "
                          "retrying", len(new), len(outcomes))
            self._new[:0] = new
            self._outcomes[:0] = outcomes
            return False
        for d in new:
            self._dispatch(d)
        return True

    async def _prune(self) -> None:
        assert self._outbox is not None
        now = time.time()
        try:
            removed = await self._run(self._outbox.prune, now - self.delivered_retention,
                                      now - self.failed_retention)
            counts = await self._run(self._outbox.counts)
        except Exception:
            log.exception("webhooks: pruning the outbox failed")
            return
        self._failed = counts["failed"]
        if removed:
            log.info("webhooks: pruned %d old delivered/failed deliveries", removed)
        self._update_gauge()

    def _record(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)
        self._dirty.set()

    def _drop(self, ep: WebhookEndpoint, reason: str, level: int = logging.ERROR) -> None:
        self._dropped += 1
        self._metrics.count(ep.name, "dropped")
        now = time.monotonic()
        if now - self._last_drop_log >= _DROP_LOG_INTERVAL:
            self._last_drop_log = now
            log.log(level, "webhooks: %s; delivery to %s dropped (%d dropped so far)", reason, ep.name, self._dropped)

    # --- internals: scheduling ---------------------------------------------------------------

    def _schedule(self, d: Delivery) -> None:
        """Hold ``d`` until ``d.next_at`` (its body is read back from the outbox when due)."""
        self._heap_seq += 1
        heapq.heappush(self._heap, (d.next_at, self._heap_seq, d))
        self._timer_wake.set()

    async def _timer(self) -> None:
        while True:
            self._timer_wake.clear()
            now = time.time()
            due: list[Delivery] = []
            while self._heap and self._heap[0][0] <= now and len(due) < _RELEASE_BATCH:
                due.append(heapq.heappop(self._heap)[2])
            if due:
                await self._release(due)
                continue
            delay = self._heap[0][0] - now if self._heap else None
            try:
                await asyncio.wait_for(self._timer_wake.wait(), delay)
            except asyncio.TimeoutError:
                pass

    async def _release(self, due: Sequence[Delivery]) -> None:
        """Hand due deliveries to their lanes, reading bodies back from the outbox as needed."""
        assert self._outbox is not None
        ready: list[Delivery] = []
        for d in due:
            lane = self._lanes.get(d.endpoint)
            if lane is not None and lane.crowded():
                self._dispatch(d)          # to the lane's backlog, body left on disk
            else:
                ready.append(d)
        missing = [d.id for d in ready if d.body is None]
        bodies = await self._run(self._outbox.bodies, missing) if missing else {}
        for d in ready:
            if d.body is None:
                d.body = bodies.get(d.id)
            if d.body is None:
                log.warning("webhooks: delivery %s vanished from the outbox", d.id)
                self._pending -= 1
                continue
            self._dispatch(d)

    def _dispatch(self, d: Delivery) -> None:
        lane = self._lanes.get(d.endpoint)
        if lane is None:
            self._finish(d, "failed", None, "endpoint not configured")
        elif lane.crowded():
            d.body = None   # a backlog waits in the outbox, not in memory
            lane.backlog.append(d)
            self._refill(lane)
        else:
            lane.put(d)

    def _refill(self, lane: _Lane) -> None:
        """Move the next batch of ``lane``'s backlog into its queue once the queue runs low."""
        if lane.backlog and not lane.refilling and lane.queue.qsize() <= self.memory_window // 2 and not self._closing:
            lane.refilling = True
            task = asyncio.get_running_loop().create_task(self._refill_batch(lane))
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)

    async def _refill_batch(self, lane: _Lane) -> None:
        assert self._outbox is not None
        batch = [lane.backlog.popleft() for _ in range(min(_RELEASE_BATCH, len(lane.backlog)))]
        try:
            bodies = await self._run(self._outbox.bodies, [d.id for d in batch])
        except BaseException:
            lane.backlog.extendleft(reversed(batch))
            raise
        finally:
            lane.refilling = False
        for d in batch:
            d.body = bodies.get(d.id)
            if d.body is None:
                log.warning("webhooks: delivery %s vanished from the outbox", d.id)
                self._pending -= 1
            else:
                lane.put(d)
        self._refill(lane)

    # --- internals: attempts -----------------------------------------------------------------

    def _begin(self) -> None:
        self._inflight += 1
        self._idle.clear()

    def _end(self) -> None:
        self._inflight -= 1
        if self._inflight == 0:
            self._idle.set()

    async def _attempt(self, lane: _Lane, d: Delivery) -> None:
        assert self._session is not None and d.body is not None
        ep = lane.endpoint
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Lguapi-Timestamp": str(ts),
            "X-Lguapi-Signature": sign(ep.secret, ts, d.body),
            "X-Lguapi-Idempotency-Key": d.id,
            "X-Lguapi-Event": d.event_type,
            "X-Lguapi-Attempt": str(d.attempts + 1),
        }
        status: int | None = None
        retry_after: str | None = None
        error: str | None = None
        started = time.perf_counter()
        try:
            async with self._session.post(lane.url, data=d.body, headers=headers, timeout=lane.timeout,
                                          allow_redirects=False) as resp:
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except asyncio.TimeoutError:
            error = f"timeout after {lane.timeout.total:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            error = _describe(exc)
        self._metrics.observe(ep.name, time.perf_counter() - started)
        self._conclude(ep, d, status, retry_after, error)

    def _conclude(self, ep: WebhookEndpoint, d: Delivery, status: int | None, retry_after: str | None,
                  error: str | None) -> None:
        d.attempts += 1
        if status is not None and 200 <= status < 300:
            self._finish(d, "delivered", status, None)
            return
        if status is not None and not _retryable(status):
            self._finish(d, "failed", status, f"HTTP {status} (not retried)")
            return
        reason = error or f"HTTP {status}"
        if d.attempts >= self.max_attempts:
            self._finish(d, "failed", status, f"{reason}; gave up after {d.attempts} attempts")
            return
        delay = self._backoff(d.attempts, retry_after)
        d.next_at = time.time() + delay
        d.body = None
        self._metrics.count(ep.name, "retry")
        self._record(Outcome(d.id, "pending", d.attempts, time.time(), d.next_at, status, reason))
        log.info("webhooks: delivery %s to %s: %s; attempt %d in %.1f s", d.id, ep.name, reason,
                 d.attempts + 1, delay)
        self._schedule(d)

    def _finish(self, d: Delivery, status: str, http_status: int | None, error: str | None) -> None:
        now = time.time()
        self._pending -= 1
        if status == "failed":
            self._failed += 1
            log.warning("webhooks: delivery %s (%s, event %s) to %s failed: %s", d.id, d.event_type,
                        d.event_id, d.endpoint, error)
        self._metrics.count(d.endpoint, status)
        self._record(Outcome(d.id, status, d.attempts, now, now, http_status, error))
        self._update_gauge()

    def _backoff(self, attempts: int, retry_after: str | None) -> float:
        step = min(self.backoff_cap, self.backoff_base * 2 ** (attempts - 1))
        delay = step / 2 + random.uniform(0, step / 2)
        if retry_after and retry_after.strip().isdigit():
            delay = max(delay, min(self.backoff_cap, float(retry_after.strip())))
        return delay

    def _update_gauge(self) -> None:
        self._metrics.set_pending(self._pending, self._failed)


class _Lane:
    """One endpoint's queue of due deliveries and its ``concurrency`` worker tasks."""

    def __init__(self, owner: WebhookDispatcher, endpoint: WebhookEndpoint) -> None:
        self.owner = owner
        self.endpoint = endpoint
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self.backlog: collections.deque[Delivery] = collections.deque()
        self.refilling = False
        self.workers: list[asyncio.Task[None]] = []
        self.size = endpoint.concurrency or owner.concurrency
        self.url = URL(endpoint.url)          # parsed once, not per request
        self.timeout = aiohttp.ClientTimeout(total=endpoint.timeout or owner.timeout)
        self.window = owner.memory_window

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.workers = [loop.create_task(self._work(), name=f"webhooks-{self.endpoint.name}-{i}")
                        for i in range(self.size)]

    def crowded(self) -> bool:
        """True when new deliveries must queue behind the backlog (kept in order, bodies on disk)."""
        return bool(self.backlog) or self.queue.qsize() >= self.window

    def put(self, d: Delivery) -> None:
        self.queue.put_nowait(d)

    async def stop(self) -> None:
        for task in self.workers:
            task.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)

    async def _work(self) -> None:
        owner = self.owner
        while True:
            d = await self.queue.get()
            if owner._closing:
                return   # it stays pending in the outbox
            owner._begin()
            try:
                await owner._attempt(self, d)
            except Exception:
                log.exception("webhooks: delivery %s to %s: unexpected error; it stays pending",
                              d.id, self.endpoint.name)
            finally:
                owner._end()
            owner._refill(self)


class _Metrics:
    """The dispatcher's Prometheus metrics, on the given registry or a private one."""

    def __init__(self, registry: Any) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        reg = registry if registry is not None else CollectorRegistry()
        self.deliveries = Counter("lguapi_webhook_deliveries", "Webhook delivery attempts and results by outcome "
                                  "(delivered, retry, failed, dropped)", ["endpoint", "outcome"], registry=reg)
        self.seconds = Histogram("lguapi_webhook_delivery_seconds", "Duration of one webhook HTTP request",
                                 ["endpoint"], registry=reg,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.outbox = Gauge("lguapi_webhook_outbox", "Deliveries held in the webhook outbox by status",
                            ["status"], registry=reg)

    def count(self, endpoint: str, outcome: str) -> None:
        self.deliveries.labels(endpoint, outcome).inc()

    def observe(self, endpoint: str, seconds: float) -> None:
        self.seconds.labels(endpoint).observe(seconds)

    def set_pending(self, pending: int, failed: int) -> None:
        self.outbox.labels("pending").set(pending)
        self.outbox.labels("failed").set(failed)


# --- config helpers ------------------------------------------------------------------------

def _check_url(where: str, url: Any) -> str:
    if not isinstance(url, str) or not url:
        raise ValueError(f"{where}.url: required (an http:// or https:// URL)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{where}.url: must be an http:// or https:// URL with a host")
    try:
        parts.port
    except ValueError:
        raise ValueError(f"{where}.url: bad port") from None
    return url


def _secret(where: str, table: Mapping[str, Any]) -> bytes:
    has_secret, has_env = "secret" in table, "secret_env" in table
    if has_secret == has_env:
        raise ValueError(f"{where}.secret: give exactly one of 'secret' or 'secret_env'")
    if has_secret:
        value = table["secret"]
        if not isinstance(value, str) or not value:
            raise ValueError(f"{where}.secret: must be a non-empty string")
        return value.encode()
    var = table["secret_env"]
    if not isinstance(var, str) or not var:
        raise ValueError(f"{where}.secret_env: must name an environment variable")
    value = os.environ.get(var)
    if not value:
        raise ValueError(f"{where}.secret_env: environment variable {var} is not set or empty")
    return value.encode()


def _events(where: str, events: Any) -> tuple[str, ...]:
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events:
        raise ValueError(f"{where}.events: required, a non-empty list such as [\"call.ringing\", \"call.ended\"]")
    for ev in events:
        if not isinstance(ev, str) or not (ev in EVENT_TYPES or _EVENT_PATTERN.match(ev)):
            raise ValueError(f"{where}.events: unknown event {ev!r} (one of {', '.join(EVENT_TYPES)}, "
                             "event.<name>, call.*, extension.*, event.* or *)")
    return tuple(events)


def _str_set(where: str, value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int)) for v in value):
        raise ValueError(f"{where}: a non-empty list of strings (or one comma-separated string)")
    return frozenset(str(v) for v in value)


def _positive(where: str, value: Any, kind: type) -> Any:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok or value <= 0:
        raise ValueError(f"{where}: must be a positive {'integer' if kind is int else 'number'}")
    return kind(value)


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: must be true or false")
    return value


def _check_options(**opts: Any) -> None:
    for name, value in opts.items():
        kind = int if isinstance(DEFAULTS[name], int) else float
        _positive(name, value, kind)
    if opts.get("backoff_cap", 1.0) < opts.get("backoff_base", 0.0):
        raise ValueError("backoff_cap must be >= backoff_base")


def _sorted_or_none(values: frozenset[str] | None) -> tuple[str, ...] | None:
    return tuple(sorted(values)) if values is not None else None


def _extens_of(message: Mapping[str, Any]) -> set[str]:
    out = set()
    exten = message.get("exten")
    if exten:
        out.add(str(exten))
    data = message.get("data")
    if isinstance(data, Mapping):
        listed = data.get("exten")
        if isinstance(listed, list):
            out.update(str(x) for x in listed)
        elif listed:
            out.add(str(listed))
    return out


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


def _describe(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, (aiohttp.ClientConnectionError, OSError)) else ""
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:_ERROR_TEXT_MAX]
