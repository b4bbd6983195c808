"""Capture files: every frame a client received and sent, with time and connection, on disk.

A capture is a directory of *segments*. A segment is a plain stream of protocol frames
(docs/protocol.md §2, big-endian), so the same batch decoder that reads the wire reads a
capture. Capture-only frame types carry the bookkeeping:

========  =========  ===================================================================
type      name       body
========  =========  ===================================================================
0x4C00    FILE       JSON: ``format``, ``version``, ``created`` (epoch s), ``segment``
0x4C01    OPEN       JSON: ``conn``, ``ts``, ``address``, ``login``, ``exten``,
                     ``cipher``, ``charset``, ``continued`` (restated at a rotation)
0x4C02    CLOSE      JSON: ``conn``, ``ts``, ``reason``
0x4C03    RX         ``>dI``: ts, conn — the next frame is what was received
0x4C04    TX         ``>dI``: ts, conn — the next frame is what was sent
0x4C05    EVENT      JSON: ``conn``, ``ts``, ``event`` (a connection event's fields)
========  =========  ===================================================================

Text frames are stored *after* decryption, as type TEXT (0x0001); heartbeats keep their
type. The password of a LOGIN is replaced by ``***`` before anything is written.

Crash safety: records are appended whole; a process killed mid-write leaves at most one
partial record at the end of the live segment, which readers skip and report
(``CaptureReader.truncated``). The writer hands its buffer to the OS at least every
``flush_interval`` seconds and whenever ``buffer_bytes`` are pending, so a crash loses at
most that much; an owner with a timer (the Client's heartbeat tick) calls :meth:`flush`
during quiet periods. Segments rotate at ``max_segment_bytes``; a rotated segment is
gzip-compressed (``compress=True``) by writing ``NAME.gz.tmp``, renaming it to ``NAME.gz``
and only then removing ``NAME``, so a crash during compression leaves a complete copy.

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> w = CaptureWriter(d)
>>> c = w.open_connection(address="127.0.0.1:8086", login="07012343001", cipher="seed")
>>> w.sent(c, 1, b"CMD LOGIN ID=07012343001 PWD=secret ", ts=1.0)
>>> w.received(c, 1, b"LOGINRESULT|STATUS:1|EXTEN:3001", ts=2.0)
>>> w.close()
>>> [(r.kind, r.body) for r in read_capture(d) if r.kind in ("rx", "tx")]
[('tx', b'CMD LOGIN ID=07012343001 PWD=*** '), ('rx', b'LOGINRESULT|STATUS:1|EXTEN:3001')]
"""
from __future__ import annotations

import gzip
import json
import logging
import math
import os
import re
import shutil
import struct
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from lgucore import TEXT, tokenize

#: what a gzip reader raises on bad data (gzip.BadGzipFile is an OSError; ISA-L adds its own)
_GZIP_ERRORS: tuple[type[BaseException], ...] = (OSError, zlib.error)
try:  # ISA-L's gzip decompresses captures twice as fast (a dependency); the standard library otherwise
    from isal import isal_zlib
    from isal.igzip import open as _gzip_open

    _GZIP_ERRORS += (cast("type[BaseException]", isal_zlib.error),)
except ImportError:  # pragma: no cover - isal is installed with lguapi
    _gzip_open = gzip.open
from lgucore.batch import FrameBatch, decode_batch

__all__ = [
    "CaptureError", "CaptureWriter", "CaptureReader", "Record", "read_capture", "segments",
    "FILE", "OPEN", "CLOSE", "RX", "TX", "EVENT", "FORMAT", "VERSION", "SegmentIndex", "index_segment",
    "received_columns", "received_arrays", "load_segment", "read_segment", "salvage_segment",
    "record_fields", "check_open", "is_time",
]

log: logging.Logger = logging.getLogger("lguapi.capture")

FORMAT = "lguapi-capture"
VERSION = 1
FILE, OPEN, CLOSE, RX, TX, EVENT = 0x4C00, 0x4C01, 0x4C02, 0x4C03, 0x4C04, 0x4C05
SUFFIX = ".lgcap"

_HDR = struct.Struct(">HH")
_META = struct.Struct(">dI")
_META_DTYPE = np.dtype([("ts", ">f8"), ("conn", ">u4")])  # the same layout, for numpy
_MAX_BODY = 65535
_LOGIN_PWD = re.compile(rb"^(CMD[ |]LOGIN\b.*?\bPWD=)(\S*)", re.S)
_LOGIN_PIPE = re.compile(rb"^(CMD\|LOGIN\|[^|]*\|)([^|]*)", re.S)


