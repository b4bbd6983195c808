"""Replay's batch reader gives the events a record-by-record reading gives, at any batch size;
a segment's index pairs records as a scan would; bad records get a clear error."""
from __future__ import annotations

import gc
import struct

import pytest

from lgucore import TEXT, tokenize
from lgucore.batch import decode_batch
from lguapi import events as E
from lguapi.capture import CaptureError, CaptureWriter, RX, TX, index_segment, read_capture, segments
from lguapi.replay import rebuild_event, replay

RING = b"RINGEVENT|ISDIAL:0|CHANNEL:SIP/%s-0001|RECHANNEL:SIP/gw-0002|INEXTEN:null|AGENT:%s|CALLERID:0101234%s|UNIQUEID:17000.%d"
OUT = b"CHANNELOUT|CHANNEL:SIP/%s-0001|RECHANNEL:null|UNIQUEID:17000.%d|HCAUSE:16"


def _capture(directory) -> None:
    """Three connections, text and heartbeats and sent frames interleaved with bookkeeping:
    a login answer, connection events, an extension learned later, a close, a cp949 text."""
    with CaptureWriter(directory, compress=False) as w:
        a = w.open_connection(address="h:1", login="0701", exten="3001", ts=1.0)
        b = w.open_connection(address="h:1", login="0702", ts=1.0)
        w.received(b, TEXT, b"LOGINRESULT|STATUS:1|EXTEN:3002|MSG:3002,ok", ts=1.1)
        w.event(b, {"event": "LoggedIn", "ts": 1.1, "exten": "3002", "name": "", "raw": ""}, ts=1.1)
        w.set_exten(b, "3002")
        ts = 2.0
        for i in range(40):
            for c, ext in ((a, b"3001"), (b, b"3002")):
                ts += 0.5
                w.received(c, TEXT, RING % (ext, ext, ext, i), ts=ts)
                w.sent(c, TEXT, b"CMD|PONG", ts=ts)
                w.received(c, 0x10, b"", ts=ts)
                w.received(c, TEXT, OUT % (ext, i), ts=ts + 0.001)
            if i == 17:
                c3 = w.open_connection(address="h:1", login="0703", exten="3003", charset="cp949", ts=ts)
                w.received(c3, TEXT, "RECVPEERMSG|FROM:3001|MSG:안녕".encode("cp949"), ts=ts)
                w.event(c3, {"event": "Disconnected", "ts": ts, "exten": "3003", "name": "", "raw": "",
                             "reason": "bye"}, ts=ts)
                w.close_connection(c3, "bye", ts=ts)


def _reference(directory) -> list[E.Event]:
    """The events as a record-by-record reading of the capture rebuilds them."""
    conns: dict[int, dict] = {}
    out: list[E.Event] = []
    for r in read_capture(directory):
        if r.kind == "open":
            conns.setdefault(r.conn, {"login": None})["exten"] = r.info["exten"]
            conns[r.conn]["charset"] = r.info["charset"]
        elif r.kind == "close":
            conns.pop(r.conn)
        elif r.kind == "event":
            out.append(rebuild_event(r.info["event"], conns[r.conn]["login"]))
        elif r.kind == "rx" and r.ftype == TEXT:
            c = conns[r.conn]
            text = r.body.decode("ascii") if r.body.isascii() else r.body.decode(c["charset"], "replace")
            ev = E.parse_event(tokenize(r.body, charset=c["charset"]), exten=c["exten"], ts=r.ts, raw=text)
            if isinstance(ev, E.LoginResultEvent):
                ev = c["login"] = E.with_login_exten(ev)
            out.append(ev)
    return out


def _fields(ev: E.Event) -> tuple:
    return type(ev), ev.to_dict(), ev.exten, ev.ts


@pytest.mark.parametrize("batch", [1, 3, 7, 10_000])
async def test_every_batch_size_rebuilds_the_record_by_record_events(tmp_path, batch):
    _capture(tmp_path)
    seen: list[E.Event] = []
    updates: list[tuple] = []
    result = await replay([tmp_path], batch=batch, on_event=seen.append,
                          on_update=lambda u: updates.append((u.kind, u.call.id, u.state, u.event)))
    whole: list[tuple] = []
    await replay([tmp_path], on_update=lambda u: whole.append((u.kind, u.call.id, u.state, u.event)))
    assert updates == whole and any(u[0] == "ended" for u in updates)
    want = _reference(tmp_path)
    assert len(want) == 2 + 40 * 4 + 2
    assert [_fields(e) for e in seen] == [_fields(e) for e in want]
    assert result.events == len(want) and result.connections == 3
    logged = next(e for e in seen if isinstance(e, E.LoggedIn))
    assert logged.result is not None and logged.result.exten == "3002"
    assert any(e.raw.endswith("MSG:안녕") for e in seen)


