"""Smoke test of the benchmark harness: `bench/run.py --quick --only core` runs and reports every row.

No timing is asserted (speed belongs to bench/); only that the scenarios ran and the table holds them.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lgucore
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bench_importable():
    """bench/'s modules importable for the test (``from bench_ingest import measure``)."""
    sys.path.insert(0, str(ROOT / "bench"))
    yield
    sys.path.remove(str(ROOT / "bench"))


def test_quick_core_benchmark_reports_every_scenario(tmp_path):
    out = tmp_path / "RESULTS.md"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "core", "--output", str(out)],
        capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    assert text.strip() in proc.stdout
    assert "Machine:" in text and f"lgucore.HAS_EXTENSIONS={lgucore.HAS_EXTENSIONS}" in text
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    table = {(r[0].strip(), r[1].strip()): r for r in rows[1:]}
    scenarios = {s for s, _ in table}
    for prefix in ("tokenize cp949 events", "tokenize utf-8 events", "FrameDecoder.feed, 2,000 frames in 64 KiB",
                   "FrameDecoder.feed, 300 frames in 7 B", "decode_batch+tokenize_batch, 5,000 frames"):
        assert any(s.startswith(prefix) for s in scenarios), prefix
    variants = {v for _, v in table}
    assert {"naive split parser", "pure twin"} <= variants
    assert any(v.startswith("struct.unpack_from+split") for v in variants)
    if lgucore.HAS_EXTENSIONS:
        assert {"compiled", "compiled + to_dict()", "compiled + .fields"} <= variants
    with_baseline = {s for (s, _), r in table.items() if r[4].strip() == "baseline"}
    for (scenario, variant), r in table.items():
        value = float(r[2].replace(",", ""))
        assert value > 0, (scenario, variant)
        rel = r[4].strip()
        if scenario in with_baseline:
            assert rel == "baseline" or (rel.endswith("x") and float(rel[:-1]) > 0), (scenario, variant, rel)
        else:
            assert rel == "n/a", (scenario, variant, rel)
    assert {s for s in scenarios if s.startswith("tokenize ")} <= with_baseline


def test_harness_api(bench_importable):
    from _harness import Report
    r = Report(quick=True)
    calls = []
    t = r.timeit(lambda: calls.append(1), number=10, repeat=3)
    assert t > 0 and len(calls) == 20          # quick mode: at most two repeats
    assert r.timeit(lambda: None) > 0          # calibrated
    r.add("s", "base", 100.0, "MB/s", baseline=True)
    r.add("s", "fast", 250.0, "MB/s")
    r.add("t", "base", 2.0, "us", baseline=True, higher_is_better=False)
    r.add("t", "fast", 0.5, "us", higher_is_better=False)
    assert r.ratio("s", "fast") == 2.5 and r.ratio("t", "fast") == 4.0
    md = r.render_markdown()
    assert "| s | fast | 250 | MB/s | 2.50x |" in md and "| t | fast | 0.5 | us | 4.00x |" in md
    assert "| s | base | 100 | MB/s | baseline |" in md


def _pytest_bench(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # a pytest of its own: not an xdist worker even when this test runs in one (pytest-benchmark
    # would turn itself off)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "bench" / "test_micro.py"), "-q",
                           "-p", "no:cacheprovider", *args], capture_output=True, text=True, timeout=300, env=env,
                          cwd=cwd)