class CaptureError(ValueError):
    """A capture that cannot be read (not a capture, unknown version, broken record)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a capture.

    ``kind`` is ``"open"``, ``"close"``, ``"rx"``, ``"tx"`` or ``"event"``. ``ftype`` and
    ``body`` are set for rx/tx (the frame type and its plain body); ``info`` holds the
    JSON fields of the other kinds.
    """

    kind: str
    conn: int
    ts: float
    ftype: int | None = None
    body: bytes | None = None
    info: dict[str, Any] | None = None


def redact_login(body: bytes) -> bytes:
    """``body`` with the password of a LOGIN command replaced by ``***`` (other text as is)."""
    if not body.startswith(b"CMD"):
        return body
    for rx in (_LOGIN_PWD, _LOGIN_PIPE):
        m = rx.match(body)
        if m:
            return body[: m.start(2)] + b"***" + body[m.end(2):]
    return body


class CaptureWriter:
    """Append frames of any number of connections to a capture directory.

    Not thread-safe: use it from one thread (the event loop's). ``max_segment_bytes``
    (default 64 MiB) rotates segments; ``max_segments`` (default ``None``: keep all)
    deletes the oldest rotated ones beyond that count; ``buffer_bytes`` and
    ``flush_interval`` bound what a crash can lose (see the module docs); ``fsync=True``
    also syncs each flush to the disk (power-loss safety, at a cost).
    """

    def __init__(self, directory: str | os.PathLike[str], *, max_segment_bytes: int = 64 << 20,
                 max_segments: int | None = None, compress: bool = True,
                 buffer_bytes: int = 256 << 10, flush_interval: float = 0.5,
                 fsync: bool = False, prefix: str = "capture") -> None:
        if max_segment_bytes < 1 << 16:
            raise ValueError("max_segment_bytes must be at least 65536")
        if max_segments is not None and max_segments < 1:
            raise ValueError("max_segments must be at least 1 (or None to keep every segment)")
        if buffer_bytes < 1 or flush_interval <= 0:
            raise ValueError("buffer_bytes and flush_interval must be positive")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", prefix):
            raise ValueError("prefix may hold only letters, digits, '_', '.' and '-'")
        self.directory: Path = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_segment_bytes = max_segment_bytes
        self.max_segments = max_segments
        self.compress = compress
        self.buffer_bytes = buffer_bytes
        self.flush_interval = flush_interval
        self.fsync = fsync
        self.prefix = prefix
        self.records: int = 0
        self._buf = bytearray()
        self._fd: int | None = None
        self._size = 0
        self._seq = 0
        self._path: Path | None = None
        self._next_conn = 1
        self._open: dict[int, dict[str, Any]] = {}
        self._last_flush = time.monotonic()
        self._rotated: list[Path] = []
        self._compressors: list[threading.Thread] = []
        self._closed = False
        self._start_segment()

    # -- public API -----------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        """The live segment's path."""
        return self._path

    def open_connection(self, *, address: str, login: str | None = None, exten: str | None = None,
                        cipher: str = "seed", charset: str = "cp949", ts: float | None = None) -> int:
        """Start a connection; returns its id for :meth:`received`/:meth:`sent`."""
        conn = self._next_conn
        self._next_conn += 1
        info = {"conn": conn, "ts": time.time() if ts is None else ts, "address": address,
                "login": login, "exten": exten, "cipher": cipher, "charset": charset}
        self._open[conn] = info
        self._json(OPEN, dict(info, continued=False))
        return conn

    def set_exten(self, conn: int, exten: str | None) -> None:
        """Note the extension a connection logged in as (restated at the next rotation)."""
        info = self._open.get(conn)
        if info is not None and info.get("exten") != exten:
            info["exten"] = exten
            self._json(OPEN, dict(info, ts=time.time(), continued=True))

    def received(self, conn: int, ftype: int, body: bytes, *, ts: float | None = None) -> None:
        """Record a frame received on ``conn`` (text after decryption)."""
        self._frame(RX, conn, ftype, body, ts)

    def sent(self, conn: int, ftype: int, body: bytes, *, ts: float | None = None) -> None:
        """Record a frame sent on ``conn`` (text before encryption; a LOGIN password is masked)."""
        self._frame(TX, conn, ftype, redact_login(bytes(body)), ts)

    def event(self, conn: int, fields: dict[str, Any], *, ts: float | None = None) -> None:
        """Record a connection event the client raised (Connected, Disconnected, ...)."""
        self._json(EVENT, {"conn": conn, "ts": time.time() if ts is None else ts, "event": fields})

    def close_connection(self, conn: int, reason: str = "", *, ts: float | None = None) -> None:
        """End a connection's records."""
        if self._open.pop(conn, None) is not None:
            self._json(CLOSE, {"conn": conn, "ts": time.time() if ts is None else ts, "reason": reason})

    def flush(self) -> None:
        """Hand every buffered record to the OS (and the disk, with ``fsync=True``)."""
        if self._buf and self._fd is not None:
            view = memoryview(self._buf)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            view.release()
            self._size += len(self._buf)
            self._buf.clear()
            if self.fsync:
                os.fsync(self._fd)
        self._last_flush = time.monotonic()

    def flush_if_due(self) -> None:
        """:meth:`flush` when records wait and ``flush_interval`` has passed (for timers)."""
        if self._buf and time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def close(self) -> None:
        """Flush, close the live segment (left uncompressed) and wait for compressions."""
        if self._closed:
            return
        self._closed = True
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for t in self._compressors:
            t.join()
        self._compressors.clear()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<CaptureWriter {str(self.directory)!r} segment={self._seq} records={self.records}>"

    # -- internals ------------------------------------------------------------------------
    def _frame(self, kind: int, conn: int, ftype: int, body: bytes, ts: float | None) -> None:
        if len(body) > _MAX_BODY:
            raise CaptureError(f"a {len(body)}-byte frame body cannot be captured (limit {_MAX_BODY})")
        buf = self._buf
        buf += _HDR.pack(kind, _META.size)
        buf += _META.pack(time.time() if ts is None else ts, conn)
        buf += _HDR.pack(ftype, len(body))
        buf += body
        self._after()

    def _json(self, kind: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        if len(data) > _MAX_BODY:
            raise CaptureError(f"a capture record of {len(data)} bytes is over the frame limit")
        self._buf += _HDR.pack(kind, len(data))
        self._buf += data
        self._after()

    def _after(self) -> None:
        if self._closed:
            raise CaptureError("the capture writer is closed")
        self.records += 1
        if len(self._buf) >= self.buffer_bytes or time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()
            if self._size >= self.max_segment_bytes:
                self._rotate()

    def _start_segment(self) -> None:
        self._seq += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.directory / f"{self.prefix}-{stamp}-{os.getpid()}-{self._seq:06d}{SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        self._path = path
        self._size = 0
        self._json(FILE, {"format": FORMAT, "version": VERSION, "created": time.time(), "segment": self._seq})
        for info in self._open.values():
            self._json(OPEN, dict(info, continued=True))

    def _rotate(self) -> None:
        self.flush()
        assert self._fd is not None and self._path is not None
        os.close(self._fd)
        done = self._path
        self._start_segment()
        if self.compress:
            t = threading.Thread(target=_compress, args=(done,), name="lguapi-capture-gzip", daemon=True)
            t.start()
            self._compressors = [c for c in self._compressors if c.is_alive()] + [t]
            done = done.with_name(done.name + ".gz")
        self._rotated.append(done)
        if self.max_segments is not None:
            while len(self._rotated) >= self.max_segments:
                old = self._rotated.pop(0)
                for p in (old, old.with_name(old.name.removesuffix(".gz"))):
                    try:
                        p.unlink()
                    except FileNotFoundError:
                        pass


def _compress(path: Path) -> None:
    tmp = path.with_name(path.name + ".gz.tmp")
    try:
        with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, path.with_name(path.name + ".gz"))
        path.unlink()
    except OSError:
        log.exception("capture: compressing %s failed; the segment stays uncompressed", path.name)