async def test_the_collector_is_paused_only_inside_a_batch(tmp_path):
    _capture(tmp_path)
    states: list[bool] = []
    await replay([tmp_path], batch=5, on_event=lambda ev: states.append(gc.isenabled()))
    assert states and not any(states) and gc.isenabled()
    states.clear()
    await replay([tmp_path], batch=5, pause_gc=False, on_event=lambda ev: states.append(gc.isenabled()))
    assert all(states)
    gc.disable()
    try:  # a collector the caller turned off stays off
        await replay([tmp_path], batch=5)
        assert not gc.isenabled()
    finally:
        gc.enable()


def _frames(*pairs: tuple[int, bytes]) -> bytes:
    return b"".join(struct.pack(">HH", t, len(b)) + b for t, b in pairs)


def test_the_index_pairs_records_as_a_scan_would():
    meta = struct.pack(">dI", 1.0, 1)
    header = (0x4C00, b"{}")
    data = _frames(header, (RX, meta), (RX, meta), (RX, meta), (TEXT, b"PING"), (TX, meta), (TEXT, b"x"),
                   (0x4C02, b"{}"), (RX, meta), (TEXT, b"PING"), (RX, meta))
    index = index_segment(decode_batch(data))
    # frame 2 is frame 1's (an RX-looking frame), frame 3 owns frame 4; the last RX lost its frame
    assert index.received.tolist() == [3, 8]
    assert index.records.tolist() == [7]


