"""Damaged captures: a clear error or a counted loss, never a raw exception, a hang or a silent drop.

Compressed segments copied in part (or hit by a disk error) are read up to the damage and
named; a time that is not a number, or a bookkeeping record without its connection, is
refused with the segment and record named. Both readers -- :class:`CaptureReader` (and so
``serve --replay``) and :func:`replay` -- agree on what they read and count.
"""
from __future__ import annotations

import asyncio
import gzip
import json
import os
import struct
import subprocess
import sys

import pytest

from lguapi.capture import (
    EVENT, OPEN, RX, CaptureError, CaptureReader, CaptureWriter, index_segment, load_segment, read_segment, segments,
)
from lguapi.replay import replay
from lgucore import decode_batch

CALLS = 40


def _capture(directory, calls: int = CALLS):
    """One connection's ``calls`` rung and hung-up calls; the segment's path."""
    directory.mkdir(exist_ok=True)
    with CaptureWriter(directory) as w:
        c = w.open_connection(address="h:1", login="07012343001", exten="3001", cipher="seed", ts=1.0)
        for i in range(calls):
            w.received(c, 1, (f"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3001-{i:08x}|RECHANNEL:SIP/gw2.x-{i:08x}"
                              f"|CALLERID:0101234{i:04d}|UNIQUEID:17.{i}").encode(), ts=2.0 + i)
            w.received(c, 1, (f"CHANNELOUT|CHANNEL:SIP/3001-{i:08x}|RECHANNEL:SIP/gw2.x-{i:08x}"
                              f"|UNIQUEID:17.{i}|SRCUNIQUEID:17.{i}|HCAUSE:16").encode(), ts=2.5 + i)
    return segments([directory])[0]


def _both(directory):
    """What each reader makes of ``directory``: (reader, its rx records) and replay's result."""
    reader = CaptureReader([directory])
    rx = [r for r in reader if r.kind == "rx"]
    return reader, rx, asyncio.run(replay([directory]))


def _gzipped(seg, data: bytes):
    gz = seg.with_name(seg.name + ".gz")
    gz.write_bytes(data)
    seg.unlink()
    return gz


