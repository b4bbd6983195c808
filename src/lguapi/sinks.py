"""Record every event and every finished call, exactly once: JSON Lines or SQLite (WAL).

Each record carries an idempotency key (:func:`event_key`, :func:`call_key`), so a
reconnect that delivers an event twice, or a restart that writes a call again, never
duplicates a record. Writes are batched (``batch`` records or ``flush_interval`` seconds,
whichever comes first). Guarantees (see ``docs/calls.md``):

* a ``kill -9`` loses at most the records not yet flushed -- the batch being filled --
  and never a record whose :meth:`flush` (or full-batch write) returned;
* it never corrupts the store: JSONL detects a torn last line when it is opened again and
  cuts it off; SQLite commits one transaction per batch in WAL mode.

>>> import asyncio, tempfile, os
>>> from lguapi.events import PingEvent
>>> async def demo(path):
...     async with JsonlSink(path) as sink:
...         ping = PingEvent(name="PING", raw="PING", exten="3321", ts=1.0)
...         await sink.write_event(ping)
...         await sink.write_event(ping)  # the same event again: skipped
...     return [r["kind"] for r in read_jsonl(path)]
>>> asyncio.run(demo(os.path.join(tempfile.mkdtemp(), "events.jsonl")))
['event']
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import sqlite3
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Iterable, Iterator, Protocol, Self

import msgspec

from lgucore.fields import INT_MAX, INT_MIN

try:  # the fast serialiser (a dependency); the standard library remains the fallback
    import orjson
except ImportError:  # pragma: no cover - orjson is installed with lguapi
    orjson = None  # type: ignore[assignment]

from ._recent import RecentKeys
from .calls import Call
from .calls.model import CALL_FIELDS
from .events import CdrEvent, ChannelListEvent, ChannelOutEvent, ConnectionEvent, Event, RingEvent

__all__ = ["Sink", "JsonlSink", "SqliteSink", "open_sink", "OPEN_ERRORS", "event_key", "call_key", "read_jsonl"]

log: logging.Logger = logging.getLogger("lguapi.sinks")

#: what :func:`open_sink` raises for a sink that cannot be opened: a bad name, a file that cannot
#: be made, a database that cannot be used (a command line turns each into a usage error)
OPEN_ERRORS: tuple[type[Exception], ...] = (ValueError, OSError, sqlite3.Error)

#: events whose text carries unique ids: the same text from the same extension is the same event
_ID_EVENTS = (RingEvent, ChannelListEvent, ChannelOutEvent, CdrEvent)
_KEYED_BY_TEXT: dict[type, bool] = {}  # per event class: one of _ID_EVENTS (an isinstance per class, not per event)
_KEY_LEN = 24  # hex characters (96 bits)
_PREFIX = b'{"key":"'


_blake2b = hashlib.blake2b
_DIGEST_SIZE = _KEY_LEN // 2


def _digest(material: str) -> str:
    return _blake2b(material.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_SIZE).hexdigest()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Event):
        return obj.to_dict()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    raise TypeError(f"cannot record a {type(obj).__name__} value")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def event_key(ev: Event) -> str:
    """The idempotency key of an event.

    RINGEVENT, CHANNELLIST, CHANNELOUT and CDREVENT carry unique ids, so the receiving
    extension plus the text identify them: the same text delivered twice (a reconnect, a
    replay) is one record. Every other event (PING, CMDRESULT, DTMF, connection states ...)
    can legitimately repeat word for word, so its arrival time ``ts`` is part of the key:
    only a second write of the same event object is a duplicate.
    """
    by_text = _KEYED_BY_TEXT.get(type(ev))
    if by_text is None:
        by_text = _KEYED_BY_TEXT.setdefault(type(ev), isinstance(ev, _ID_EVENTS))
    if by_text and ev.raw:
        return _text_key(ev.exten, ev.raw)
    fields = ev.__dict__
    if _same_as_json(fields.values()):  # msgspec writes json.dumps's very text (a tenth of the cost)
        try:
            data = _encode(fields)
        except (TypeError, ValueError, OverflowError):  # a lone surrogate, an integer beyond 64 bits
            data = b""
        if len(data) > 2:
            return _blake2b(b'{"event":' + _encode(type(ev).__name__) + b"," + data[1:],
                            digest_size=_DIGEST_SIZE).hexdigest()
    return _digest(_dumps(ev.to_dict()))


def _text_key(exten: str | None, raw: str) -> str:
    """The key of an event with unique ids: its receiving extension and its text."""
    return _blake2b(f"{exten or ''}\x1f{raw}".encode("utf-8", "surrogatepass"), digest_size=_DIGEST_SIZE).hexdigest()


def _same_as_json(values: Iterable[Any]) -> bool:
    """True when msgspec writes ``values`` byte for byte as :func:`_dumps` does: strings, integers,
    booleans, None, floats that need no exponent (0, or 1e-4 <= |x| < 1e16) and tuples or lists
    of these. Anything else (an event, a set, NaN, 1e20) is left to the standard library."""
    for v in values:
        t = type(v)
        if t is str or v is None or t is int or t is bool:
            continue
        if t is float:
            if not (v == 0.0 or 1e-4 <= abs(v) < 1e16):
                return False
        elif t is tuple or t is list:
            if not _same_as_json(v):
                return False
        else:
            return False
    return True


def call_key(call: Call) -> str:
    """The idempotency key of a finished call: its id and its end time."""
    return _digest(f"call\x1f{call.id}\x1f{call.end_at!r}")


def _event_record(key: str, ev: Event) -> dict[str, Any]:
    rec = {"key": key, "kind": "event"}
    rec.update(ev.to_dict())
    return rec


def _call_record(key: str, call: Call) -> dict[str, Any]:
    rec = {"key": key, "kind": "call"}
    rec.update(call.to_dict())
    return rec


#: msgspec's JSON encoder: 0.6 µs for an event's fields where orjson takes 2.2 and json.dumps 5
#: (bench/bench_ingest.py's "sink record" stage); plain values only, see _plain_json
_encode = msgspec.json.Encoder().encode


def _plain_json(rec: Any) -> bytes | None:
    """``rec`` (a dict or a record Struct) -- strings, numbers, booleans, None, lists and tuples of those -- as compact
    UTF-8 JSON through msgspec, or None when only the standard library can write it (a lone
    surrogate, a value of another type). Never for records holding an event or a dataclass:
    msgspec would write its fields, not its :meth:`~lguapi.events.Event.to_dict`."""
    try:
        return _encode(rec)
    except (TypeError, ValueError, OverflowError):  # msgspec.EncodeError is a TypeError; surrogates ValueError
        return None


def _fast_json(rec: dict) -> bytes | None:
    """``rec`` as compact UTF-8 JSON through orjson (nested events through ``to_dict``), or
    None when only the standard library can write it (an integer beyond 64 bits, a lone surrogate)."""
    if orjson is None:
        return None
    try:
        return orjson.dumps(rec, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATACLASS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None


def _spliced(head: bytes, fields: dict) -> bytes | None:
    """``head`` (the record's first members, ending in a comma) spliced into the msgspec JSON of
    ``fields``: the record without building a second dict. None when msgspec cannot write it."""
    data = _plain_json(fields)
    if data is None or len(data) < 3:  # {} has no member to follow the head's comma
        return None
    return head + data[1:]


_EVENT_HEADS: dict[type, bytes] = {}
#: per event class: for one keyed by its text (RINGEVENT, CHANNELLIST, CHANNELOUT, CDREVENT) the
#: bytes between its record's key and its fields, with the key's closing quote; b"" for the rest
_TEXT_HEADS: dict[type, bytes] = {}


def _text_head(cls: type) -> bytes:
    head = b""
    if issubclass(cls, _ID_EVENTS) and not issubclass(cls, ConnectionEvent):
        head = b'"' + (_EVENT_HEADS.get(cls) or _event_head(cls))
    return _TEXT_HEADS.setdefault(cls, head)


def _event_head(cls: type) -> bytes:
    """The members of a wire event's record between its key and its fields, once per class;
    empty for a connection event (it may hold an event: LoggedIn.result), written another way."""
    head = b"" if issubclass(cls, ConnectionEvent) else b',"kind":"event","event":%s,' % _encode(cls.__name__)
    return _EVENT_HEADS.setdefault(cls, head)


def event_json(key: str, ev: Event) -> bytes:
    """The JSON record of an event (``{"key", "kind": "event", "event": <class>, fields...}``)
    as UTF-8 bytes. Same content as ``json.dumps`` of the record; about 10x cheaper."""
    data: bytes | None = None
    cls = type(ev)
    head = _EVENT_HEADS.get(cls)
    if head is None:
        head = _event_head(cls)
    if head:  # a wire event: plain values (tuples serialise as arrays), spliced after the head
        try:
            fields = _encode(ev.__dict__)
        except (TypeError, ValueError, OverflowError):  # as in _plain_json
            fields = b""
        if len(fields) > 2:
            data = b'{"key":' + _encode(key) + head + fields[1:]
    else:  # orjson, and to_dict for the event it may hold
        rec = {"key": key, "kind": "event", "event": cls.__name__}
        rec.update(ev.__dict__)
        data = _fast_json(rec)
    if data is None:
        data = _dumps(_event_record(key, ev)).encode("utf-8", "surrogatepass")
    return data


#: a call record as msgspec writes it fastest: a gc=False Struct whose fields are the record's
#: keys in order (names encoded once, values by their runtime type, as in the dict)
_CallRecord = msgspec.defstruct("_CallRecord", [("key", Any), ("kind", Any), *((f, Any) for f in CALL_FIELDS)],
                                gc=False)


def call_json(key: str, call: Call) -> bytes:
    """The JSON record of a finished call, as UTF-8 bytes (``{"key", "kind": "call", to_dict()...}``)."""
    if type(call) is Call:
        data = _plain_json(_CallRecord(key, "call", *call.to_tuple()))
    else:  # anything with a to_dict() (a call rebuilt from a stream, say)
        data = _spliced(b'{"key":%s,"kind":"call",' % _encode(key), call.to_dict())
    if data is None:
        data = _dumps(_call_record(key, call)).encode("utf-8", "surrogatepass")
    return data


def _check_call(call: Call) -> bool:
    """True when the call should be recorded; ValueError for a call that is not over."""
    if call.state != "ended" or call.end_at is None:
        raise ValueError(f"only finished calls are recorded (call {call.id!r} is {call.state!r})")
    if call.end_reason == "merged":
        log.debug("call %s was merged into %s: not recorded", call.id, call.merged_into)
        return False
    return True


class Sink(Protocol):
    """What the monitor and the CLI write to."""

    async def write_event(self, ev: Event) -> None: ...
    async def write_call(self, call: Call) -> None: ...
    async def flush(self) -> None: ...
    async def close(self) -> None: ...


class _Batching:
    """Shared batching logic: a buffer, a timer, counters, a sticky error."""

    def __init__(self, batch: int, flush_interval: float):
        if batch < 1:
            raise ValueError("batch must be >= 1")
        if flush_interval <= 0:
            raise ValueError("flush_interval must be > 0")
        self.batch = batch
        self.flush_interval = flush_interval
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._error: BaseException | None = None
        #: written (new records stored), duplicates (skipped), batches (flushes that wrote)
        self.stats: dict[str, int] = {"written": 0, "duplicates": 0, "batches": 0}

    def _check_open(self) -> None:
        self._check_closed()
        self._raise_earlier()

    def _check_closed(self) -> None:
        if self._closed:
            raise ValueError("the sink is closed")

    def _raise_earlier(self) -> None:
        """Report, once, a background write that failed since the last call. The writers call it
        after queueing their records: the caller learns of the failure and loses nothing (its
        records wait with the others for the next attempt)."""
        if self._error is not None:
            err, self._error = self._error, None
            raise OSError(f"an earlier background write failed: {err}") from err

    def _arm(self) -> None:
        """Start the flush_interval timer (subclasses define ``_on_timer``)."""
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.call_later(self.flush_interval, self._on_timer)  # type: ignore[attr-defined]

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def close(self) -> None:
        """Flush and close (each sink defines it)."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


# --- JSON Lines ---------------------------------------------------------------------------


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every complete record of a JSONL sink file, in order (a torn last line is skipped)."""
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                log.warning("%s: torn last line (%d bytes) skipped", path, len(line))
                break
            try:
                yield json.loads(line)
            except ValueError:
                log.warning("%s: line %d is not a JSON record; skipped", path, n)


class JsonlSink(_Batching):
    """Append records to a JSON Lines file, one JSON object per line, ``key`` first.

    On open, the last ``scan_bytes`` of an existing file are read: a torn last line (a
    writer killed mid-write) is cut off, and the keys found are remembered so that records
    written again are skipped. A file in which they hold no record at all, and no record cut
    short either (another kind of file: a wrong path), is refused with ``ValueError`` and left
    as it was. At most ``max_keys`` recent keys are kept in memory, in two
    generations of ``max_keys // 2`` (:class:`lguapi._recent.RecentKeys`): a record is skipped
    when its key is among the last ``max_keys // 2`` to ``max_keys`` keys seen.
    ``fsync=True`` also survives a power loss at the cost of one fsync per batch; a
    ``kill -9`` needs no fsync (the kernel keeps what was written).
    """

    def __init__(self, path: str | os.PathLike[str], *, batch: int = 100, flush_interval: float = 0.5,
                 fsync: bool = False, scan_bytes: int = 64 << 20, max_keys: int = 200_000):
        super().__init__(batch, flush_interval)
        self.path: str = os.fspath(path)
        self.fsync = fsync
        if max_keys < 2:
            raise ValueError("max_keys must be >= 2")
        self.max_keys = max_keys
        self._keys = RecentKeys(max_keys // 2)
        self._buf: list[bytes] = []
        self._torn = False  # a failed write left a partial line: start the next on a new line
        self.repaired_bytes: int = self._load(scan_bytes)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _load(self, scan_bytes: int) -> int:
        """Read the tail of an existing file: repair a torn last line, collect keys."""
        try:
            size = os.path.getsize(self.path)
        except FileNotFoundError:
            return 0
        if size == 0:
            return 0
        start = max(0, size - scan_bytes)
        with open(self.path, "rb") as f:
            f.seek(start)
            data = f.read()
        if start > 0:
            nl = data.find(b"\n")
            data = data[nl + 1:] if nl >= 0 else b""
            start = size - len(data)
        cut = len(data)
        if not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1  # 0 when there is no complete line at all
        else:
            last = data.rfind(b"\n", 0, len(data) - 1) + 1
            try:
                json.loads(data[last:])
            except ValueError:
                cut = last  # a complete-looking but unreadable last line (e.g. NUL bytes)
        keys = self._keys
        records = others = 0
        for line in data[:cut].split(b"\n"):
            if not line:
                continue
            if line.startswith(_PREFIX) and line[len(_PREFIX) + _KEY_LEN:len(_PREFIX) + _KEY_LEN + 1] == b'"':
                keys.fresh(line[len(_PREFIX):len(_PREFIX) + _KEY_LEN].decode("ascii"))
                records += 1
                continue
            try:
                key = json.loads(line).get("key")
            except (ValueError, AttributeError):
                others += 1
                continue
            records += 1
            if isinstance(key, str):
                keys.fresh(key)
        if not records and (others or not data[cut:].startswith(b"{")):
            # no record at all, and what there is is no record cut short either: another kind of
            # file (a wrong path). Nothing is cut or appended: the file stays as it was.
            raise ValueError(f"{self.path}: not a JSON Lines file of records (none in its last "
                             f"{len(data)} bytes); refusing to write to it (choose another path)")
        if others:
            log.warning("%s: %d line(s) that are not records ignored", self.path, others)
        repaired = len(data) - cut
        if repaired:
            log.warning("%s: torn last record (%d bytes) removed", self.path, repaired)
            with open(self.path, "r+b") as f:
                f.truncate(start + cut)
        return repaired

    def _add(self, key: str, record: bytes) -> bool:
        if not self._keys.fresh(key):
            self.stats["duplicates"] += 1
            return False
        self._buf.append(record)
        return True

    async def write_event(self, ev: Event) -> None:
        """Record one event (skipped when its key was recorded already)."""
        self._check_closed()
        key = event_key(ev)
        added = self._add(key, event_json(key, ev))
        self._raise_earlier()
        if added:
            self._after_add()

    async def write_call(self, call: Call) -> None:
        """Record one finished call (``ValueError`` if it is not over; merged calls are skipped)."""
        self._check_closed()
        if not _check_call(call):
            return
        key = call_key(call)
        added = self._add(key, call_json(key, call))
        self._raise_earlier()
        if added:
            self._after_add()

    def write_batch(self, items: Iterable[tuple[str, Any]]) -> list[tuple[tuple[str, Any], Exception]]:
        """Record many ``("event", ev)`` / ``("call", call)`` items in one synchronous step (the
        monitor's path: no coroutine per record). Each item is recorded as by :meth:`write_event`
        / :meth:`write_call`; one that cannot be (``ValueError`` for a call not over) does not
        stop the others: the ``(item, error)`` pairs are returned. A failed file write raises
        ``OSError`` and keeps the lines for the next attempt, as a full batch does; so does a
        background write that failed since the last call, once the items are queued.
        Called once per read by a monitor, so its fixed cost is kept to a few steps."""
        if self._closed:
            self._check_closed()
        failed: list[tuple[tuple[str, Any], Exception]] = []
        fresh = self._keys.fresh
        append = self._buf.append
        heads = _TEXT_HEADS
        dups = 0
        for item in items:
            kind, obj = item
            try:
                if kind == "event":
                    # the bulk of a monitor's records, a wire event with unique ids and its text:
                    # the key and the record as event_key and event_json make them, in line here
                    head = heads.get(type(obj))
                    if head is None:
                        head = _text_head(type(obj))
                    raw = obj.raw if head else None
                    if raw:
                        key = _text_key(obj.exten, raw)
                        if not fresh(key):
                            dups += 1
                            continue
                        try:
                            fields = _encode(obj.__dict__)
                        except (TypeError, ValueError, OverflowError):  # as in event_json
                            fields = b""
                        append(_PREFIX + key.encode() + head + fields[1:] if len(fields) > 2 else event_json(key, obj))
                        continue
                    key = event_key(obj)
                    if fresh(key):
                        append(event_json(key, obj))
                    else:
                        dups += 1
                elif _check_call(obj):
                    key = call_key(obj)
                    if fresh(key):
                        append(call_json(key, obj))
                    else:
                        dups += 1
            except (ValueError, TypeError, AttributeError) as exc:
                failed.append((item, exc))
        if dups:
            self.stats["duplicates"] += dups
        if self._error is not None:
            self._raise_earlier()
        if len(self._buf) >= self.batch:
            self._write()
        elif self._timer is None:
            self._arm()
        return failed

    def _after_add(self) -> None:
        if len(self._buf) >= self.batch:
            self._write()
        else:
            self._arm()

    def _write(self) -> None:
        self._disarm()
        if not self._buf:
            return
        lines, self._buf = self._buf, []
        lines.append(b"")  # the last line's newline comes from the join
        data = (b"\n" if self._torn else b"") + b"\n".join(lines)
        lines.pop()
        done = 0
        try:
            view = memoryview(data)
            while done < len(data):
                done += os.write(self._fd, view[done:])
            if self.fsync:
                os.fsync(self._fd)
        except OSError as exc:
            if exc.filename is None:  # os.write names no file: the error says which one
                exc.filename = self.path
            # keep every line not completely written for the next attempt; remember when a
            # line was cut in the middle so the next write starts on a fresh line
            pos = 1 if self._torn else 0
            still_torn = self._torn and done == 0
            kept = []
            for line in lines:
                start, pos = pos, pos + len(line) + 1  # and its newline
                if pos - 1 > done:  # not all of the record was written: again, on a fresh line
                    kept.append(line)
                    if start < done:
                        still_torn = True
                elif pos > done:  # all but its newline: the next write's leading newline ends it
                    still_torn = True
            self._torn = still_torn
            self._buf = kept + self._buf
            raise
        self._torn = False
        self.stats["written"] += len(lines)
        self.stats["batches"] += 1

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self._write()
        except OSError as exc:
            log.error("%s: timed flush failed: %s", self.path, exc)
            self._error = exc

    async def flush(self) -> None:
        """Write everything buffered now."""
        self._check_open()
        self._write()

    async def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self._closed:
            return
        try:
            self._write()
        finally:
            self._closed = True
            os.close(self._fd)


# --- SQLite -------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    ts REAL, exten TEXT, type TEXT, name TEXT, raw TEXT,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    call_id TEXT NOT NULL, direction TEXT, exten TEXT, remote_number TEXT, dialled_number TEXT,
    answered_by TEXT, hangup_cause INTEGER, end_reason TEXT,
    ring_at REAL, answer_at REAL, end_at REAL, ring_seconds REAL, talk_seconds REAL,
    missed INTEGER, abandoned INTEGER,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_end_at ON calls(end_at);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
"""
_INSERT_EVENT = "INSERT OR IGNORE INTO events(key, ts, exten, type, name, raw, data) VALUES (?,?,?,?,?,?,?)"
_INSERT_CALL = ("INSERT OR IGNORE INTO calls(key, call_id, direction, exten, remote_number, dialled_number,"
                " answered_by, hangup_cause, end_reason, ring_at, answer_at, end_at, ring_seconds, talk_seconds,"
                " missed, abandoned, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")


def _event_row(ev: Event) -> tuple:
    """An event's row of the ``events`` table."""
    key = event_key(ev)
    return (key, ev.ts, ev.exten, type(ev).__name__, ev.name, ev.raw,
            event_json(key, ev).decode("utf-8", "surrogatepass"))


def _call_row(call: Call) -> tuple:
    """A finished call's row of the ``calls`` table."""
    key = call_key(call)
    cause = call.hangup_cause
    if cause is not None and not INT_MIN <= cause <= INT_MAX:
        # (events never carry such a cause: lgucore reads one as no number. A call made some other
        # way keeps it in its JSON ``data``; the INTEGER column, which cannot hold it, is left
        # empty rather than failing the batch, and every later one)
        cause = None
    return (key, call.id, call.direction, ",".join(call.exten), call.remote_number,
            call.dialled_number, call.answered_by, cause, call.end_reason,
            call.ring_at, call.answer_at, call.end_at, call.ring_seconds, call.talk_seconds,
            int(call.missed), int(call.abandoned), call_json(key, call).decode("utf-8", "surrogatepass"))


class SqliteSink(_Batching):
    """Insert records into an SQLite database in WAL mode, from one writer thread.

    Tables ``events`` and ``calls`` (see ``_SCHEMA``) have a UNIQUE ``key``; rows go in with
    ``INSERT OR IGNORE``, one transaction per batch, so a record written twice is stored
    once and a killed writer leaves the database at its last committed batch.
    ``synchronous`` is ``NORMAL`` (durable against a process kill; ``"FULL"`` also against
    a power loss). ``cache_mib`` (default 32) is the connection's page cache: the index of
    the random ``key`` column touches pages all over it, and SQLite's own default of 2 MiB
    made inserts about 15% dearer once a store passed a few hundred thousand records.

    ``background=True`` (what a :class:`lguapi.Monitor` opens from a path): a full batch of
    :meth:`write_batch` is handed to the writer thread and the call returns at once, so the
    event loop goes on while SQLite writes. One transaction runs at a time; rows that come
    meanwhile wait for the next. Only when more than ``max_pending`` rows wait (default 16
    batches) does :meth:`write_batch` wait for the running transaction before it returns
    (the back-pressure of a disk slower than the events). A background transaction that
    fails keeps its rows for the next attempt, and the next call raises ``OSError`` once,
    naming the failure; :meth:`flush` and :meth:`close` wait for the running transaction.
    """

    def __init__(self, path: str | os.PathLike[str], *, batch: int = 100, flush_interval: float = 0.5,
                 synchronous: str = "NORMAL", cache_mib: int = 32, background: bool = False,
                 max_pending: int | None = None):
        super().__init__(batch, flush_interval)
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous mode {synchronous!r}")
        if cache_mib < 1:
            raise ValueError("cache_mib must be >= 1")
        if max_pending is None:
            max_pending = 16 * batch
        if max_pending < batch:
            raise ValueError(f"max_pending must be >= batch ({batch}), not {max_pending}")
        self.background = background
        self.max_pending = max_pending
        #: the background transaction running in the writer thread, and its rows
        self._running: Future[int] | None = None
        self._running_rows: tuple[list[tuple], list[tuple]] = ([], [])
        self.path: str = os.fspath(path)
        self._sync = synchronous.upper()
        self.cache_mib = cache_mib
        self._events: list[tuple] = []
        self._calls: list[tuple] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lguapi-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._lock: asyncio.Lock | None = None
        self._timed: asyncio.Task | None = None
        # open in the writer thread now (it owns the connection); errors surface here, as the
        # sqlite3 error they are, naming the file (sqlite3 says "unable to open database file")
        try:
            self._executor.submit(self._open).result()
        except sqlite3.Error as e:
            self._executor.shutdown(wait=False)
            raise type(e)(f"{self.path}: cannot use it as an SQLite database ({e})") from e

    # -- writer thread ---------------------------------------------------------------------

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._sync}")
            conn.execute(f"PRAGMA cache_size=-{self.cache_mib * 1024}")  # negative: KiB
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(_SCHEMA)
        except Exception:
            conn.close()
            raise
        self._conn = conn

    def _commit(self, events: list[tuple], calls: list[tuple]) -> int:
        conn = self._conn
        assert conn is not None
        before = conn.total_changes
        conn.execute("BEGIN IMMEDIATE")
        try:
            if events:
                conn.executemany(_INSERT_EVENT, events)
            if calls:
                conn.executemany(_INSERT_CALL, calls)
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:  # SQLite has already rolled back after some errors (a full disk)
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):  # its message names no database
                raise type(e)(f"{self.path}: {e}") from e
            raise
        return conn.total_changes - before

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- event loop side -----------------------------------------------------------------------

    async def write_event(self, ev: Event) -> None:
        """Queue one event; when the batch is full, wait until it is committed."""
        self._check_closed()
        self._events.append(_event_row(ev))
        self._raise_earlier()
        await self._after_add()

    async def write_call(self, call: Call) -> None:
        """Queue one finished call (``ValueError`` if it is not over; merged calls are skipped)."""
        self._check_closed()
        if not _check_call(call):
            return
        self._calls.append(_call_row(call))
        self._raise_earlier()
        await self._after_add()

    def write_batch(self, items: Iterable[tuple[str, Any]]) -> list[tuple[tuple[str, Any], Exception]]:
        """Queue many ``("event", ev)`` / ``("call", call)`` items in one synchronous step (the
        monitor's and ``lguapi replay``'s path: no coroutine per record). Each item is queued
        as by :meth:`write_event` / :meth:`write_call`; one that cannot be (``ValueError`` for
        a call not over) does not stop the others: the ``(item, error)`` pairs are returned.
        Once ``batch`` rows wait they are committed before this returns (the caller waits for
        the writer thread, as a full batch of :meth:`write_event` does); a transaction that
        fails raises and keeps its rows for the next attempt, and so does a background commit
        that failed since the last call, once the items are queued. With ``background=True``
        the transaction runs while this returns (see the class docstring)."""
        self._check_closed()
        self._reap()
        failed: list[tuple[tuple[str, Any], Exception]] = []
        events, calls = self._events, self._calls
        for item in items:
            kind, obj = item
            try:
                if kind == "event":
                    events.append(_event_row(obj))
                elif _check_call(obj):
                    calls.append(_call_row(obj))
            except (ValueError, TypeError, AttributeError) as exc:
                failed.append((item, exc))
        self._raise_earlier()
        waiting = len(events) + len(calls)
        if waiting >= self.batch:
            if self.background:
                self._commit_behind(wait=waiting > self.max_pending)
            else:
                self._commit_now()
        else:
            self._arm()
        return failed

    async def _after_add(self) -> None:
        if len(self._events) + len(self._calls) >= self.batch:
            await self._commit_pending()
        else:
            self._arm()

    def _take(self) -> tuple[list[tuple], list[tuple]]:
        """The waiting rows, leaving none."""
        events, calls = self._events, self._calls
        self._events, self._calls = [], []
        return events, calls

    def _restore(self, events: list[tuple], calls: list[tuple]) -> None:
        """Put the rows of a failed transaction back in front of the waiting ones."""
        self._events[:0] = events
        self._calls[:0] = calls

    def _count(self, rows: int, changed: int) -> None:
        """Count a committed transaction of ``rows`` rows, ``changed`` of them new."""
        self.stats["written"] += changed
        self.stats["duplicates"] += rows - changed
        self.stats["batches"] += 1

    def _commit_now(self) -> None:
        """Commit the waiting rows in the writer thread, the calling thread waiting for it."""
        self._wait_running()  # (one left by background mode, turned off since)
        self._disarm()
        events, calls = self._take()
        try:
            changed = self._executor.submit(self._commit, events, calls).result()
        except BaseException:
            self._restore(events, calls)
            raise
        self._count(len(events) + len(calls), changed)

    def _commit_behind(self, wait: bool) -> None:
        """``background``: start a transaction of the waiting rows in the writer thread and return.
        One runs at a time: while one does, the rows wait for the next, unless ``wait`` (over
        ``max_pending``), when the caller waits for the running one first (its failure raised)."""
        if self._running is not None:
            if not wait:
                self._arm()  # (if no call comes before flush_interval, the timer commits them)
                return
            self._wait_running()
        self._disarm()
        events, calls = self._take()
        self._running_rows = (events, calls)
        self._running = self._executor.submit(self._commit, events, calls)

    def _wait_running(self) -> None:
        """Block until the running background transaction, if any, ends; reap it and raise its
        failure (once)."""
        if self._running is not None:
            futures.wait((self._running,))  # (its failure is reaped, not raised by the wait)
            self._reap()
            self._raise_earlier()

    def _reap(self) -> None:
        """Count a finished background transaction; put the rows of a failed one back in front,
        logged and kept for the next call to raise."""
        done = self._running
        if done is None or not done.done():
            return
        self._running = None
        (events, calls), self._running_rows = self._running_rows, ([], [])
        exc = done.exception()
        if exc is None:
            self._count(len(events) + len(calls), done.result())
            return
        self._restore(events, calls)
        log.error("%s: background commit of %d row(s) failed (kept for the next attempt): %s", self.path,
                  len(events) + len(calls), exc)
        self._error = exc

    async def _join_running(self) -> None:
        """Wait for the running background transaction and reap it."""
        assert self._running is not None
        try:
            await asyncio.wrap_future(self._running)
        except Exception:  # (reaped below: its rows kept, its error logged)
            pass
        self._reap()

    async def _commit_pending(self) -> None:
        """Commit what is buffered, one batch at a time, in order."""
        self._disarm()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._running is not None:
                await self._join_running()
                if self._events or self._calls:
                    self._error = None  # (a failed transaction's rows are retried now: this outcome counts)
            if not self._events and not self._calls:
                return
            events, calls = self._take()
            loop = asyncio.get_running_loop()
            try:
                changed = await loop.run_in_executor(self._executor, self._commit, events, calls)
            except BaseException:
                # rolled back: keep the rows for the next attempt, then tell the caller
                self._restore(events, calls)
                raise
            self._count(len(events) + len(calls), changed)

    def _on_timer(self) -> None:
        self._timer = None
        if self._timed is None or self._timed.done():
            self._timed = asyncio.get_running_loop().create_task(self._timed_commit())

    async def _timed_commit(self) -> None:
        try:
            await self._commit_pending()
        except Exception as exc:  # surfaced on the next call
            log.error("%s: timed commit failed: %s", self.path, exc)
            self._error = exc

    async def flush(self) -> None:
        """Commit everything written so far; returns when it is durable."""
        self._check_open()
        await self._commit_pending()

    async def close(self) -> None:
        """Commit, close the database and stop the writer thread (idempotent)."""
        if self._closed:
            return
        try:
            if self._timed is not None and not self._timed.done():
                await self._timed
            await self._commit_pending()
        finally:
            self._closed = True
            self._disarm()
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._executor, self._close_conn)
            finally:
                self._executor.shutdown(wait=False)