async def test_bad_records_get_a_clear_error(tmp_path):
    meta = struct.pack(">dI", 1.0, 1)
    header = (0x4C00, b'{"format":"lguapi-capture","version":1}')
    cases = {
        "short.lgcap": (_frames(header, (0x4C01, b'{"conn":1}'), (RX, meta[:8]), (TEXT, b"PING")), "12-byte"),
        "unknown.lgcap": (_frames(header, (0x4C01, b'{"conn":1}'), (0x4C7F, b"{}")), "unknown record type"),
        "orphan.lgcap": (_frames(header, (RX, meta), (TEXT, b"PING")), "before it opened"),
        "json.lgcap": (_frames(header, (0x4C01, b"not json")), "not valid JSON"),
        "nothing.lgcap": (_frames((TEXT, b"PING")), "not an lguapi capture"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CaptureError, match=message):
            await replay(segments([path]))
        assert gc.isenabled()


async def test_a_compressed_segment_replays_like_the_plain_one(tmp_path):
    import gzip

    plain, packed = tmp_path / "plain", tmp_path / "packed"
    _capture(plain)
    packed.mkdir()
    (seg,) = segments([plain])
    (packed / (seg.name + ".gz")).write_bytes(gzip.compress(seg.read_bytes()))
    a: list[E.Event] = []
    b: list[E.Event] = []
    await replay([plain], on_event=a.append)
    await replay([packed], on_event=b.append)
    assert [_fields(e) for e in a] == [_fields(e) for e in b] and len(a) == 164


async def test_sqlite_and_jsonl_stores_hold_the_same_records(tmp_path):
    import json
    import sqlite3

    from lguapi.sinks import read_jsonl

    _capture(tmp_path / "cap")
    db, lines = tmp_path / "r.db", tmp_path / "r.jsonl"
    first = await replay([tmp_path / "cap"], sink=f"sqlite:///{db}", batch=7)
    await replay([tmp_path / "cap"], sink=f"jsonl:{lines}", batch=7)
    again = await replay([tmp_path / "cap"], sink=f"sqlite:///{db}", batch=50)  # nothing new
    with sqlite3.connect(db) as conn:
        stored = [json.loads(r[0]) for r in conn.execute("SELECT data FROM events ORDER BY seq")]
        stored += [json.loads(r[0]) for r in conn.execute("SELECT data FROM calls ORDER BY seq")]
    assert first.calls > 0 and len(stored) == first.events + first.calls == again.events + again.calls
    assert {r["key"]: r for r in stored} == {r["key"]: r for r in read_jsonl(lines)}


@pytest.mark.parametrize("batch", [1, 7, 10_000])
async def test_a_batch_in_one_tracker_call_makes_what_one_event_at_a_time_makes(tmp_path, batch):
    """With no callback a batch goes to the tracker in one call at its events' times
    (feed_recorded); with one, each event in turn. Same calls, same counts, same records."""
    from lguapi.calls import CallTracker
    from lguapi.sinks import read_jsonl

    _capture(tmp_path / "cap")
    fast, slow = tmp_path / "fast.jsonl", tmp_path / "slow.jsonl"
    ended: list = []
    one = await replay([tmp_path / "cap"], sink=f"jsonl:{slow}", batch=batch,
                       on_update=lambda u: ended.append(u) if u.kind == "ended" else None)
    whole = await replay([tmp_path / "cap"], sink=f"jsonl:{fast}", batch=batch)
    counted = await replay([tmp_path / "cap"], batch=batch)
    merged = sum(1 for u in ended if u.call.end_reason == "merged")
    assert one.calls == whole.calls == counted.calls == len(ended) - merged > 0
    assert one.events == whole.events == counted.events
    assert {r["key"]: r for r in read_jsonl(fast)} == {r["key"]: r for r in read_jsonl(slow)}
    # a caller's tracker keeps its own clock (read once per event): here one that stands still
    mine = CallTracker(clock=lambda: 0.0, end_grace=0)
    theirs = await replay([tmp_path / "cap"], tracker=mine, batch=batch)
    assert theirs.calls == len(mine.ended) > 0


@pytest.mark.parametrize("batch", [3, 10_000])
async def test_a_sink_with_only_write_event_and_write_call_gets_every_record_in_order(tmp_path, batch):
    """A sink object of the documented protocol (no ``write_batch``) is awaited once per record,
    in the order a JSONL sink's records are made, and flushed; replay does not close it."""
    from lguapi.sinks import read_jsonl

    class Recorder:
        def __init__(self) -> None:
            self.records: list[tuple[str, str]] = []
            self.flushed = self.closed = False

        async def write_event(self, ev) -> None:
            self.records.append(("event", ev.raw))

        async def write_call(self, call) -> None:
            self.records.append(("call", call.id))

        async def flush(self) -> None:
            self.flushed = True

        async def close(self) -> None:
            self.closed = True

    _capture(tmp_path / "cap")
    mine, lines = Recorder(), tmp_path / "r.jsonl"
    got = await replay([tmp_path / "cap"], sink=mine, batch=batch)
    await replay([tmp_path / "cap"], sink=f"jsonl:{lines}", batch=batch)
    stored = list(read_jsonl(lines))
    assert len(mine.records) == got.events + got.calls == len(stored) and got.calls > 0
    assert mine.records == [("event", r["raw"]) if r["kind"] == "event" else ("call", r["id"]) for r in stored]
    assert mine.flushed and not mine.closed


async def test_a_recorder_restarted_in_the_same_directory_starts_new_connections(tmp_path):
    """A crash leaves no CLOSE; the next recorder numbers its connections from 1 again. Its OPEN
    (not ``continued``) is a new connection: counted, with its own extension and charset."""
    with CaptureWriter(tmp_path, compress=False) as a:
        c = a.open_connection(address="h:1", login="0701", exten="3001", charset="cp949", ts=1.0)
        a.received(c, TEXT, RING % (b"3001", b"3001", b"3001", 1), ts=2.0)
        a.flush()
        (seg,) = segments([tmp_path])
        crashed = seg.read_bytes()  # as a kill -9 leaves it: no CLOSE record
    seg.write_bytes(crashed)
    with CaptureWriter(tmp_path, compress=False, prefix="capture-later") as b:  # sorts after the first
        c = b.open_connection(address="h:1", login="0702", exten="3002", charset="utf-8", ts=10.0)
        assert c == 1
        b.received(c, TEXT, "RECVPEERMSG|FROM:3001|MSG:안녕".encode("utf-8"), ts=11.0)
    seen: list[E.Event] = []
    result = await replay([tmp_path], on_event=seen.append)
    assert result.connections == 2
    assert [(type(e).__name__, e.exten) for e in seen] == [("RingEvent", "3001"), ("PeerMessageEvent", "3002")]
    assert seen[1].raw.endswith("MSG:안녕")  # decoded with the new connection's charset
