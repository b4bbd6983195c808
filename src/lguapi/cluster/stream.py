"""One event stream for the cluster: feed messages appended to sharded Redis Streams in pipelined batches.

A message has the gateway's feed shape (``kind`` ``call``/``extension``/``event``/``gap``,
``type``, ``ts``, ``exten``, ``domain``, ``data``) plus ``node`` (the member that wrote it) and
``token`` (its fencing token for that extension's shard). It goes to stream
``<prefix>:stream:<shard % streams>`` — every message of one extension lands in the same
stream, in order — as one field ``m`` holding JSON, with ``MAXLEN ~ maxlen``.

:func:`event_from_dict` and :class:`CallRecord` turn messages back into what
:mod:`lguapi.sinks` writes, with the same idempotency keys as a local sink.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
from typing import Any, AsyncIterator

from .. import events as _events
from ._wait import bounded, finish, wait_event

__all__ = ["StreamPublisher", "stream_key", "stream_keys", "event_message", "call_message", "event_from_dict",
           "CallRecord", "merge_call_dicts", "dumps", "message_body", "read_back"]

log: logging.Logger = logging.getLogger("lguapi.cluster.stream")


def dumps(obj: Any) -> str:
    """Compact JSON (events and calls are JSON-serialisable through ``to_dict``)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_default)