@pytest.mark.parametrize("damage", ["cut", "trailing garbage"])
def test_a_damaged_compressed_segment_is_read_up_to_the_damage_and_named(tmp_path, damage):
    seg = _capture(tmp_path / "c")
    plain = seg.read_bytes()
    packed = gzip.compress(plain)
    packed = packed[:len(packed) * 2 // 3] if damage == "cut" else packed + b"not a gzip member"
    gz = _gzipped(seg, packed)
    with pytest.raises(CaptureError, match=f"{gz.name}: compressed data damaged after"):
        load_segment(gz)
    data, why = read_segment(gz)
    assert why is not None and plain.startswith(data)
    if damage == "trailing garbage":
        assert data == plain and "not gzip" in why  # every member decoded: nothing lost
    reader, rx, result = _both(tmp_path / "c")
    assert reader.damaged == [gz.name] and result.damaged == [gz.name]
    assert len(rx) == result.events and 0 < result.events <= 2 * CALLS
    # what was not read is counted: the partial record at the end of the readable part
    frames = decode_batch(data)
    assert reader.truncated == result.truncated == len(data) - frames.consumed + index_segment(frames).cut


@pytest.mark.parametrize("where", [0, 10, -8])
def test_corrupt_compressed_data_is_refused_with_the_segment_named(tmp_path, where):
    seg = _capture(tmp_path / "c")
    packed = bytearray(gzip.compress(seg.read_bytes()))
    packed[where] ^= 0xFF  # the magic number, the deflate stream, the CRC of the text
    gz = _gzipped(seg, bytes(packed))
    for read in (load_segment, read_segment, lambda p: list(CaptureReader([p])),
                 lambda p: asyncio.run(replay([p]))):
        with pytest.raises(CaptureError, match=f"{gz.name}: the compressed data is corrupt"):
            read(gz)


def test_a_cut_segment_keeps_every_whole_record_before_the_cut(tmp_path):
    seg = _capture(tmp_path / "c")
    plain = seg.read_bytes()
    gz = _gzipped(seg, gzip.compress(plain)[:-8])  # only the trailer (CRC, size) is missing
    data, why = read_segment(gz)
    assert data == plain and "ends early" in why
    reader, rx, result = _both(tmp_path / "c")
    assert len(rx) == result.events == 2 * CALLS and result.calls == CALLS
    assert reader.truncated == result.truncated == 0 and result.damaged == [gz.name]


def test_a_segment_cut_inside_its_gzip_header_is_skipped_and_named_and_the_others_read(tmp_path):
    seg = _capture(tmp_path / "c", calls=3)
    cut = tmp_path / "c" / "capture-20000101T000000-1-000000.lgcap.gz"  # sorts first
    cut.write_bytes(gzip.compress(seg.read_bytes())[:6])
    reader, rx, result = _both(tmp_path / "c")
    assert reader.damaged == result.damaged == [cut.name]
    assert len(rx) == result.events == 6 and result.segments == 2


def test_the_salvage_is_bounded_by_max_bytes(tmp_path):
    seg = _capture(tmp_path / "c")
    gz = _gzipped(seg, gzip.compress(seg.read_bytes())[:-20])
    with pytest.raises(CaptureError, match="more than 100 bytes"):
        read_segment(gz, max_bytes=100)


def test_missing_files_are_not_taken_for_damage(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_segment(tmp_path / "gone.lgcap.gz")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_time_that_is_not_a_number_is_refused_by_both_readers(tmp_path, bad):
    seg = _capture(tmp_path / "c", calls=2)
    data = bytearray(seg.read_bytes())
    at = data.find(struct.pack(">HH", RX, 12))
    data[at + 4:at + 12] = struct.pack(">d", bad)
    seg.write_bytes(bytes(data))
    with pytest.raises(CaptureError, match=rf"{seg.name}: record 2 has a time that is not a finite number"):
        list(CaptureReader([seg]))
    with pytest.raises(CaptureError, match=rf"{seg.name}: record 2 has a time that is not a finite number"):
        asyncio.run(replay([seg]))


@pytest.mark.parametrize("size", [0, 11, 13])
def test_a_time_record_of_the_wrong_size_is_refused_by_both_readers(tmp_path, size):
    """Found by fuzz_capture: CaptureReader unpacked it as it was (a struct.error)."""
    seg = _capture(tmp_path / "c", calls=1)
    n = len(decode_batch(seg.read_bytes()))
    body = b"RINGEVENT|UNIQUEID:1"
    with open(seg, "ab") as f:
        f.write(struct.pack(">HH", RX, size) + bytes(size) + struct.pack(">HH", 1, len(body)) + body)
    with pytest.raises(CaptureError, match=rf"{seg.name}: record {n} is not a 12-byte time and connection"):
        list(CaptureReader([seg]))
    with pytest.raises(CaptureError, match=rf"{seg.name}: record {n} is not a 12-byte time and connection"):
        asyncio.run(replay([seg]))


def _with_record(tmp_path, kind: int, obj) -> tuple[os.PathLike, int]:
    """A capture with one more record at its end; the segment and that record's number."""
    seg = _capture(tmp_path / "c", calls=1)
    number = len(decode_batch(seg.read_bytes()))
    body = json.dumps(obj).encode()
    with open(seg, "ab") as f:
        f.write(struct.pack(">HH", kind, len(body)) + body)
    return seg, number


@pytest.mark.parametrize("obj, message, replay_message", [
    ({"ts": 5.0, "event": {"event": "Disconnected"}}, "no valid connection and time", None),
    ({"conn": "1", "ts": 5.0}, "no valid connection and time", None),
    ({"conn": 1, "ts": float("nan"), "event": {"event": "Disconnected"}}, "no valid connection and time", None),
    # replay needs no time of an OPEN or CLOSE, only of an event (its own, else the record's)
    ({"conn": 1, "event": {"event": "Disconnected"}}, "no valid connection and time", "an event without a time"),
])
def test_a_record_without_its_connection_or_time_is_refused(tmp_path, obj, message, replay_message):
    seg, n = _with_record(tmp_path, EVENT, obj)
    with pytest.raises(CaptureError, match=rf"{seg.name}: record {n}\b.*{message}"):
        list(CaptureReader([seg]))
    with pytest.raises(CaptureError, match=rf"{seg.name}: record {n}\b.*{replay_message or message}"):
        asyncio.run(replay([seg]))


@pytest.mark.parametrize("event, message", [
    (None, "holds no event"),
    ({"event": "Disconnected", "ts": "soon"}, "not a finite number"),
    ({"event": "Reconciled", "statuses": 7}, "malformed Reconciled event"),
    ({"event": "NoSuchEvent"}, "unknown connection event"),
    # found by mutating captures: each of these reached the tracker or a sink and failed there
    ({"event": "Disconnected", "exten": ["3001"]}, r"malformed Disconnected event.*exten is \['3001'\], not str"),
    ({"event": "Disconnected", "deliberate": "yes"}, "deliberate is 'yes', not bool"),
    ({"event": "Reconnecting", "attempt": True}, "attempt is True, not int"),
    ({"event": "Reconnecting", "attempt": 2 ** 70}, "attempt is 1180591620717411303424, beyond 64 bits"),
    ({"event": "Reconnected", "downtime": "long"}, "downtime is 'long', not a finite number"),
    ({"event": "Reconciled", "statuses": [["3001", "ringing"]]}, r"statuses holds \['3001', 'ringing'\]"),
    ({"event": "Connected", "address": {"host": "h"}}, "address is {'host': 'h'}, not str"),
])
def test_a_malformed_connection_event_is_refused_by_replay(tmp_path, event, message):
    seg, n = _with_record(tmp_path, EVENT, {"conn": 1, "ts": 5.0, "event": event})
    with pytest.raises(CaptureError, match=rf"{seg.name}: record {n}\b.*{message}"):
        asyncio.run(replay([seg]))


@pytest.mark.parametrize("field, value, message", [
    ("charset", "cp9O9", "unknown charset 'cp9O9'"),
    ("charset", 949, "unknown charset 949"),
    ("charset", ["cp949"], r"unknown charset \['cp949'\]"),
    ("exten", 3002, r"exten is not a string \(3002\)"),
    ("login", ["07012343002"], "login is not a string"),
])
def test_an_open_record_with_a_field_that_cannot_be_used_is_refused_by_both_readers(tmp_path, field, value, message):
    """Found by mutating captures: an unknown charset failed only when the connection's first
    frame was decoded, as a ValueError naming neither the segment nor the record."""
    info = {"conn": 2, "ts": 5.0, "address": "h:1", "login": "07012343002", "exten": "3002", "cipher": "seed",
            "charset": "cp949", field: value}
    seg, n = _with_record(tmp_path, OPEN, info)
    body = b"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3002-1|RECHANNEL:SIP/gw-1|UNIQUEID:17.99"
    with open(seg, "ab") as f:  # and a frame on that connection
        f.write(struct.pack(">HH", RX, 12) + struct.pack(">dI", 6.0, 2) + struct.pack(">HH", 1, len(body)) + body)
    pattern = rf"{seg.name}: record {n} \(OPEN of connection 2\): {message}"
    with pytest.raises(CaptureError, match=pattern):
        list(CaptureReader([seg]))
    with pytest.raises(CaptureError, match=pattern):
        asyncio.run(replay([seg]))


def test_connection_events_are_rebuilt_with_their_declared_types(tmp_path):
    seg, _ = _with_record(tmp_path, EVENT, {"conn": 1, "ts": 5, "event": {
        "event": "Reconnected", "downtime": 3, "gap_possible": True, "exten": None, "unknown": [1]}})
    seen = []
    asyncio.run(replay([seg], on_event=seen.append))
    ev = seen[-1]
    assert type(ev).__name__ == "Reconnected" and ev.ts == 5.0 and type(ev.ts) is float
    assert ev.downtime == 3.0 and type(ev.downtime) is float and ev.gap_possible is True
    (tmp_path / "r").mkdir()
    seg, _ = _with_record(tmp_path / "r", EVENT, {"conn": 1, "ts": 6.0, "event": {
        "event": "Reconciled", "statuses": [["3001", "ringing", None], ["3002", None, "c-1"]]}})
    seen = []
    asyncio.run(replay([seg], on_event=seen.append))
    assert seen[-1].statuses == (("3001", "ringing", None), ("3002", None, "c-1"))


def test_an_event_record_without_its_own_time_takes_the_records(tmp_path):
    seg, _ = _with_record(tmp_path, EVENT, {"conn": 1, "ts": 7.5, "event": {"event": "Disconnected", "reason": "x"}})
    seen = []
    asyncio.run(replay([seg], on_event=seen.append))
    assert type(seen[-1]).__name__ == "Disconnected" and seen[-1].ts == 7.5


def test_a_cut_between_a_time_record_and_its_frame_counts_the_same_in_both_readers(tmp_path):
    seg = _capture(tmp_path / "c", calls=2)
    data = seg.read_bytes()
    at = data.rfind(struct.pack(">HH", RX, 12))
    seg.write_bytes(data[:at + 16])  # the last RX record whole, its frame gone
    reader, rx, result = _both(tmp_path / "c")
    assert len(rx) == result.events == 3
    assert reader.truncated == result.truncated == 16


def test_the_cli_names_damaged_segments(tmp_path):
    seg = _capture(tmp_path / "c", calls=3)
    gz = _gzipped(seg, gzip.compress(seg.read_bytes())[:-30])
    out = subprocess.run([sys.executable, "-m", "lguapi", "replay", str(tmp_path / "c")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"note: {gz.name} is damaged" in out.stdout
    out = subprocess.run([sys.executable, "-m", "lguapi", "replay", "--json", str(tmp_path / "c")],
                         capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout)["damaged_segments"] == [gz.name]


def test_a_directory_without_segments_is_no_capture(tmp_path):
    (tmp_path / "notes.txt").write_text("not a segment")
    with pytest.raises(CaptureError, match="no capture segments"):
        segments([tmp_path])
    out = subprocess.run([sys.executable, "-m", "lguapi", "replay", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no capture segments" in out.stderr, out


def test_the_cli_refuses_an_unusable_sqlite_sink_with_its_name(tmp_path):
    _capture(tmp_path / "c", calls=1)
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not an SQLite database " * 200)
    out = subprocess.run([sys.executable, "-m", "lguapi", "replay", str(tmp_path / "c"), "--sink", f"sqlite:{bad}"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out
    assert f"bad --sink: {bad}: cannot use it as an SQLite database (file is not a database)" in out.stderr
    assert "Traceback" not in out.stderr
