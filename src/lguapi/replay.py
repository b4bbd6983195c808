"""Offline replay: rebuild the events and calls of a capture at batch speed.

A capture (:mod:`lguapi.capture`) holds every text frame a monitor received, with the
timestamp its event was given and the connection it came on, plus the connection events
the clients raised. :func:`replay` reads each segment whole, finds its frames with
:func:`lgucore.decode_batch` and its records with :func:`~lguapi.capture.index_segment`
(numpy columns, no Python step per frame), tokenizes each text frame with the compiled
tokenizer (cheaper than materialising a :func:`lgucore.tokenize_batch`'s messages one by
one), builds the same typed events the live clients built (same ``ts``, ``exten`` and
``raw``) a batch at a time, feeds a :class:`~lguapi.calls.CallTracker` whose clock is the
capture's own time, and writes what a live :class:`~lguapi.monitor.Monitor` would have
written to its sink: every event, and every call that ended (merged calls excepted). The
sinks' idempotency keys make the result equal to the live run's, record for record.

>>> result = await replay(["captures/"], sink="jsonl:replayed.jsonl")  # doctest: +SKIP
>>> print(result.events, result.calls, f"{result.events_per_second:,.0f} events/s")  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lgucore.batch import FrameBatch, build_events, decode_batch
from lgucore.fields import INT_MAX, INT_MIN

from . import events as E
from .capture import (
    CLOSE, EVENT, FILE, OPEN, CaptureError, check_open, index_segment, is_time, received_arrays, record_fields,
    salvage_segment, segments,
)

__all__ = ["ReplayResult", "replay", "rebuild_event"]

# connection events a capture may hold, by class name
_CONNECTION_EVENTS: dict[str, type] = {
    cls.__name__: cls
    for cls in (E.Connected, E.LoggedIn, E.Disconnected, E.Reconnecting, E.Reconnected, E.Reconciled)
}


@dataclass
class ReplayResult:
    """What a replay did. ``truncated``: bytes of partial records skipped (a crash);
    ``damaged``: the compressed segments that were cut short (only their readable beginning
    was replayed)."""

    segments: int = 0
    frames: int = 0
    events: int = 0
    calls: int = 0
    connections: int = 0
    truncated: int = 0
    seconds: float = 0.0
    damaged: list[str] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class _Conn:
    __slots__ = ("exten", "charset", "login_result")

    def __init__(self, exten: str | None, charset: str) -> None:
        self.exten = exten
        self.charset = charset
        self.login_result: E.LoginResultEvent | None = None


class _Conns:
    """The connections open at a point of the capture, and per connection id the
    ``(exten, charset)`` pair :func:`lgucore.batch.build_events` reads."""

    __slots__ = ("by_id", "labels")

    def __init__(self) -> None:
        self.by_id: dict[int, _Conn] = {}
        self.labels: dict[int, tuple[str | None, str]] = {}

    def get(self, cid: int) -> _Conn | None:
        return self.by_id.get(cid)

    def open(self, cid: int, exten: str | None, charset: str) -> None:
        self.by_id[cid] = _Conn(exten, charset)
        self.labels[cid] = (exten, charset)

    def set_exten(self, cid: int, exten: str | None) -> None:
        conn = self.by_id[cid]
        conn.exten = exten
        self.labels[cid] = (exten, conn.charset)

    def close(self, cid: int) -> None:
        self.by_id.pop(cid, None)
        self.labels.pop(cid, None)

    def other_event(self, msg: Any, values: tuple[str, str | None, float], cid: int) -> E.Event:
        """An event no builder makes (``build_events``' ``other``): parsed, a login answer
        corrected and remembered as the live client does."""
        text, exten, ts = values
        ev = E.parse_event(msg, exten=exten, ts=ts, raw=text)
        if isinstance(ev, E.LoginResultEvent):
            ev = _login_result(self.by_id[cid], ev)
        return ev


def rebuild_event(fields: dict[str, Any], login_result: E.LoginResultEvent | None = None) -> E.Event:
    """A connection event from the fields a capture recorded (``{"event": "Disconnected", ...}``),
    each field checked against its declared type (``CaptureError`` naming the first that does
    not fit: a capture from elsewhere is input, and a list where a string belongs would
    otherwise fail later, in the tracker or a sink, without saying where)."""
    cls = _CONNECTION_EVENTS.get(str(fields.get("event")))
    if cls is None:
        raise CaptureError(f"unknown connection event {fields.get('event')!r} in the capture")
    kw: dict[str, Any] = {}
    for name, convert in _FIELDS[cls].items():
        if name in fields:
            try:
                kw[name] = convert(fields[name])
            except (TypeError, ValueError) as e:
                raise CaptureError(f"malformed {cls.__name__} event in the capture: {name} {e}") from None
    if cls is E.LoggedIn:
        kw["result"] = login_result
    return cls(**kw)


def _is(*types: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):  # true is no int here
            raise TypeError(f"is {value!r}, not {' or '.join(t.__name__ for t in types)}")
        return value
    return check


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)


def _seconds(value: Any) -> float:
    if not is_time(value):
        raise TypeError(f"is {value!r}, not a finite number")
    return float(value)


def _count(value: Any) -> int:
    value = _is(int)(value)
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError(f"is {value!r}, beyond 64 bits")
    return value


def _statuses(value: Any) -> tuple[tuple[str, str | None, str | None], ...]:
    """``Reconciled.statuses``: JSON lists of ``[extension, state, call id]``."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"is {value!r}, not a list")
    out = []
    for item in value:
        if not (isinstance(item, (list, tuple)) and len(item) == 3 and isinstance(item[0], str)
                and all(x is None or isinstance(x, str) for x in item[1:])):
            raise TypeError(f"holds {item!r}, not [extension, state or null, call id or null]")
        out.append(tuple(item))
    return tuple(out)


#: how each declared field type of a connection event is read from a capture's JSON
_READERS: dict[str, Callable[[Any], Any]] = {
    "str": _is(str), "str | None": _optional(_is(str)), "bool": _is(bool), "int": _count,
    "float": _seconds, "float | None": _optional(_seconds),
    "tuple[tuple[str, str | None, str | None], ...]": _statuses,
}
#: per connection event class: its fields a capture may set, each with its reader ("result" is
#: the connection's remembered login answer, never read from the capture). A field of a type
#: with no reader above fails the import (KeyError): a new field needs its reader here first
_FIELDS: dict[type, dict[str, Callable[[Any], Any]]] = {
    cls: {f.name: _READERS[str(f.type)] for f in dataclasses.fields(cls) if f.name != "result"}
    for cls in _CONNECTION_EVENTS.values()
}


# the builders of every event but the login answer, which other_event corrects and remembers
_BUILDERS = {name: b for name, b in E.event_builders().items() if not issubclass(b.cls, E.LoginResultEvent)}

#: events rebuilt before they go to the tracker and the sink together (``replay(batch=)``); each
#: holds about 1.1 KB while its batch lives. 50,000 replays 9% faster than 10,000 (docs/capture.md)
DEFAULT_BATCH = 50_000


async def replay(paths: Iterable[str | os.PathLike[str]], *, sink: Any = None, tracker: Any = None,
                 tracker_options: dict[str, Any] | None = None, on_event: Callable[[E.Event], Any] | None = None,
                 on_update: Callable[[Any], Any] | None = None,
                 max_segment_bytes: int = 1 << 30, batch: int = DEFAULT_BATCH,
                 pause_gc: bool = True) -> ReplayResult:
    """Replay the captures at ``paths`` (segment files or directories) in recording order.

    ``sink``: a path/URL for :func:`lguapi.sinks.open_sink` (opened with ``batch`` records
    per write or transaction), a sink object, or ``None``. ``tracker``: a CallTracker to
    feed (by default a new one built with ``tracker_options`` and the capture's clock).
    ``on_event(ev)`` and ``on_update(u)`` see every event and call update as they are
    rebuilt. Work goes in batches: each segment is decoded and indexed whole, and up to
    ``batch`` events at a time are built, fed to the tracker and handed to the sink in one
    step (``write_batch`` when the sink has it). ``pause_gc``: the cyclic garbage collector
    is off while a batch is built, tracked and handed to a ``write_batch``, and on again
    between batches (if it was on), so a batch's objects are scanned once rather than by
    every young collection its allocations would trigger.
    """
    if batch < 1:
        raise ValueError("batch must be >= 1")
    from .calls import CallTracker

    clock_now = [0.0]
    # the tracker's own, on the capture's clock: a batch goes in at its events' times in one call
    # (feed_recorded); a caller's tracker keeps its clock, read once per event (feed_many)
    if tracker is None:
        tracker = CallTracker(clock=lambda: clock_now[0], **(tracker_options or {}))
        feed_batch = tracker.feed_recorded
    else:
        feed_batch = getattr(tracker, "feed_many", None) or _one_by_one(tracker.feed)
    owns_sink = isinstance(sink, (str, os.PathLike))
    if owns_sink:
        from .sinks import open_sink

        sink = open_sink(os.fspath(sink), batch=batch)
    result = ReplayResult()
    conns = _Conns()
    write_batch = getattr(sink, "write_batch", None)
    just_count = sink is None and on_event is None and on_update is None
    started = time.perf_counter()
    try:
        for path in segments(paths):
            result.segments += 1
            chunks = _segment_events(path, conns, result, batch=batch, max_bytes=max_segment_bytes)
            while True:
                with _collector_paused(pause_gc):
                    evs = next(chunks, None)
                    if evs is None:
                        break
                    if on_event is None and on_update is None:
                        records = _batch(evs, feed_batch, clock_now, result, keep=not just_count)
                    else:
                        records = _track(evs, tracker, clock_now, result, on_event, on_update)
                    # the batch's events go now (with no sink nothing else holds them), not when
                    # the next batch is built: two batches would be alive at once
                    del evs
                    if write_batch is not None:
                        _write_batch(write_batch, records)
                        # the records' tuples go before the collector is back on: kept, they
                        # would be walked by its next young collection and moved to an older
                        # generation (0.1 µs per event of collections in a replay into JSONL)
                        del records
                if sink is not None and write_batch is None:
                    await _write_each(sink, records)
                    del records
        if sink is not None:
            await sink.flush()
    finally:
        if owns_sink and sink is not None:
            await sink.close()
    result.seconds = time.perf_counter() - started
    return result


@contextlib.contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """The cyclic garbage collector off inside (when ``pause`` and it was on), on again after."""
    if not (pause and gc.isenabled()):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _segment_events(path: Path, conns: _Conns, result: ReplayResult, *, batch: int,
                    max_bytes: int) -> Iterator[list[E.Event]]:
    """The events of one segment in recording order, in lists of at most ``batch``; its
    bookkeeping records update ``conns`` (and ``result``) at their place in the order."""
    data = salvage_segment(path, result.damaged, max_bytes=max_bytes)
    if not data and result.damaged[-1:] == [path.name]:
        return  # nothing of it was readable (named in damaged)
    frames = decode_batch(data)
    result.truncated += len(data) - frames.consumed
    if not len(frames) or int(frames.types[0]) != FILE:
        raise CaptureError(f"{path.name} is not an lguapi capture")
    result.frames += len(frames)
    index = index_segment(frames)
    result.truncated += index.cut
    received = index.received
    # the received frames before each bookkeeping record, then those after the last one
    stops = np.searchsorted(received, index.records).tolist() + [len(received)]
    records: list[int | None] = [*index.records.tolist(), None]
    pending: list[E.Event] = []
    pos = 0
    for record, stop in zip(records, stops):
        while pos < stop:
            take = min(stop - pos, batch - len(pending))
            pending += _received_events(data, frames, received[pos:pos + take], conns, path)
            pos += take
            if len(pending) >= batch:
                yield pending
                pending = []
        if record is not None:
            ev = _bookkeeping(frames, record, conns, result, path)
            if ev is not None:
                pending.append(ev)
                if len(pending) >= batch:
                    yield pending
                    pending = []
    if pending:
        yield pending


def _received_events(data: bytes, frames: FrameBatch, received: np.ndarray, conns: _Conns,
                     path: Path) -> list[E.Event]:
    """The events of the text frames of the RX records at ``received``, as the live client
    built them: same tokens, ``raw`` text, extension and time (one ``build_events`` call)."""
    ts, cid, starts, ends = received_arrays(frames, received, path)
    try:
        return build_events(data, starts, ends, cid, ts.tolist(), conns.labels, _BUILDERS, conns.other_event)
    except KeyError as e:
        key = e.args[0] if e.args else None
        if isinstance(key, int) and conns.get(key) is None:
            raise CaptureError(f"{path.name}: frame of connection {key} before it opened") from None
        raise


def _bookkeeping(frames: FrameBatch, i: int, conns: _Conns, result: ReplayResult,
                 path: Path) -> E.Event | None:
    """Apply the OPEN/CLOSE record at frame ``i`` to ``conns``; an EVENT record's event."""
    t = int(frames.types[i])
    if t not in (OPEN, CLOSE, EVENT):
        raise CaptureError(f"{path.name}: unknown record type 0x{t:04x} at frame {i}")
    info, cid, ts = record_fields(frames, i, path, need_ts=False)  # (only an EVENT needs a time)
    if t == OPEN:
        check_open(info, i, path)
        continued = bool(info.get("continued"))
        if not continued or conns.get(cid) is None:
            # a new connection (a recorder restarted in the same directory numbers its connections
            # from 1 again: one still open from before, never closed by a crash, is replaced), or
            # one restated at the start of a later segment read without the segments before it
            result.connections += not continued
            conns.open(cid, info.get("exten"), info.get("charset") or "cp949")
        else:  # the extension learned at login
            conns.set_exten(cid, info.get("exten"))
    elif t == CLOSE:
        conns.close(cid)
    else:
        conn = conns.get(cid)
        fields = info.get("event")
        if not isinstance(fields, dict):
            raise CaptureError(f"{path.name}: record {i} holds no event")
        if ts is not None:
            fields = {"ts": ts, **fields}  # the event's own time first, else the record's
        elif "ts" not in fields:
            raise CaptureError(f"{path.name}: record {i} holds an event without a time")
        try:
            return rebuild_event(fields, conn.login_result if conn else None)
        except CaptureError as e:
            raise CaptureError(f"{path.name}: record {i}: {e}") from None
    return None


def _track(evs: list[E.Event], tracker: Any, clock_now: list[float], result: ReplayResult,
           on_event: Callable[[E.Event], Any] | None,
           on_update: Callable[[Any], Any] | None) -> list[tuple[str, Any]]:
    """Feed ``evs`` to the tracker one at a time (its clock at each event's time), for the
    callbacks: ``on_event`` sees each event before it is fed, ``on_update`` its updates right
    after. The sink records: each event, then the calls it ended (merged calls excepted)."""
    records: list[tuple[str, Any]] = []
    add = records.append
    feed = tracker.feed
    for ev in evs:
        clock_now[0] = ev.ts
        if on_event is not None:
            on_event(ev)
        updates = feed(ev)
        add(("event", ev))
        for u in updates:
            if on_update is not None:
                on_update(u)
            if u.kind == "ended" and u.call.end_reason != "merged":
                add(("call", u.call))
    result.events += len(evs)
    result.calls += len(records) - len(evs)
    return records


def _batch(evs: list[E.Event], feed_batch: Callable[[list[E.Event]], list], clock_now: list[float],
           result: ReplayResult, *, keep: bool) -> list[tuple[str, Any]]:
    """:func:`_track` with no callbacks: the batch in one tracker call; its records (when
    ``keep``) as a live Monitor writes a read's: the events, then the calls they ended."""
    if evs:
        clock_now[0] = evs[-1].ts  # the capture's clock, for anything that reads it meanwhile
    ended = [u.call for u in feed_batch(evs) if u.kind == "ended" and u.call.end_reason != "merged"]
    result.events += len(evs)
    result.calls += len(ended)
    if not keep:
        return []
    records: list[tuple[str, Any]] = [("event", ev) for ev in evs]
    records += [("call", call) for call in ended]
    return records


def _one_by_one(feed: Callable[[E.Event], Any]) -> Callable[[list[E.Event]], list]:
    """A batch feeder for a tracker with ``feed`` alone."""
    def feed_batch(evs: list[E.Event]) -> list:
        return [u for ev in evs for u in feed(ev)]
    return feed_batch


def _write_batch(write_batch: Callable[[list], list], records: list[tuple[str, Any]]) -> None:
    """Hand ``records`` to a sink's ``write_batch`` (one synchronous call); refused records raise."""
    failed = write_batch(records)
    if failed:
        (kind, obj), exc = failed[0]
        raise CaptureError(f"the sink refused a replayed {kind} ({len(failed)} in all): {exc}") from exc


async def _write_each(sink: Any, records: list[tuple[str, Any]]) -> None:
    """Hand ``records`` to a sink without ``write_batch``, one awaited write each."""
    for kind, obj in records:
        if kind == "event":
            await sink.write_event(obj)
        else:
            await sink.write_call(obj)


def _login_result(conn: _Conn, ev: E.LoginResultEvent) -> E.LoginResultEvent:
    ev = E.with_login_exten(ev)  # the correction the live client makes
    conn.login_result = ev
    return ev


