"""Capture files: round trip, password redaction, rotation, compression, crash tails."""
from __future__ import annotations

import gzip
import os

import pytest

from lguapi.capture import (
    CLOSE, FILE, CaptureError, CaptureReader, CaptureWriter, read_capture, redact_login, segments,
)


def _records(path):
    return list(read_capture(path))


def test_round_trip_keeps_order_time_connection_and_bytes(tmp_path):
    with CaptureWriter(tmp_path) as w:
        a = w.open_connection(address="127.0.0.1:8086", login="07012343001", cipher="seed", ts=10.0)
        b = w.open_connection(address="127.0.0.1:8086", login="07012343002", cipher="basic", ts=10.5)
        w.received(a, 1, "RINGEVENT|ISDIAL:0|CALLERID:01012345678|MSG:안녕".encode("cp949"), ts=11.25)
        w.sent(b, 1, b"CMD ANSWER AGENT=3002 CHANNEL=SIP/3002-0001", ts=12.0)
        w.received(b, 0x11, b"", ts=12.5)
        w.event(a, {"event": "Disconnected", "reason": "x"}, ts=13.0)
        w.close_connection(a, "bye", ts=14.0)
    recs = _records(tmp_path)
    assert [(r.kind, r.conn, r.ts) for r in recs] == [
        ("open", a, 10.0), ("open", b, 10.5), ("rx", a, 11.25), ("tx", b, 12.0), ("rx", b, 12.5),
        ("event", a, 13.0), ("close", a, 14.0),
    ]
    assert recs[2].body.decode("cp949").endswith("MSG:안녕")
    assert recs[4].ftype == 0x11 and recs[4].body == b""
    assert recs[1].info["cipher"] == "basic" and recs[1].info["login"] == "07012343002"
    assert recs[6].info["reason"] == "bye"


@pytest.mark.parametrize("text, expected", [
    (b"CMD LOGIN ID=0701 PWD=hunter2 ", b"CMD LOGIN ID=0701 PWD=*** "),
    (b"CMD LOGIN ID=0701 PWD=", b"CMD LOGIN ID=0701 PWD=***"),
    (b"CMD|LOGIN|0701|hunter2|x", b"CMD|LOGIN|0701|***|x"),
    (b"CMD HANGUP AGENT=3001 CHANNEL=PWD=1", b"CMD HANGUP AGENT=3001 CHANNEL=PWD=1"),
    (b"LOGINRESULT|STATUS:1", b"LOGINRESULT|STATUS:1"),
])
def test_login_passwords_never_reach_the_file(text, expected):
    assert redact_login(text) == expected


def test_the_password_is_not_in_any_byte_on_disk(tmp_path):
    with CaptureWriter(tmp_path) as w:
        c = w.open_connection(address="h:1", login="0701")
        w.sent(c, 1, b"CMD LOGIN ID=0701 PWD=s3cr3t-pw ")
    for f in tmp_path.iterdir():
        assert b"s3cr3t-pw" not in f.read_bytes()


def test_rotation_compresses_old_segments_and_restates_open_connections(tmp_path):
    body = b"CHANNELLIST|CHANNEL1:SIP/3001-00000001|" + b"X" * 1000
    with CaptureWriter(tmp_path, max_segment_bytes=1 << 16, buffer_bytes=4096) as w:
        c = w.open_connection(address="h:1", login="0701", exten="3001")
        for i in range(300):
            w.received(c, 1, body, ts=float(i))
    segs = segments([tmp_path])
    assert len(segs) >= 4
    assert all(s.name.endswith(".lgcap.gz") for s in segs[:-1]) and segs[-1].name.endswith(".lgcap")
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    # each segment is readable on its own: it restates the open connection
    for s in segs:
        recs = list(CaptureReader([s]))
        assert recs[0].kind == "open" and recs[0].info["exten"] == "3001"
    rx = [r for r in _records(tmp_path) if r.kind == "rx"]
    assert [r.ts for r in rx] == [float(i) for i in range(300)]
    raw = sum(os.path.getsize(s) for s in segs[:-1])
    unpacked = sum(len(gzip.decompress(s.read_bytes())) for s in segs[:-1])
    assert raw * 10 < unpacked  # repetitive telephony text compresses well


