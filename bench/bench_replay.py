"""``lguapi replay``'s cost per event, stage by stage, on the ingest benchmark's capture.

The stages, each timed alone (CPU time of the whole process, best of three, garbage
collector off) on the previous stage's output:

* **read** -- the segment's bytes from disk (``load_segment``); **read .gz** the same
  segment gzip-compressed, as a rotated one is;
* **frames + index** -- ``decode_batch`` and ``index_segment``;
* **events** -- every typed event rebuilt (``build_events``: tokens, text, the events' builders;
  the bookkeeping records);
* **tracker** -- a ``CallTracker`` fed every event at its own time, a batch per
  ``feed_recorded`` call as replay feeds it: the tracker's own cost, the reference the next
  line is measured against;
* **track hand-off** -- replay's feeding of the tracker (the batch, the ended calls, the sink
  records) minus the tracker line: replay's own overhead around it, the median of six paired
  differences; since replay feeds a batch per call it is within the noise of zero, and may
  read slightly below it;
* **JSONL write**, **SQLite write** -- the sink records handed to each sink and written
  (keys, serialisation, the file or the transactions; the SQLite writer thread counted);
* **GC (whole run, collector never paused)** -- a whole no-sink replay with ``pause_gc=False``
  minus one with the collector off: what the pause saves;
* **whole run, no sink** -- ``replay()`` as shipped (collector paused per batch), in a fresh process;
* **whole run, idle tracker** -- the same fed to a tracker whose ``feed`` does nothing:
  replay's own cost, whole (reading, indexing, events, hand-off, collector, freeing).

    PYTHONPATH=src /work/venv/bin/python bench/bench_replay.py [--conns 200] [--per-conn 1000]
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import child_env  # noqa: E402


def _cpu(fn: Callable[[], Any], n: int, repeat: int = 3) -> tuple[float, Any]:
    """Best of ``repeat`` process-CPU runs of ``fn``, in µs per one of ``n`` items, and its last result."""
    best, out = float("inf"), None
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            t = time.process_time()
            out = fn()
            best = min(best, time.process_time() - t)
    finally:
        gc.enable()
    return 1e6 * best / n, out


def stages(directory: str, tmp: str) -> dict[str, float]:
    """µs per event of each replay stage on the single-segment capture at ``directory``."""
    from lgucore.batch import decode_batch
    from lguapi import replay as R
    from lguapi.calls import CallTracker
    from lguapi.capture import index_segment, load_segment, segments

    (seg,) = segments([directory])
    data = load_segment(seg)

    def events() -> list:
        res = R.ReplayResult()
        return [ev for chunk in R._segment_events(seg, R._Conns(), res, batch=R.DEFAULT_BATCH, max_bytes=1 << 30)
                for ev in chunk]
    evs = events()
    n = len(evs)
    out: dict[str, float] = {}
    out["read"], _ = _cpu(lambda: load_segment(seg), n)
    packed = Path(tmp) / (seg.name + ".gz")
    packed.write_bytes(gzip.compress(data, compresslevel=6))
    out["read .gz"], _ = _cpu(lambda: load_segment(packed), n)
    out["frames + index"], _ = _cpu(lambda: index_segment(decode_batch(data)), n)

    def rebuilt() -> int:  # as replay does it: one batch of events alive at a time
        res = R.ReplayResult()
        return sum(map(len, R._segment_events(seg, R._Conns(), res, batch=R.DEFAULT_BATCH, max_bytes=1 << 30)))
    us, _ = _cpu(rebuilt, n)
    out["events"] = us - out["read"] - out["frames + index"]

    chunks = [evs[i:i + R.DEFAULT_BATCH] for i in range(0, n, R.DEFAULT_BATCH)]

    def tracker() -> None:
        now = [0.0]
        tr = CallTracker(clock=lambda: now[0])
        for chunk in chunks:
            tr.feed_recorded(chunk)

    def track() -> list:
        now = [0.0]
        tr = CallTracker(clock=lambda: now[0])
        res = R.ReplayResult()
        return [r for chunk in chunks for r in R._batch(chunk, tr.feed_recorded, now, res, keep=True)]
    # the two differ by far less than either varies from run to run: run them in pairs, back to
    # back, six times, the order swapped every other pair (the first run of a pair pays for
    # memory the process gave back, the second reuses it); the tracker is the best run, the
    # hand-off the median of the pairs' differences
    alone: list[float] = []
    diffs: list[float] = []
    records: list = []
    for i in range(6):
        if i % 2:
            us, records = _cpu(track, n, 1)
            us_alone = _cpu(tracker, n, 1)[0]
        else:
            us_alone = _cpu(tracker, n, 1)[0]
            us, records = _cpu(track, n, 1)
        alone.append(us_alone)
        diffs.append(us - us_alone)
    out["tracker"] = min(alone)
    out["track hand-off"] = sorted(diffs)[len(diffs) // 2]

    for name, url in (("JSONL write", "jsonl:"), ("SQLite write", "sqlite:///")):
        def write(url: str = url) -> None:
            asyncio.run(_write_all(url, tmp, records))
        out[name], _ = _cpu(write, n)
    return out


async def _write_all(url: str, tmp: str, records: list) -> None:
    """``records`` into a fresh sink at ``url`` + a new file in ``tmp``, as replay writes them."""
    from lguapi import replay as R
    from lguapi.sinks import open_sink

    path = tempfile.mktemp(dir=tmp, suffix=".db" if url.startswith("sqlite") else ".jsonl")
    sink = open_sink(url + path, batch=R.DEFAULT_BATCH)
    try:
        for i in range(0, len(records), R.DEFAULT_BATCH):
            R._write_batch(sink.write_batch, records[i:i + R.DEFAULT_BATCH])
        await sink.flush()
    finally:
        await sink.close()


def _whole(directory: str, collect: bool, *, pause: bool = False, own: bool = False) -> float:
    """CPU µs per event of one whole no-sink replay in a fresh process (this process's twin),
    with the collector on or disabled, paused in batches (``pause_gc``) or not; ``own``: fed
    to a tracker that does nothing (replay's own cost, whole)."""
    import lgucore

    code = ("import asyncio, gc, sys, time; from lguapi.replay import replay\n"
            "class Idle:\n    def feed_many(self, evs): return []\n"
            f"{'' if collect else 'gc.disable()'}\n"
            f"t = time.process_time(); r = asyncio.run(replay([sys.argv[1]], pause_gc={pause}, "
            f"tracker={'Idle()' if own else 'None'}))\n"
            "print(1e6 * (time.process_time() - t) / r.events)")
    runs = [float(subprocess.run([sys.executable, "-c", code, directory], capture_output=True, text=True,
                                 env=child_env(bool(lgucore.NO_EXTENSIONS)), check=True, timeout=600).stdout) for _ in range(3)]
    return min(runs)


def measure(n_conns: int = 200, per_conn: int = 1000) -> dict[str, float]:
    """:func:`stages` on a fresh capture of ``n_conns * per_conn`` events, plus the GC share."""
    import bench_ingest

    tmp = tempfile.mkdtemp(prefix="bench-replay-")
    try:
        cap = os.path.join(tmp, "capture")
        bench_ingest.make_capture(cap, n_conns, per_conn)
        out = stages(cap, tmp)
        on, off = _whole(cap, True), _whole(cap, False)
        out["GC (whole run, collector never paused)"] = max(0.0, on - off)
        out["whole run, no sink"] = _whole(cap, True, pause=True)
        out["whole run, idle tracker"] = _whole(cap, True, pause=True, own=True)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(report) -> None:
    """The stage table (``bench/run.py``)."""
    quick = report.quick
    for stage, us in measure(20 if quick else 200, 100 if quick else 1000).items():
        report.add("replay: µs per event by stage", stage, us, "µs", higher_is_better=False)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conns", type=int, default=200)
    p.add_argument("--per-conn", type=int, default=1000)
    args = p.parse_args(argv)
    for stage, us in measure(args.conns, args.per_conn).items():
        print(f"{stage:22s} {us:7.3f} µs/event")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