def test_micro_benchmarks_run_under_pytest_benchmark(tmp_path):
    """Every pytest-benchmark body runs once (untimed): the smoke that `make test` allows."""
    proc = _pytest_bench(["--benchmark-disable"], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    passed = int(proc.stdout.split(" passed")[0].rsplit(None, 1)[-1])
    assert passed >= (22 if lgucore.HAS_EXTENSIONS else 12), proc.stdout[-500:]


def test_benchmark_compare_across_runs(tmp_path):
    """`--benchmark-autosave` then `--benchmark-compare`: the comparison table comes out."""
    store = f"file://{tmp_path / 'store'}"
    quick = ["--benchmark-only", "-k", "seed_seal", "--benchmark-max-time=0.01", "--benchmark-min-rounds=3",
             "--benchmark-warmup=off", f"--benchmark-storage={store}"]
    first = _pytest_bench([*quick, "--benchmark-autosave"], tmp_path)
    assert first.returncode == 0, first.stdout[-3000:]
    second = _pytest_bench([*quick, "--benchmark-compare"], tmp_path)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "0001_" in second.stdout and "test_seed_seal_200b" in second.stdout


def test_ingest_stages_see_each_connection_in_its_own_order(bench_importable):
    """The per-stage budget feeds the tracker the connections interleaved as a monitor sees them:
    one event of each in turn, each connection's own in the order it sent them (a call's ring
    before its answer before its hang-up). A reordering would time a different workload."""
    from bench_ingest import interleaved_flows
    from loadgen import call_flows
    texts = interleaved_flows(7, 11)
    assert len(texts) == 7 * 11
    by_conn: dict[str, list[bytes]] = {}
    for exten, text in texts:
        by_conn.setdefault(exten, []).append(text)
    assert len(by_conn) == 7
    for i, (exten, got) in enumerate(by_conn.items()):
        assert got == call_flows(exten, 11, seq0=1 + i * 4 * 11)
    assert [e for e, _ in texts[:14]] == list(by_conn) * 2  # round robin


def test_the_shared_load_gives_every_connection_the_same_calls(bench_importable):
    """``loadgen.py --shared``: each connection's flow names the same unique ids (each call is
    rung on every connection), its own extension's channels; without it, no two share an id."""
    import re

    from loadgen import Generator

    def ids(shared: bool) -> list[set[str]]:
        gen = Generator(3, 9, cipher="none", shared=shared)
        gen.build(["20001", "20002", "20003"])
        return [set(re.findall(rb"UNIQUEID\d?:([0-9.]+)", gen.blocks[e])) for e in ("20001", "20002", "20003")]

    shared = ids(True)
    assert shared[0] and shared[0] == shared[1] == shared[2]
    apart = ids(False)
    assert not (apart[0] & apart[1]) and not (apart[1] & apart[2])


def test_the_live_monitor_is_taken_apart_into_parts_that_add_up(bench_importable):
    """bench_ingest's idle tracker is a real CallTracker that takes every event of a read and
    follows no call; the live parts, with the ingest stages and the idle run's collections,
    add up to the CPU per event of the run with the tracker and the sink."""
    from bench_ingest import _idle_tracker, live_parts
    from lguapi.calls import CallTracker
    from lguapi.events import parse_event
    idle = _idle_tracker()
    assert isinstance(idle, CallTracker)
    events = iter([parse_event(lgucore.tokenize(b"RINGEVENT|ISDIAL:0|CHANNEL:SIP/2001-1|RECHANNEL:SIP/gw-2|"
                                                b"AGENT:2001|CALLERID:0101|UNIQUEID:17.1"), exten="2001", ts=1.0)] * 3)
    assert idle.feed_many(events) == [] and next(events, None) is None  # the whole read taken
    assert not idle.active and not idle.ended
    budget = {"frames": 0.1, "decrypt": 1.2, "tokens": 0.2, "event": 0.5, "tracker": 3.0, "core limit": 1.5}
    runs = ({"cpu_us_per_event": 3.3, "gc_total_us_per_event": 0.1}, {"cpu_us_per_event": 4.4},
            {"cpu_us_per_event": 9.2}, {"cpu_us_per_event": 14.5})
    parts = live_parts(budget, *runs)
    assert list(parts) == ["loop and the rest (live, idle tracker)",
                           "calls, updates and the counting of the ends (live, floor tracker)",
                           "tracker's bookkeeping beyond the floor, in place (live)", "JSONL sink, in place (live)"]
    assert abs(parts["calls, updates and the counting of the ends (live, floor tracker)"] - 1.1) < 1e-9
    ingest = budget["frames"] + budget["decrypt"] + budget["tokens"] + budget["event"]
    assert abs(ingest + 0.1 + sum(parts.values()) - 14.5) < 1e-9


def test_the_floor_tracker_gives_the_calls_of_the_real_one(bench_importable):
    """bench_ingest's floor tracker is a yardstick only if it gives a Monitor what the real
    tracker gives for the benchmark's traffic: every ended call's ``to_dict()`` equal, and the
    same updates (kind and state) in the same order for each call. It is compiled, as the
    tracker it bounds is."""
    from bench_ingest import READ_BATCH, _floor_tracker, interleaved_flows
    from lguapi.calls import CallTracker
    from lguapi.events import parse_event
    texts = interleaved_flows(5, 40)
    events = [parse_event(lgucore.tokenize(t), exten=e, ts=1000.0 + i * 0.5, raw=t.decode())
              for i, (e, t) in enumerate(texts)]
    floor = _floor_tracker()
    assert isinstance(floor, CallTracker)
    assert not type(floor).__module__.startswith("lguapi")
    assert sys.modules[type(floor).__module__].__file__.endswith((".so", ".pyd"))  # compiled
    real = CallTracker(clock=lambda: events[-1].ts)

    def run(tracker) -> tuple[dict, dict]:
        ups = []
        for i in range(0, len(events), READ_BATCH):
            ups += tracker.feed_many(events[i:i + READ_BATCH])
        ups += tracker.flush()
        steps: dict[str, list] = {}
        ended = {}
        for u in ups:
            steps.setdefault(u.call.id, []).append((u.kind, u.state))
            if u.kind == "ended":
                ended[u.call.id] = u.call.to_dict()
        return steps, ended

    real_steps, real_ended = run(real)
    floor_steps, floor_ended = run(floor)
    assert len(real_ended) == len(real_steps) == 5 * (40 // 8 * 3)  # 3 calls in every 8 events of a connection
    assert floor_steps == real_steps
    assert floor_ended == real_ended
    assert {c["end_reason"] for c in floor_ended.values()} == {"hangup", "missed"}


def test_a_monitor_runs_on_each_of_the_benchmark_trackers(bench_importable):
    """`bench_ingest.measure` runs a real Monitor over loopback with its own tracker, the idle
    one and the floor (the floor compiled once, in this process); an unknown name is refused."""
    from bench_ingest import measure
    for tracker in ("full", "idle", "floor"):
        r = measure("monitor", 10, 24, sink=tracker == "floor", tracker=tracker)
        assert r["events"] == 240 and r["dead"] == 0, (tracker, r)
    with pytest.raises(ValueError, match="tracker must be one of"):
        measure("monitor", 10, 24, sink=False, tracker="fast")


def test_the_benchmark_monitor_writes_to_either_store(bench_importable):
    """`bench_ingest.measure(store=...)`: the Monitor opens its sink from a path, as a user's
    would, JSON Lines or SQLite; an unknown kind is refused."""
    from bench_ingest import measure
    r = measure("monitor", 10, 24, sink=True, store="sqlite", rate=2000)
    assert r["events"] == 240 and r["dead"] == 0 and r["latency_ms"]["n"] > 0, r
    with pytest.raises(ValueError, match="store must be one of"):
        measure("monitor", 10, 24, sink=True, store="csv")