def test_max_segments_keeps_the_newest(tmp_path):
    with CaptureWriter(tmp_path, max_segment_bytes=1 << 16, buffer_bytes=4096, max_segments=2,
                       compress=False) as w:
        c = w.open_connection(address="h:1")
        for i in range(400):
            w.received(c, 1, b"A" * 1000, ts=float(i))
    segs = segments([tmp_path])
    assert len(segs) == 2
    ts = [r.ts for r in _records(tmp_path) if r.kind == "rx"]
    assert ts == sorted(ts) and ts[-1] == 399.0 and ts[0] > 0


def test_a_torn_tail_is_skipped_and_counted(tmp_path):
    w = CaptureWriter(tmp_path)
    c = w.open_connection(address="h:1")
    w.received(c, 1, b"RINGEVENT|ISDIAL:0", ts=1.0)
    w.received(c, 1, b"CHANNELOUT|HCAUSE:16", ts=2.0)
    w.close()
    seg = segments([tmp_path])[0]
    data = seg.read_bytes()
    seg.write_bytes(data[:-5])  # a crash in the middle of the last record
    reader = CaptureReader([tmp_path])
    recs = [r for r in reader if r.kind == "rx"]
    assert [r.body for r in recs] == [b"RINGEVENT|ISDIAL:0"]
    assert reader.truncated > 0


def test_a_plain_and_a_compressed_copy_of_one_segment_read_once(tmp_path):
    with CaptureWriter(tmp_path) as w:
        c = w.open_connection(address="h:1")
        w.received(c, 1, b"PING", ts=1.0)
    seg = segments([tmp_path])[0]
    seg.with_name(seg.name + ".gz").write_bytes(b"partial gzip from a crash")
    assert [r.body for r in _records(tmp_path) if r.kind == "rx"] == [b"PING"]


def test_not_a_capture(tmp_path):
    f = tmp_path / "x.lgcap"
    f.write_bytes(b"\x00\x01\x00\x04PING")
    with pytest.raises(CaptureError, match="not an lguapi capture"):
        _records(f)
    with pytest.raises(CaptureError, match="no capture"):
        _records(tmp_path / "missing")


def test_unknown_version_is_refused(tmp_path):
    import json
    import struct

    body = json.dumps({"format": "lguapi-capture", "version": 99}).encode()
    f = tmp_path / "v.lgcap"
    f.write_bytes(struct.pack(">HH", FILE, len(body)) + body)
    with pytest.raises(CaptureError, match="version 99"):
        _records(f)


def test_bad_options_and_oversized_frames(tmp_path):
    with pytest.raises(ValueError, match="max_segment_bytes"):
        CaptureWriter(tmp_path, max_segment_bytes=10)
    with pytest.raises(ValueError, match="max_segments"):
        CaptureWriter(tmp_path, max_segments=0)
    with pytest.raises(ValueError, match="prefix"):
        CaptureWriter(tmp_path, prefix="../x")
    with CaptureWriter(tmp_path) as w:
        with pytest.raises(CaptureError, match="cannot be captured"):
            w.received(1, 1, b"x" * 70000)
    with pytest.raises(CaptureError, match="closed"):
        w.received(1, 1, b"x")


def test_close_records_are_written_once(tmp_path):
    with CaptureWriter(tmp_path) as w:
        c = w.open_connection(address="h:1")
        w.close_connection(c, "one")
        w.close_connection(c, "two")
    assert [r.info["reason"] for r in _records(tmp_path) if r.kind == "close"] == ["one"]
    assert CLOSE == 0x4C02
