"""Offline replay: rebuild the events and calls of a capture at batch speed.

A capture (:mod:`lguapi.capture`) holds every text frame a monitor received, with the
timestamp its event was given and the connection it came on, plus the connection events
the clients raised. :func:`replay` turns each segment into columns with
:func:`lgucore.decode_batch` and :func:`lgucore.tokenize_batch`, builds the same typed
events the live clients built (same ``ts``, ``exten`` and ``raw``), feeds a
:class:`~lguapi.calls.CallTracker` whose clock is the capture's own time, and writes what a
live :class:`~lguapi.monitor.Monitor` would have written to its sink: every event, and every
call that ended (merged calls excepted). The sinks' idempotency keys make the result equal
to the live run's, record for record.

>>> result = await replay(["captures/"], sink="jsonl:replayed.jsonl")  # doctest: +SKIP
>>> print(result.events, result.calls, f"{result.events_per_second:,.0f} events/s")  # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lgucore import TEXT, tokenize
from lgucore.batch import decode_batch, tokenize_batch

from . import events as E
from .capture import CLOSE, EVENT, FILE, OPEN, RX, TX, CaptureError, _META, load_json_record, load_segment, segments

__all__ = ["ReplayResult", "replay", "rebuild_event"]

# connection events a capture may hold, by class name
_CONNECTION_EVENTS: dict[str, type] = {
    cls.__name__: cls
    for cls in (E.Connected, E.LoggedIn, E.Disconnected, E.Reconnecting, E.Reconnected, E.Reconciled)
}


@dataclass
class ReplayResult:
    """What a replay did. ``truncated``: bytes of partial records skipped (a crash)."""

    segments: int = 0
    frames: int = 0
    events: int = 0
    calls: int = 0
    connections: int = 0
    truncated: int = 0
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class _Conn:
    __slots__ = ("exten", "charset", "login_result")

    def __init__(self, exten: str | None, charset: str) -> None:
        self.exten = exten
        self.charset = charset
        self.login_result: E.LoginResultEvent | None = None


def rebuild_event(fields: dict[str, Any], login_result: E.LoginResultEvent | None = None) -> E.Event:
    """A connection event from the fields a capture recorded (``{"event": "Disconnected", ...}``)."""
    cls = _CONNECTION_EVENTS.get(str(fields.get("event")))
    if cls is None:
        raise CaptureError(f"unknown connection event {fields.get('event')!r} in the capture")
    names = {f.name for f in dataclasses.fields(cls)}
    kw = {k: v for k, v in fields.items() if k in names and k != "result"}
    if cls is E.LoggedIn:
        kw["result"] = login_result
    if cls is E.Reconciled:
        kw["statuses"] = tuple(tuple(s) for s in kw.get("statuses", ()))
    return cls(**kw)


async def replay(paths: Iterable[str | os.PathLike[str]], *, sink: Any = None, tracker: Any = None,
                 tracker_options: dict[str, Any] | None = None, on_event: Callable[[E.Event], Any] | None = None,
                 on_update: Callable[[Any], Any] | None = None,
                 max_segment_bytes: int = 1 << 30) -> ReplayResult:
    """Replay the captures at ``paths`` (segment files or directories) in recording order.

    ``sink``: a path/URL for :func:`lguapi.sinks.open_sink`, a sink object, or ``None``.
    ``tracker``: a CallTracker to feed (by default a new one built with
    ``tracker_options`` and the capture's clock). ``on_event(ev)`` and ``on_update(u)``
    see every event and call update as they are rebuilt.
    """
    from .calls import CallTracker

    clock_now = [0.0]
    if tracker is None:
        tracker = CallTracker(clock=lambda: clock_now[0], **(tracker_options or {}))
    owns_sink = isinstance(sink, (str, os.PathLike))
    if owns_sink:
        from .sinks import open_sink

        sink = open_sink(os.fspath(sink))
    result = ReplayResult()
    conns: dict[int, _Conn] = {}
    started = time.perf_counter()

    async def deliver(ev: E.Event) -> None:
        clock_now[0] = ev.ts
        result.events += 1
        if on_event is not None:
            on_event(ev)
        updates = tracker.feed(ev)
        if sink is not None:
            await sink.write_event(ev)
        for u in updates:
            if on_update is not None:
                on_update(u)
            if u.kind == "ended" and u.call.end_reason != "merged":
                result.calls += 1
                if sink is not None:
                    await sink.write_call(u.call)

    try:
        for path in segments(paths):
            result.segments += 1
            data = load_segment(path, max_bytes=max_segment_bytes)
            batch = decode_batch(data)
            result.truncated += len(data) - batch.consumed
            types = batch.types.tolist()
            if not types or types[0] != FILE:
                raise CaptureError(f"{path.name} is not an lguapi capture")
            charset = _batch_charset(batch, types)
            tokens = tokenize_batch(batch, charset=charset)
            result.frames += len(types)
            i, n = 1, len(types)
            while i < n:
                t = types[i]
                if t == RX:
                    if i + 1 >= n:
                        break
                    if types[i + 1] == TEXT:
                        ts, cid = _META.unpack(batch.body(i))
                        conn = conns.get(cid)
                        if conn is None:
                            raise CaptureError(f"{path.name}: frame of connection {cid} before it opened")
                        body = bytes(batch.body(i + 1))
                        msg = tokens.message(i + 1) if conn.charset == charset else tokenize(body, charset=conn.charset)
                        text = body.decode("ascii") if body.isascii() else body.decode(conn.charset, "replace")
                        ev = E.parse_event(msg, exten=conn.exten, ts=ts, raw=text)
                        if isinstance(ev, E.LoginResultEvent):
                            ev = _login_result(conn, ev)
                        await deliver(ev)
                    i += 2
                elif t == TX:
                    i += 2
                elif t in (OPEN, CLOSE, EVENT):
                    info = load_json_record(batch, i, path)
                    cid = int(info["conn"])
                    if t == OPEN:
                        known = conns.get(cid)
                        if known is None:  # new, or restated at the start of a later segment
                            result.connections += not info.get("continued")
                            conns[cid] = _Conn(info.get("exten"), info.get("charset") or "cp949")
                        else:  # the extension learned at login
                            known.exten = info.get("exten")
                    elif t == CLOSE:
                        conns.pop(cid, None)
                    else:
                        conn = conns.get(cid)
                        await deliver(rebuild_event(info["event"], conn.login_result if conn else None))
                    i += 1
                else:
                    raise CaptureError(f"{path.name}: unknown record type 0x{t:04x} at frame {i}")
        if sink is not None:
            await sink.flush()
    finally:
        if owns_sink and sink is not None:
            await sink.close()
    result.seconds = time.perf_counter() - started
    return result


def _login_result(conn: _Conn, ev: E.LoginResultEvent) -> E.LoginResultEvent:
    ev = E.with_login_exten(ev)  # the correction the live client makes
    conn.login_result = ev
    return ev


def _batch_charset(batch: Any, types: list[int]) -> str:
    for i, t in enumerate(types):
        if t == OPEN:
            return str(load_json_record(batch, i, None).get("charset") or "cp949")
    return "cp949"