# --- opening by name ------------------------------------------------------------------------


#: a URL scheme in front of a sink's name: two characters or more, so that a Windows drive
#: letter (``C:\\calls.db``) stays a path
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")


def open_sink(url_or_path: str | os.PathLike[str], *, background: bool = False,
              **kwargs: Any) -> JsonlSink | SqliteSink:
    """Open a sink by name: ``events.jsonl`` (JSON Lines, the default),
    ``sqlite:///relative.db`` / ``sqlite:////absolute.db`` or a path ending in ``.db``,
    ``.sqlite`` or ``.sqlite3`` (SQLite), ``jsonl:///path`` (JSON Lines, explicit).
    Any other scheme (``name:`` of two characters or more) is a ``ValueError``: write
    ``./name:...`` for a file whose name has a colon. Keyword arguments go to the sink
    (``batch``, ``flush_interval``, ...). ``background=True`` opens an SQLite sink that
    commits full batches while the caller goes on (:class:`SqliteSink`); a JSON Lines sink
    has no transaction to wait for and ignores it."""
    sink = _open_sink(url_or_path, **kwargs)
    if background and isinstance(sink, SqliteSink):
        sink.background = True
    return sink


def _open_sink(url_or_path: str | os.PathLike[str], **kwargs: Any) -> JsonlSink | SqliteSink:
    name = os.fspath(url_or_path)
    if not name:
        raise ValueError("empty sink name")
    if name.startswith("sqlite:"):
        path = name[len("sqlite:"):]
        if path.startswith("///"):
            path = path[3:]
        elif path.startswith("//"):
            path = path[2:]
        if not path:
            raise ValueError(f"no database path in {name!r}")
        return SqliteSink(path, **kwargs)
    if name.startswith("jsonl:"):
        path = name[len("jsonl:"):]
        path = path[3:] if path.startswith("///") else path[2:] if path.startswith("//") else path
        if not path:
            raise ValueError(f"no file path in {name!r}")
        return JsonlSink(path, **kwargs)
    scheme = _SCHEME.match(name)
    if scheme is not None:  # a mistyped "sqlite:"/"jsonl:" would otherwise name a file
        raise ValueError(f"unknown sink scheme {scheme.group(1)!r} in {name!r} (use a path, jsonl: or sqlite:; "
                         f"a file whose name has a colon: ./{name})")
    if name.lower().endswith((".db", ".sqlite", ".sqlite3")):
        return SqliteSink(name, **kwargs)
    return JsonlSink(name, **kwargs)