def _default(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    raise TypeError(f"cannot publish a {type(obj).__name__} value")


def stream_key(prefix: str, shard: int, streams: int) -> str:
    """The stream one shard's messages go to."""
    return f"{prefix}:stream:{shard % streams}"


def stream_keys(prefix: str, streams: int) -> list[str]:
    """Every stream of the cluster."""
    return [f"{prefix}:stream:{i}" for i in range(streams)]


def event_message(ev: Any, exten: str | None, domain: str | None) -> dict:
    """The feed message of one event (connection states are ``extension`` messages)."""
    kind = "extension" if isinstance(ev, _events.ConnectionEvent) else "event"
    return {"kind": kind, "type": ev.name or type(ev).__name__, "ts": ev.ts, "exten": exten, "domain": domain,
            "data": ev.to_dict()}


def call_message(update: Any, exten: str | None, domain: str | None, *, first_answer: bool = False) -> dict:
    """The feed message of one call update: ``call.ringing`` (new), ``call.answered`` (when
    ``first_answer``), ``call.updated`` or ``call.ended`` — the gateway feed's names."""
    call = update.call
    if update.kind == "new":
        type_ = "call.ringing"
    elif update.kind == "ended":
        type_ = "call.ended"
    else:
        type_ = "call.answered" if first_answer else "call.updated"
    ts = getattr(call, "end_at", None) if update.kind == "ended" else None
    return {"kind": "call", "type": type_, "ts": ts or getattr(call, "ring_at", None),
            "exten": exten, "domain": domain, "data": call.to_dict()}


# --- back from messages ---------------------------------------------------------------------

def _event_classes() -> dict[str, type]:
    out: dict[str, type] = {}
    stack = [_events.Event]
    while stack:
        cls = stack.pop()
        out[cls.__name__] = cls
        stack.extend(cls.__subclasses__())
    return out


_CLASSES = _event_classes()
_TUPLE_FIELDS = ("fields", "statuses")


def event_from_dict(d: dict) -> _events.Event:
    """Rebuild an event from its ``to_dict()``: equal fields, so :func:`lguapi.sinks.event_key`
    gives the key the publishing process would have. ``ValueError`` for an unknown event class."""
    cls = _CLASSES.get(d.get("event", ""))
    if cls is None:
        raise ValueError(f"unknown event class {d.get('event')!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    kw = {}
    for k, v in d.items():
        if k not in names:
            continue
        if k in _TUPLE_FIELDS and isinstance(v, list):
            v = tuple(tuple(x) if isinstance(x, list) else x for x in v)
        elif k == "result" and isinstance(v, dict):
            v = event_from_dict(v)
        kw[k] = v
    return cls(**kw)


class CallRecord:
    """A finished call rebuilt from ``Call.to_dict()``: the public fields the sinks read, and
    ``to_dict()`` giving the dict back (so ``call_key`` and the stored record are the same)."""

    def __init__(self, d: dict) -> None:
        self._d = d
        g = d.get
        self.id: str = str(g("id"))
        self.direction: str | None = g("direction")
        self.state: str | None = g("state")
        self.remote_number: str | None = g("remote_number")
        self.dialled_number: str | None = g("dialled_number")
        self.answered_by: str | None = g("answered_by")
        self.caller: str | None = g("caller")
        self.callee: str | None = g("callee")
        self.hangup_cause: int | None = g("hangup_cause")
        self.end_reason: str | None = g("end_reason")
        self.ring_at: float | None = g("ring_at")
        self.answer_at: float | None = g("answer_at")
        self.end_at: float | None = g("end_at")
        self.ring_seconds: float | None = g("ring_seconds")
        self.talk_seconds: float | None = g("talk_seconds")
        self.missed: bool = bool(g("missed"))
        self.abandoned: bool = bool(g("abandoned"))
        self.room: str | None = g("room")
        self.merged_into: str | None = g("merged_into")
        self.continued_from: str | None = g("continued_from")
        self.exten: tuple[str, ...] = tuple(g("exten") or ())
        self.handled_by: tuple[str, ...] = tuple(g("handled_by") or ())
        self.unique_ids: tuple[str, ...] = tuple(g("unique_ids") or ())

    @property
    def answered(self) -> bool:
        return self.answer_at is not None

    def to_dict(self) -> dict:
        return dict(self._d)

    def __repr__(self) -> str:
        return f"CallRecord(id={self.id!r}, direction={self.direction!r}, end_reason={self.end_reason!r})"


def message_body(fields: dict) -> str | bytes:
    """The JSON body of one stream entry (field ``m``; bytes or str keys)."""
    body = fields.get(b"m")
    if body is None:
        body = fields.get("m")
    if not isinstance(body, (str, bytes)):
        raise ValueError("a stream entry without its 'm' field")
    return body


async def read_back(redis: Any, key: str, limit: int, *, page: int = 500,
                    attempts: int = 3) -> AsyncIterator[tuple[Any, dict]]:
    """The newest ``limit`` entries of stream ``key``, newest first, read ``page`` at a time
    (a short call each, within the client's socket timeout even on a loaded Redis); a page that
    fails (a Redis error or timeout) is tried again, ``attempts`` times in all, then the error is raised."""
    from redis.exceptions import RedisError

    end = "+"
    left = limit
    while left > 0:
        for attempt in range(attempts):
            try:
                chunk = await redis.xrevrange(key, max=end, count=min(page, left))
                break
            except (RedisError, OSError):
                if attempt == attempts - 1:
                    raise
        if not chunk:
            return
        for entry in chunk:
            yield entry
        left -= len(chunk)
        last = chunk[-1][0]
        end = "(" + (last.decode() if isinstance(last, bytes) else str(last))


def _union(*lists: Any) -> list:
    return list(dict.fromkeys(x for lst in lists for x in (lst or ())))


def merge_call_dicts(parts: list[dict]) -> dict:
    """One record from the views of one call that several members tracked (each saw only its
    own extensions' legs): the id and direction of the view that rang first, earliest ring and
    answer, latest end, every extension, channel and unique id; the other fields from the view
    that ended last. Deterministic in the set."""
    if len(parts) == 1:
        return parts[0]
    parts = sorted(parts, key=lambda p: (p.get("end_at") or 0.0, dumps(p)))
    out = dict(parts[-1])
    rings = [p["ring_at"] for p in parts if p.get("ring_at") is not None]
    answers = [p for p in parts if p.get("answer_at") is not None]
    ends = [p["end_at"] for p in parts if p.get("end_at") is not None]
    out["ring_at"] = min(rings) if rings else None
    first_rung = min(parts, key=lambda p: (p.get("ring_at") is None, p.get("ring_at") or 0.0, str(p.get("id"))))
    out["id"] = first_rung.get("id")  # the call's first unique id, as one tracker would have named it
    out["direction"] = first_rung.get("direction", out.get("direction"))
    out["end_at"] = max(ends) if ends else None
    if answers:
        first = min(answers, key=lambda p: p["answer_at"])
        out["answer_at"] = first["answer_at"]
        out["answered_by"] = first.get("answered_by") or next(
            (p.get("answered_by") for p in answers if p.get("answered_by")), None)
        out["missed"] = out["abandoned"] = False
    for k in ("exten", "handled_by", "channels", "unique_ids"):
        out[k] = _union(*(p.get(k) for p in parts))
    for k in ("channels", "unique_ids"):
        out[k] = sorted(out[k])
    if out["ring_at"] is not None:
        stop = out.get("answer_at") if out.get("answer_at") is not None else out["end_at"]
        out["ring_seconds"] = None if stop is None else max(0.0, stop - out["ring_at"])
    if out.get("answer_at") is not None and out["end_at"] is not None:
        out["talk_seconds"] = max(0.0, out["end_at"] - out["answer_at"])
    return out


# --- publishing ------------------------------------------------------------------------------

class StreamPublisher:
    """Append messages to the cluster's streams in pipelined batches (``batch`` messages or
    ``flush_interval`` seconds). While Redis is unreachable messages wait in memory, at most
    ``max_backlog`` (new ones are dropped beyond it, counted in ``stats["dropped"]`` and logged),
    and go out in order when it is back."""

    def __init__(self, redis: Any, prefix: str, *, streams: int = 16, maxlen: int = 100_000, batch: int = 500,
                 flush_interval: float = 0.05, max_backlog: int = 200_000, retry: float = 0.5) -> None:
        if streams < 1 or maxlen < 1 or batch < 1 or max_backlog < 1:
            raise ValueError("streams, maxlen, batch and max_backlog must be >= 1")
        if flush_interval <= 0 or retry <= 0:
            raise ValueError("flush_interval and retry must be > 0")
        self.redis = redis
        self.prefix = prefix
        self.streams = streams
        self.maxlen = maxlen
        self.batch = batch
        self.flush_interval = flush_interval
        self.max_backlog = max_backlog
        self.retry = retry
        self._queue: collections.deque[tuple[str, str]] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.stats: dict[str, int] = {"published": 0, "dropped": 0, "errors": 0, "batches": 0}

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def publish(self, message: dict, shard: int) -> None:
        """Queue one message for the stream of ``shard`` (never blocks)."""
        if len(self._queue) >= self.max_backlog:
            self.stats["dropped"] += 1
            if self.stats["dropped"] in (1, 1000) or self.stats["dropped"] % 100_000 == 0:
                log.error("cluster: stream backlog full (%d messages, Redis unreachable?): %d new message(s) "
                          "dropped so far", self.max_backlog, self.stats["dropped"])
            return
        self._queue.append((stream_key(self.prefix, shard, self.streams), dumps(message)))
        if len(self._queue) >= self.batch:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="lguapi-cluster-publisher")

    async def close(self, *, timeout: float = 5.0) -> None:
        """Send what is queued (bounded by ``timeout``), then stop."""
        self._stopping = True
        self._wake.set()
        await finish(self._task, self.flush_interval + self.retry + 2.0)
        self._task = None
        try:
            await bounded(self._drain(), timeout)
        except Exception as e:
            if self._queue:
                log.warning("cluster: %d stream message(s) not sent at close (%s)", len(self._queue), e)

    async def _run(self) -> None:
        while not self._stopping:
            await wait_event(self._wake, self.flush_interval)
            self._wake.clear()
            try:
                await self._drain()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.stats["errors"] += 1
                if self.stats["errors"] in (1, 10) or self.stats["errors"] % 100 == 0:
                    log.warning("cluster: publishing to Redis failed (%s); %d message(s) wait", e, len(self._queue))
                await asyncio.sleep(self.retry)

    async def _drain(self) -> None:
        q = self._queue
        while q:
            n = min(len(q), self.batch)
            items = [q[i] for i in range(n)]
            pipe = self.redis.pipeline(transaction=False)
            for key, body in items:
                pipe.xadd(key, {"m": body}, maxlen=self.maxlen, approximate=True)
            await pipe.execute()
            for _ in range(n):  # sent: only now leave the queue (a failure keeps them, in order)
                q.popleft()
            self.stats["published"] += n
            self.stats["batches"] += 1
