"""The JSONL sink's own cost per event, fed the ingest benchmark's events: the record stage
alone, then ``JsonlSink.write_batch`` in the Monitor's chunks (keys, dedup, lines, writes).

    PYTHONPATH=src /work/venv/bin/python bench/bench_sink.py [--conns N] [--per-conn M] [--serializers]

Prints µs of CPU per event (best of 3, garbage collector off during each run); ``bench/run.py
--only sink`` puts the same three figures in the report.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import cpu_us_per_item  # noqa: E402
from loadgen import call_flows  # noqa: E402

FIRST = 20001
CHUNK = 512  # the Monitor's records per write_batch call


def _events(n_conns: int, per_conn: int) -> list:
    from lgucore import tokenize
    from lguapi.events import parse_event

    texts = [(str(FIRST + i), t) for i in range(n_conns)
             for t in call_flows(str(FIRST + i), per_conn, seq0=1 + i * 4 * per_conn)]
    return [parse_event(tokenize(t), exten=e, ts=1.0 + i * 1e-4, raw=t.decode()) for i, (e, t) in enumerate(texts)]


def _items(evs: list) -> list:
    """The Monitor's queue for ``evs``: each event, and each call the tracker ends, in order."""
    from lguapi.calls import CallTracker

    now = [0.0]
    tr = CallTracker(clock=lambda: now[0])
    out: list = []
    for ev in evs:
        now[0] = ev.ts
        ups = tr.feed(ev)
        out.append(("event", ev))
        out.extend(("call", u.call) for u in ups if u.kind == "ended" and u.call.end_reason != "merged")
    out.extend(("call", u.call) for u in tr.flush() if u.kind == "ended" and u.call.end_reason != "merged")
    return out


def measure(conns: int = 1000, per_conn: int = 100) -> dict[str, float]:
    """µs of CPU per event of the event records, the call records and ``JsonlSink.write_batch``."""
    from lguapi.sinks import JsonlSink, call_json, call_key, event_json, event_key

    evs = _events(conns, per_conn)
    n = len(evs)
    items = _items(evs)
    calls = [c for k, c in items if k == "call"]
    out = {"events": float(n), "calls": float(len(calls))}
    out["event records (key + JSON)"] = cpu_us_per_item(lambda: [event_json(event_key(ev), ev) for ev in evs], n)
    out["call records (key + JSON)"] = cpu_us_per_item(lambda: [call_json(call_key(c), c) for c in calls], n)
    with tempfile.TemporaryDirectory() as tmp:
        def run_sink() -> None:
            path = os.path.join(tmp, "e.jsonl")
            if os.path.exists(path):
                os.unlink(path)

            async def go() -> None:
                sink = JsonlSink(path)
                for i in range(0, n, CHUNK):
                    sink.write_batch(items[i:i + CHUNK])
                await sink.flush()
                await sink.close()
            asyncio.run(go())
        out["JsonlSink.write_batch"] = cpu_us_per_item(run_sink, n)
    return out


STAGES = ("event records (key + JSON)", "call records (key + JSON)", "JsonlSink.write_batch")


def serializers(conns: int = 1000, per_conn: int = 100) -> dict[str, float]:
    """µs of CPU per record of the same event and call records written by each serialiser we
    tried: msgspec (what the sinks use: the event's fields spliced after a per-class head, a call
    as one gc=False Struct), orjson, and the standard library's ``json.dumps``. Keys excluded."""
    import json

    import msgspec
    import orjson

    from lguapi.sinks import call_json, event_json

    evs = _events(conns, per_conn)
    calls = [c for k, c in _items(evs) if k == "call"]
    key = "k" * 24
    enc = msgspec.json.Encoder().encode

    def event_dict(ev) -> dict:
        return {"key": key, "kind": "event", "event": type(ev).__name__, **ev.__dict__}

    def call_dict(c) -> dict:
        return {"key": key, "kind": "call", **c.to_dict()}

    def dumps(rec: dict) -> bytes:
        return json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode()

    out = {}
    for name, fn in (("event: msgspec, fields spliced (used)", lambda: [event_json(key, ev) for ev in evs]),
                     ("event: msgspec, one dict", lambda: [enc(event_dict(ev)) for ev in evs]),
                     ("event: orjson, one dict", lambda: [orjson.dumps(event_dict(ev)) for ev in evs]),
                     ("event: json.dumps", lambda: [dumps(event_dict(ev)) for ev in evs])):
        out[name] = cpu_us_per_item(fn, len(evs))
    for name, fn in (("call: msgspec Struct from to_tuple (used)", lambda: [call_json(key, c) for c in calls]),
                     ("call: msgspec, to_dict", lambda: [enc(call_dict(c)) for c in calls]),
                     ("call: orjson, to_dict", lambda: [orjson.dumps(call_dict(c)) for c in calls]),
                     ("call: json.dumps, to_dict", lambda: [dumps(call_dict(c)) for c in calls])):
        out[name] = cpu_us_per_item(fn, len(calls))
    return out


def run(report) -> None:
    """``bench/run.py``'s entry point: the three costs, µs per event (``--quick``: 100 x 20 events)."""
    r = measure(100, 20) if report.quick else measure()
    for stage in STAGES:
        report.add("JSONL sink: CPU per event", stage, r[stage], "µs", higher_is_better=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--per-conn", type=int, default=100)
    ap.add_argument("--serializers", action="store_true", help="the serialisers side by side, µs per record")
    a = ap.parse_args()
    if a.serializers:
        for name, us in serializers(a.conns, a.per_conn).items():
            print(f"  {name:<44}{us:6.2f} µs/record")
        return
    r = measure(a.conns, a.per_conn)
    print(f"bench_sink: {int(r['events'])} events, {int(r['calls'])} calls")
    for stage in STAGES:
        print(f"  {stage:<28}{r[stage]:6.2f} µs/event")


if __name__ == "__main__":
    main()