# -- reading ----------------------------------------------------------------------------------


def segments(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The segment files named by ``paths`` (files, or directories holding segments), in
    recording order. A segment present both plain and compressed is read plain (the
    compressed copy may be unfinished). A path that does not exist, or a directory without
    a segment, is a :class:`CaptureError`."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = {}
            for f in sorted(p.iterdir()):
                if f.name.endswith(SUFFIX):
                    found[f.name] = f
                elif f.name.endswith(SUFFIX + ".gz"):
                    found.setdefault(f.name[:-3], f)
            if not found:  # (a mistyped directory would otherwise replay nothing, successfully)
                raise CaptureError(f"no capture segments (*{SUFFIX}, *{SUFFIX}.gz) in {str(p)!r}")
            out.extend(found[k] for k in sorted(found))
        elif p.exists():
            out.append(p)
        else:
            raise CaptureError(f"no capture at {str(p)!r}")
    return out


def load_segment(path: Path, *, max_bytes: int = 1 << 30) -> bytes:
    """A segment's bytes (decompressed when it ends in ``.gz``), at most ``max_bytes``.

    Compressed segments are read through ISA-L's gzip (``isal.igzip``, twice as fast as
    the standard library's on capture text), or the standard ``gzip`` where it is missing.
    A compressed segment that is cut short or corrupt (copied incompletely, a disk error)
    raises :class:`CaptureError`; :class:`CaptureReader` and ``lguapi replay`` read its
    readable beginning instead (:func:`read_segment`)."""
    data, damage = read_segment(path, max_bytes=max_bytes)
    if damage is not None:
        raise CaptureError(f"{path.name}: {damage}")
    return data


def read_segment(path: Path, *, max_bytes: int = 1 << 30) -> tuple[bytes, str | None]:
    """``(bytes, damage)``: a segment's bytes as :func:`load_segment` reads them, except that a
    compressed segment cut short gives what decompresses before the cut, and ``damage`` says
    what was wrong (None for a sound segment). The readable part usually ends inside a
    record, which readers then skip and count as a torn tail. Corrupt compressed data raises
    :class:`CaptureError` (what decodes before the error may already be wrong)."""
    if not path.name.endswith(".gz"):
        with open(path, "rb") as f:
            return _bounded(path, f.read(max_bytes + 1), max_bytes), None
    try:
        with _gzip_open(path, "rb") as f:
            return _bounded(path, f.read(max_bytes + 1), max_bytes), None
    except EOFError as e:  # the compressed stream stops before its end: cut short
        cut, first = True, str(e)
    except _GZIP_ERRORS as e:
        if isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        cut, first = False, str(e) or type(e).__name__
    data, why, junk = _salvage_gzip(path, max_bytes)
    if not (cut or junk):
        raise _corrupt(path, first)
    return data, f"compressed data damaged after {len(data)} readable bytes ({why or first})"


def _corrupt(path: Path, why: str) -> CaptureError:
    return CaptureError(f"{path.name}: the compressed data is corrupt ({why}); remove or repair this segment")


def _bounded(path: Path, data: bytes | bytearray, max_bytes: int) -> bytes:
    if len(data) > max_bytes:
        raise CaptureError(f"{path.name}: more than {max_bytes} bytes (raise max_bytes)")
    return bytes(data)


def _salvage_gzip(path: Path, max_bytes: int) -> tuple[bytes, str, bool]:
    """What a damaged gzip file decompresses to, why it stopped, and whether that was only
    bytes after the last whole member that are not gzip (the slow path of a rare case: the
    standard library's incremental decompressor, fed 4 KiB at a time).

    A file cut short (copied in part) gives every byte before the cut: deflate decodes them
    exactly. An error inside a member raises :class:`CaptureError`: deflate has no check
    before a member's end, so the bytes decoded before the error may already be wrong."""
    raw = memoryview(path.read_bytes())
    out = bytearray()
    pos = members = 0
    while pos < len(raw):
        d = zlib.decompressobj(wbits=31)  # one gzip member
        at = pos
        try:
            while at < len(raw) and not d.eof:
                out += d.decompress(raw[at:at + 4096], max_bytes + 1 - len(out))
                if len(out) > max_bytes:
                    _bounded(path, out, max_bytes)  # raises
                at += 4096
        except zlib.error as e:
            if members and at == pos:
                return bytes(out), f"{len(raw) - pos} bytes after the last gzip member are not gzip ({e})", True
            raise _corrupt(path, str(e)) from None
        if not d.eof:
            return bytes(out), "the compressed stream ends early", False
        members += 1
        pos = min(at, len(raw)) - len(d.unused_data)  # the next member, if any, starts here
    return bytes(out), "", False  # every member decoded: the gzip reader's own complaint says why


def salvage_segment(path: Path, damaged: list[str], *, max_bytes: int = 1 << 30) -> bytes:
    """:func:`read_segment` for a reader that goes on: a damaged segment's name is appended to
    ``damaged`` and logged at WARNING, and its readable beginning returned."""
    data, damage = read_segment(path, max_bytes=max_bytes)
    if damage is not None:
        damaged.append(path.name)
        log.warning("capture %s: %s; only that part is read", path.name, damage)
    return data


class CaptureReader:
    """Iterate the records of one or more captures, in order (see :func:`read_capture`).

    ``truncated`` counts the bytes of partial records skipped at segment ends (a crash);
    ``damaged`` names the compressed segments that were cut short, of which only the readable
    beginning was read (docs/capture.md).
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]], *, max_segment_bytes: int = 1 << 30) -> None:
        self.paths: list[Path] = segments(paths)
        self.max_segment_bytes = max_segment_bytes
        self.truncated: int = 0
        self.damaged: list[str] = []

    def __iter__(self) -> Iterator[Record]:
        for path in self.paths:
            yield from self._segment(path)

    def _segment(self, path: Path) -> Iterator[Record]:
        data = salvage_segment(path, self.damaged, max_bytes=self.max_segment_bytes)
        if not data and self.damaged[-1:] == [path.name]:
            return  # nothing of it was readable (named in damaged)
        batch = decode_batch(data)
        if batch.consumed < len(data):
            self.truncated += len(data) - batch.consumed
            log.warning("capture %s: %d bytes of a partial record at the end skipped",
                        path.name, len(data) - batch.consumed)
        types = batch.types.tolist()
        if not types or types[0] != FILE:
            raise CaptureError(f"{path.name} is not an lguapi capture")
        header = load_json_record(batch, 0, path)
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise CaptureError(f"{path.name}: unsupported capture {header.get('format')!r} "
                               f"version {header.get('version')!r}")
        i, n = 1, len(types)
        while i < n:
            t = types[i]
            if t in (RX, TX):
                if i + 1 >= n:  # a meta record whose frame was cut off: part of the torn tail
                    self.truncated += 4 + len(batch.body(i))
                    break
                meta = batch.body(i)
                if len(meta) != _META.size:
                    raise _bad_meta(path.name, i)
                ts, conn = _META.unpack(meta)
                if not math.isfinite(ts):
                    raise _bad_time(path.name, i, ts)
                yield Record("rx" if t == RX else "tx", conn, ts, types[i + 1], bytes(batch.body(i + 1)))
                i += 2
                continue
            kind = {OPEN: "open", CLOSE: "close", EVENT: "event", FILE: "file"}.get(t)
            if kind is None:
                raise CaptureError(f"{path.name}: unknown record type 0x{t:04x} at frame {i}")
            if kind != "file":
                info, conn, ts = record_fields(batch, i, path)
                if kind == "open":
                    check_open(info, i, path)
                yield Record(kind, conn, ts, info=info)  # type: ignore[arg-type]  # (need_ts: a float)
            i += 1


@dataclass(frozen=True, slots=True)
class SegmentIndex:
    """Where the records of one decoded segment are, found with numpy (no Python step per frame).

    ``received``: frame indices of the RX records whose frame is text (one event each), in
    order; ``records``: frame indices of every other record that is not a frame's
    companion -- the JSON bookkeeping (OPEN, CLOSE, EVENT) and whatever unknown type a
    reader must refuse -- in order, the segment's FILE header excepted; ``cut``: the bytes of
    an RX/TX record left at the very end without its frame (a crash cut the segment between
    the two), counted with the torn tail.
    """

    received: np.ndarray
    records: np.ndarray
    cut: int = 0


def index_segment(frames: FrameBatch) -> SegmentIndex:
    """Index a segment's frames the way a record-by-record scan would pair them.

    Each RX/TX record owns the frame after it, even one whose type looks like a record
    (a run of them pairs up from its first); a record cut off with its frame at the end
    of the segment owns nothing.
    """
    types = frames.types
    n = len(types)
    pos = np.arange(n)
    meta = (types == RX) | (types == TX)
    meta[:1] = False  # the FILE header
    run_start = np.maximum.accumulate(np.where(meta & ~np.concatenate(([False], meta[:-1])), pos, 0))
    meta &= (pos - run_start) % 2 == 0
    owned = np.concatenate(([False], meta[:-1]))
    records = np.flatnonzero(~(meta | owned))[1:]
    rx = np.flatnonzero(meta & (types == RX))
    rx = rx[rx + 1 < n]
    cut = 4 + int(frames.lengths[n - 1]) if n and meta[n - 1] else 0
    return SegmentIndex(rx[types[rx + 1] == TEXT], records, cut)


def received_columns(frames: FrameBatch, received: np.ndarray,
                     path: Path | None = None) -> tuple[list[float], list[int], list[int], list[int]]:
    """For the RX records at frame indices ``received``: their times, connections, and the
    start and end offsets of their frames' bodies in ``frames.buffer`` (as lists)."""
    ts, conn, starts, ends = received_arrays(frames, received, path)
    return ts.tolist(), conn.tolist(), starts.tolist(), ends.tolist()


def received_arrays(frames: FrameBatch, received: np.ndarray,
                    path: Path | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`received_columns` as contiguous numpy columns: ``float64`` times, ``int64``
    connections, starts and ends (what :func:`lgucore.batch.build_events` reads)."""
    offsets = frames.offsets[received]
    if np.any(frames.lengths[received] != _META.size):
        bad = int(received[np.flatnonzero(frames.lengths[received] != _META.size)[0]])
        raise _bad_meta(path.name if path is not None else "capture", bad)
    raw = np.frombuffer(frames.buffer, np.uint8)[offsets[:, None] + np.arange(_META.size)]
    meta = raw.view(_META_DTYPE).reshape(-1)
    starts = frames.offsets[received + 1]
    ends = starts + frames.lengths[received + 1]
    ts = meta["ts"].astype(np.float64)
    finite = np.isfinite(ts)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise _bad_time(path.name if path is not None else "capture", int(received[bad]), float(ts[bad]))
    return (ts, meta["conn"].astype(np.int64),
            np.ascontiguousarray(starts, np.int64), np.ascontiguousarray(ends, np.int64))


def load_json_record(batch: Any, i: int, path: Path | None) -> dict[str, Any]:
    """The JSON object in body ``i`` of a segment's frame batch (``CaptureError`` if it is not one)."""
    where = path.name if path is not None else "capture"
    try:
        obj = json.loads(bytes(batch.body(i)))
    except ValueError as e:
        raise CaptureError(f"{where}: record {i} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise CaptureError(f"{where}: record {i} is not a JSON object")
    return obj


def record_fields(batch: Any, i: int, path: Path | None, *,
                  need_ts: bool = True) -> tuple[dict[str, Any], int, float | None]:
    """An OPEN, CLOSE or EVENT record at body ``i``: its JSON object, connection id and time
    (``CaptureError`` when the id is not an integer, or the time is not a finite number --
    or is missing and ``need_ts``; None then)."""
    info = load_json_record(batch, i, path)
    conn, ts = info.get("conn"), info.get("ts")
    bad_ts = (ts is not None or need_ts) and not is_time(ts)
    if type(conn) is not int or bad_ts:
        where = path.name if path is not None else "capture"
        raise CaptureError(f"{where}: record {i} has no valid connection and time (conn={conn!r}, ts={ts!r})")
    return info, conn, None if ts is None else float(ts)


def check_open(info: dict[str, Any], i: int, path: Path | None) -> dict[str, Any]:
    """An OPEN record's JSON object, its login and extension checked to be strings (or absent)
    and its charset one Python can decode with (or absent: cp949); ``CaptureError`` naming the
    record otherwise -- a capture from elsewhere is input, and a bad field would only fail later,
    without saying where."""
    where = path.name if path is not None else "capture"
    for key in ("login", "exten"):
        value = info.get(key)
        if value is not None and not isinstance(value, str):
            raise CaptureError(f"{where}: record {i} (OPEN of connection {info.get('conn')!r}): {key} is not a "
                               f"string ({value!r})")
    charset = info.get("charset")
    if charset is not None and not (isinstance(charset, str) and _known_charset(charset)):  # what build_events takes
        raise CaptureError(f"{where}: record {i} (OPEN of connection {info.get('conn')!r}): unknown charset "
                           f"{charset!r}")
    return info


def _known_charset(name: str) -> bool:
    """Does lgucore decode with ``name`` (its own check, the one ``build_events`` makes, cached there)?"""
    try:
        tokenize(b"", charset=name)
    except ValueError:
        return False
    return True


def is_time(value: object) -> bool:
    """Is ``value`` a time a capture may hold: an int or float (not a bool) that is finite?"""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _bad_meta(where: str, i: int) -> CaptureError:
    return CaptureError(f"{where}: record {i} is not a {_META.size}-byte time and connection")


def _bad_time(where: str, i: int, ts: float) -> CaptureError:
    return CaptureError(f"{where}: record {i} has a time that is not a finite number ({ts!r})")


def read_capture(*paths: str | os.PathLike[str]) -> CaptureReader:
    """Every record of the captures at ``paths`` (files or directories), oldest first."""
    return CaptureReader(paths)

