"""Ingest benchmark: what the live path costs us, measured with a generator that costs nothing.

A load generator (``bench/loadgen.py``, its own process) holds every connection's events
already sealed under SEED and writes them over loopback as fast as the sockets take them.
The consumer under test runs in another process and is timed from ``go`` until it has
taken every event (and, with a sink, written every record):

* **Client** — one :class:`lguapi.Client`, one connection: the reference rate;
* **Monitor** — 1,000 and 5,000 connections (SEED, the CallTracker), without a sink and
  with the JSONL sink; at 5,000 with the SQLite sink too; and the pure twin
  (``LGUCORE_NO_EXTENSIONS=1``) at 1,000;
* **Monitor with an idle tracker** — 5,000 connections, no sink, a tracker that takes every
  event and follows no call: what the Monitor's own ingest costs, beside the Client's;
* **Monitor with the floor tracker** — 5,000 connections, without a sink and with the JSONL
  sink, a compiled tracker (``bench/_floor.pyx``) that gives the same calls and updates for
  this traffic and does nothing else: the rate no tracker can pass, beside the Client's;
* **Monitor, each call rung on every connection** — 2,000 connections whose calls are the
  same calls (``loadgen.py --shared``: a queue ringing all its agents at once), no sink: one
  call of 4,000 legs at a time.

For each: events/s, CPU µs per event of the consumer process, the longest garbage-collector
pause, and connections declared dead (must be 0). Then, in this process, the **per-stage
budget** on the same frames (decrypt, frames, tokens, typed event, tracker, sink record: the
  records of the events and of the calls they finish)
and the **core's own limit** (decrypt + frames + tokens), and the live Monitor taken apart
(:func:`live_parts`): ``loop and the rest`` is the idle-tracker run's CPU per event minus the
ingest stages and its collections; the floor tracker's calls and updates (with the Monitor's
counting of the calls they end), the rest of the tracker's work and the sink are each what they
add to the live run before them. Last, **steady state**: the generator paces 10,000 events/s
over 5,000 connections (``--rate``; every event has its instant in a schedule both processes
know) and the Monitor's update hook measures the **event-to-update latency** (p50, p99, max)
and the longest GC pause, with the JSONL sink and with the SQLite sink. Targets (the ingest design goals): Monitor 5,000
with tracker and JSONL sink ≥ 60,000 events/s and ≥ 0.4× the Client; without a sink ≥ 0.8×
the Client; no GC pause over 10 ms; p99 latency under 20 ms at 10,000 events/s.

Run alone: ``python bench/bench_ingest.py [--quick]``. Diagnostics for the consumer process:
``BENCH_PROFILE=1`` prints a cProfile of the timed part, ``BENCH_GC_TYPES=1`` the most common
objects the garbage collector tracks at the first full collection and at the end,
``BENCH_TRACE=1`` the loop's lag and the sink backlog every 50 ms (costly with many connections).
The consumer runs on asyncio's own loop (``BENCH_LOOP=uvloop`` for uvloop); when uvloop is
installed, the Client and the Monitor with the sink are measured on it as well, side by side.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(HERE))

from loadgen import call_flows, login_id  # noqa: E402

FIRST = 20001
#: events per feed_many call in the tracker stage: about what one read of a busy connection holds
READ_BATCH = 64


from _harness import child_env as _env, cpu_us_per_item  # noqa: E402


# --- the consumer process ---------------------------------------------------------------------

def _schedule(n: int, per_conn: int) -> dict[str, int]:
    """Paced mode: each event text -> its place ``g`` in the generator's schedule (sent at T0 + g/rate)."""
    out: dict[str, int] = {}
    for i in range(n):
        exten = str(FIRST + i)
        for m, text in enumerate(call_flows(exten, per_conn, seq0=1 + i * 4 * per_conn)):
            out[text.decode()] = m * n + i
    return out


async def _trace(monitor, seen, t0: float) -> None:
    """``BENCH_TRACE=1``: every 50 ms, on stderr, the loop's lag, events seen and the sink backlog."""
    import asyncio

    while True:
        t = time.perf_counter()
        await asyncio.sleep(0.05)
        lag = time.perf_counter() - t - 0.05
        backlog = len(monitor._sink_queue)  # a diagnostic: snapshot() would cost more than what it shows
        sys.stderr.write(f"trace {time.perf_counter() - t0:7.3f}s lag {1e3 * lag:6.1f} ms seen {seen():7d}"
                         f" backlog {backlog}\n")


def _idle_tracker():
    """A :class:`~lguapi.calls.CallTracker` that takes every event and follows no call: a Monitor
    given it costs what its ingest does (reads, decryption, events, counting) without the
    tracker and the bookkeeping of the calls the tracker would end."""
    from lguapi.calls import CallTracker

    class IdleTracker(CallTracker):
        def feed_many(self, events):
            for _ in events:
                pass
            return []

        def feed(self, event):
            return []

    return IdleTracker()


def _floor_module():
    """``bench/_floor.pyx`` compiled (pyximport, on first use; build files under the temporary
    directory) and imported."""
    import pyximport

    build = os.path.join(tempfile.gettempdir(), "lguapi-bench-pyxbld")
    os.makedirs(build, exist_ok=True)
    with open(os.path.join(build, "lock"), "w") as lock:
        try:
            import fcntl
        except ImportError:  # (Windows: no lock; one build at a time is then up to the caller)
            fcntl = None
        if fcntl is not None:  # two processes at once (make test's two passes) build it once, in turn
            fcntl.flock(lock, fcntl.LOCK_EX)
        importers = pyximport.install(build_dir=build, language_level=3)
        try:
            import _floor
        finally:
            pyximport.uninstall(*importers)
    return _floor


def _floor_tracker():
    """:class:`_floor.FloorTracker`: the least a tracker must do for this benchmark's traffic.
    A consumer imports the module :func:`measure` built (``BENCH_FLOOR_DIR``), so that no
    compiler is loaded in the process under test."""
    built = os.environ.get("BENCH_FLOOR_DIR")
    if built:
        sys.path.insert(0, built)
        from _floor import FloorTracker
    else:
        FloorTracker = _floor_module().FloorTracker
    return FloorTracker()


#: the sink a Monitor of :func:`measure` writes to, by kind: its path or URL in a directory
_STORES = {"jsonl": lambda d: os.path.join(d, "events.jsonl"),
           "sqlite": lambda d: "sqlite:///" + os.path.join(d, "r.db")}

_STORE_NAMES = {"jsonl": "JSONL", "sqlite": "SQLite"}

#: the Monitor's tracker in a run of :func:`measure`: its own, or one of the two yardsticks
_TRACKERS = {"full": lambda: None, "idle": _idle_tracker, "floor": _floor_tracker}


def _consumer(mode: str, port: int, n: int, per_conn: int, sink: str, rate: float = 0.0) -> None:
    import asyncio
    import gc
    import resource

    import lgucore
    from lguapi import Client, Event
    from lguapi.events import Disconnected
    from lguapi.monitor import Monitor, new_event_loop

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pauses: list[float] = []
    cpu_pauses: list[float] = []
    by_gen = [0, 0, 0]
    started = [0.0, 0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            if info["generation"] == 2 and os.environ.get("BENCH_GC_TYPES") and not by_gen[2]:
                import collections
                gc.callbacks.remove(on_gc)
                objs = gc.get_objects()
                c = collections.Counter(type(o).__name__ for o in objs)
                sys.stderr.write(f"first full collection: {len(objs)} objects: {c.most_common(12)}\n")
                del objs
                gc.callbacks.append(on_gc)
            started[0] = time.perf_counter()
            started[1] = time.thread_time()
        else:
            pauses.append(time.perf_counter() - started[0])
            cpu_pauses.append(time.thread_time() - started[1])
            by_gen[info["generation"]] += 1

    due = _schedule(n, per_conn) if rate > 0 else {}
    latencies: list[float] = []
    t0_sched = [0.0]

    def on_update(u) -> None:  # paced mode: event-to-update latency of the first update of each event
        ev = u.event
        if ev is not None:
            g = due.pop(ev.raw, None)
            if g is not None:
                latencies.append(time.monotonic() - t0_sched[0] - g / rate)

    async def main() -> None:
        target = n * per_conn
        dead = [0]
        extens = [str(FIRST + i) for i in range(n)]
        if mode == "client":
            client = Client("127.0.0.1", port, cipher="seed", heartbeat=20, auto_reconnect=0)
            count = [0]
            done = asyncio.Event()

            def on_event(ev) -> None:
                count[0] += 1
                if isinstance(ev, Disconnected):
                    dead[0] += 1
                if count[0] >= base[0] + target:
                    done.set()

            base = [10 ** 12]
            client.on(Event, on_event)
            await client.login(login_id(extens[0]), "pw")
            base[0] = count[0]
            seen = lambda: count[0] - base[0]  # noqa: E731
            wait = done.wait
            closer = client.close
        else:
            monitor = Monitor("127.0.0.1", port, accounts=[(login_id(e), "pw") for e in extens], cipher="seed",
                              sink=None if sink == "-" else sink, login_concurrency=200, freeze_gc=True,
                              client_options={"heartbeat": 20, "auto_reconnect": 0},
                              tracker=_TRACKERS[os.environ.get("BENCH_TRACKER") or "full"]())
            await monitor.start()
            base = monitor.events_seen

            def seen() -> int:
                return monitor.events_seen - base

            async def wait() -> None:
                while seen() < target:
                    await asyncio.sleep(0.02)
                if monitor.sink is not None:
                    while monitor.snapshot(calls=0)["sink"]["backlog"]:
                        await asyncio.sleep(0.02)
                    await monitor.sink.flush()
                states = monitor.snapshot(calls=0)["logins"]
                dead[0] = states["total"] - states["online"]

            closer = monitor.close
            if rate > 0:
                monitor.add_update_hook(on_update)
        gc.collect()
        gc.callbacks.append(on_gc)
        print("ready", flush=True)
        start = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if rate > 0:
            t0_sched[0] = float(start.split()[1])
        ru0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        print("started", flush=True)  # the generator starts only now: nothing arrives before t0
        if os.environ.get("BENCH_TRACE") and mode == "monitor":
            asyncio.get_running_loop().create_task(_trace(monitor, seen, t0))
        prof = None
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        await asyncio.wait_for(wait(), timeout=600)
        if prof is not None:
            import pstats

            prof.disable()
            pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        elapsed = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        gc.callbacks.remove(on_gc)
        if os.environ.get("BENCH_GC_TYPES"):
            import collections
            c = collections.Counter(type(o).__name__ for o in gc.get_objects())
            sys.stderr.write(f"gc objects {len(gc.get_objects())} (frozen {gc.get_freeze_count()}): {c.most_common(15)}\n")
        cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        events = seen()
        lat = sorted(latencies)
        pct = (lambda q: round(1e3 * lat[min(len(lat) - 1, int(q * len(lat)))], 2) if lat else None)  # noqa: E731
        print(json.dumps({"latency_ms": {"n": len(lat), "p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)}
                          if rate > 0 else None,"events": events, "seconds": elapsed, "events_per_s": events / elapsed,
                          "cpu_us_per_event": 1e6 * cpu / max(events, 1), "gc_max_ms": 1e3 * max(pauses, default=0),
                          "gc_max_cpu_ms": 1e3 * max(cpu_pauses, default=0), "gc_collections": by_gen,
                          "gc_total_us_per_event": 1e6 * sum(pauses) / max(events, 1), "dead": dead[0],
                          "compiled": lgucore.HAS_EXTENSIONS, "rss_mb": ru1.ru_maxrss / 1024,
                          "loop": type(asyncio.get_running_loop()).__module__.split(".")[0]}), flush=True)
        await closer()

    # plain asyncio unless asked: an installed uvloop must not change what the figures mean
    factory = (lambda: new_event_loop(True)) if os.environ.get("BENCH_LOOP") == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


# --- orchestration ------------------------------------------------------------------------

def measure(mode: str, n: int, per_conn: int, *, sink: bool, pure: bool = False, rate: float = 0.0,
            loop: str = "asyncio", tracker: str = "full", shared: bool = False, store: str = "jsonl") -> dict:
    """One consumer run against a fresh generator; returns the consumer's JSON result.

    ``rate`` > 0: the generator paces the events (``rate`` per second in all) and the result
    has the event-to-update latency (``latency_ms``: p50, p99, max) of a Monitor.
    ``loop="uvloop"``: the consumer runs on uvloop (when installed) instead of asyncio's loop.
    ``tracker``: the Monitor's own ``"full"`` CallTracker, an ``"idle"`` one that follows no
    call (:func:`_idle_tracker`), or the ``"floor"`` (:func:`_floor_tracker`).
    ``shared``: every connection reports the same calls (``loadgen.py --shared``).
    ``store``: the sink's kind when ``sink`` (``"jsonl"`` or ``"sqlite"``, opened from a path
    by the Monitor as a user's would be)."""
    if tracker not in _TRACKERS:
        raise ValueError(f"tracker must be one of {sorted(_TRACKERS)}, not {tracker!r}")
    if store not in _STORES:
        raise ValueError(f"store must be one of {sorted(_STORES)}, not {store!r}")
    gen = subprocess.Popen([sys.executable, str(HERE / "loadgen.py"), "--conns", str(n), "--events", str(per_conn),
                            "--first-exten", str(FIRST), "--rate", str(rate), *(["--shared"] if shared else [])],
                           stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, env=_env(False), text=True)
    tmp = tempfile.mkdtemp(prefix="bench-ingest-")
    cons = None
    try:
        port = int(gen.stdout.readline().split()[1])
        built = gen.stdout.readline().split()
        assert built[0] == "built", built
        sink_path = _STORES[store](tmp) if sink else "-"
        floor = os.path.dirname(_floor_module().__file__) if tracker == "floor" else ""
        cons = subprocess.Popen([sys.executable, __file__, "--consumer", mode, str(port), str(n), str(per_conn),
                                 sink_path, str(rate)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env={**_env(pure), "BENCH_LOOP": loop, "BENCH_TRACKER": tracker,
                                     "BENCH_FLOOR_DIR": floor}, text=True)
        line = cons.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"consumer did not get ready: {line!r}")
        t_go = time.monotonic() + 0.3  # paced mode: the schedule's T0, the same clock in both processes
        cons.stdin.write(f"start {t_go!r}\n")
        cons.stdin.flush()
        if cons.stdout.readline().strip() != "started":
            raise RuntimeError("consumer did not start")
        gen.stdin.write(f"go {t_go!r}\n" if rate > 0 else "go\n")
        gen.stdin.flush()
        result = json.loads(cons.stdout.readline())
        return result
    finally:
        for p in (cons, gen):
            if p is not None:
                try:
                    p.stdin.write("quit\n")
                    p.stdin.flush()
                except (BrokenPipeError, OSError, ValueError):
                    pass
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                for pipe in (p.stdin, p.stdout):
                    try:
                        pipe.close()
                    except OSError:  # (a write still buffered for a child that has gone)
                        pass
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def interleaved_flows(n_conns: int, per_conn: int) -> list[tuple[str, bytes]]:
    """``(extension, event text)`` of ``n_conns`` connections' :func:`call_flows` as a monitor
    sees them: one event of each connection in turn, every connection's own events in the
    order it sends them (a call's ring, answer and hang-up, in that order)."""
    flows = [[(e, t) for t in call_flows(e, per_conn, seq0=1 + i * 4 * per_conn)]
             for i, e in enumerate(str(FIRST + i) for i in range(n_conns))]
    return [et for turn in zip(*flows) for et in turn]


def stage_budget(n_conns: int = 200, per_conn: int = 300) -> dict:
    """µs per event of each stage of the live path, on the generator's own frames.

    Each stage is timed alone (CPU time, best of three) on the previous stage's output,
    with the garbage collector paused: collections are the "GC (live)" line, measured in
    the running Monitor, not charged to whichever stage happens to trigger one. "typed
    event" is :func:`parse_event` from the tokens alone (the raw text, extension and time
    are prepared beforehand, and the messages are tokenized afresh before each run, their fields
    not yet decoded, as live); "tracker" feeds a tracker as the Monitor and a replay do
    (``feed_many``, :data:`READ_BATCH` events at a time) with a clock that follows the events'
    times, so calls end after their grace as they do live and in a replay.
    """
    from lgucore import FrameDecoder, TextCodec, tokenize
    from lguapi.calls import CallTracker
    from lguapi.events import parse_event
    from lguapi.sinks import call_json, call_key, event_json, event_key

    codec = TextCodec("seed")
    texts = interleaved_flows(n_conns, per_conn)
    sealed = b"".join(codec.encode(t) for _, t in texts)
    n = len(texts)

    def timed(fn) -> float:
        return cpu_us_per_item(fn, n)

    out: dict = {}
    frames: list = []
    out["frames"] = timed(lambda: frames.__setitem__(slice(None), FrameDecoder(max_buffer=len(sealed) + 70000).feed(sealed)))
    plains: list = []
    out["decrypt"] = timed(lambda: plains.__setitem__(slice(None), [codec.open(t, b) for t, b in frames]))
    msgs: list = []
    out["tokens"] = timed(lambda: msgs.__setitem__(slice(None), [tokenize(p) for p in plains]))
    args: list = []

    def fresh_tokens() -> None:
        # every run parses messages just tokenized, as live: a message's fields are decoded on
        # first use, and a second parse of the same messages would find them decoded already
        evs.clear()
        args[:] = [(tokenize(p), e, 1.0 + i * 1e-4, t.decode()) for i, (p, (e, t)) in enumerate(zip(plains, texts))]
    evs: list = []
    out["event"] = cpu_us_per_item(lambda: evs.__setitem__(slice(None), [
        parse_event(m, exten=e, ts=ts, raw=raw) for m, e, ts, raw in args]), n, setup=fresh_tokens)

    def track(ended: list | None = None) -> None:
        # as the live Monitor and `lguapi replay` feed it: feed_many on a batch of events at a
        # time (a read's worth: the updates die young, as live), the clock read once per event
        # (a C-level iterator here, as time.time is live). The clock follows the events'
        # own times, as a live monitor's does: ends are confirmed after their grace and finished
        # calls leave the tracker inside the timed part (a clock standing still would leave that
        # work out and make the stage look half its live cost)
        times = [ev.ts for ev in evs]
        clock = itertools.chain(times[:1], times, itertools.repeat(times[-1])).__next__
        tr = CallTracker(clock=clock)
        for i in range(0, len(evs), READ_BATCH):
            ups = tr.feed_many(evs[i:i + READ_BATCH])
            if ended is not None:
                ended.extend(u.call for u in ups if u.kind == "ended" and u.call.end_reason != "merged")
        ups = tr.flush()
        if ended is not None:
            ended.extend(u.call for u in ups if u.kind == "ended" and u.call.end_reason != "merged")
    out["tracker"] = timed(track)
    ended: list = []
    track(ended)  # the finished calls a live sink records (untimed)
    # a live sink writes a record for every event and one for every finished call (about one
    # call per three events here): both are the stage, as they are the sink's work
    out["sink record"] = timed(lambda: ([event_json(event_key(ev), ev) for ev in evs],
                                        [call_json(call_key(c), c) for c in ended]))
    out["core limit"] = out["frames"] + out["decrypt"] + out["tokens"]
    return out


def stage_budget_pure(n_conns: int = 200, per_conn: int = 300) -> dict:
    """:func:`stage_budget` on the pure twins (lgucore's and the tracker's), in a child process."""
    r = subprocess.run([sys.executable, __file__, "--stage-budget", str(n_conns), str(per_conn)], capture_output=True,
                       text=True, env=_env(True), timeout=1200, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def make_capture(directory: str, n_conns: int = 200, per_conn: int = 1000) -> int:
    """A capture of ``n_conns`` connections receiving the generator's call flows, interleaved
    as a monitor records them, one event per 0.1 ms; returns the number of events."""
    from lgucore import TEXT
    from lguapi.capture import CaptureWriter

    extens = [str(FIRST + i) for i in range(n_conns)]
    flows = [call_flows(e, per_conn, seq0=1 + i * 4 * per_conn) for i, e in enumerate(extens)]
    with CaptureWriter(directory, compress=False, max_segment_bytes=64 << 20) as w:
        conns = [w.open_connection(address="127.0.0.1:8086", login=login_id(e), exten=e, ts=1.0) for e in extens]
        n = 0
        for m in range(per_conn):
            for c, flow in zip(conns, flows):
                n += 1
                w.received(c, TEXT, flow[m], ts=1.0 + n * 1e-4)
    return n


def _replay_child(directory: str, sink: str) -> None:
    """One replay of the capture at ``directory`` into ``sink`` ("-" for none); prints a JSON result."""
    import asyncio
    import resource

    import lgucore
    from lguapi.calls import _twin
    from lguapi.replay import replay

    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    result = asyncio.run(replay([directory], sink=None if sink == "-" else sink))
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    print(json.dumps({"events": result.events, "calls": result.calls, "seconds": result.seconds,
                      "events_per_s": result.events_per_second, "cpu_us_per_event": 1e6 * cpu / max(1, result.events),
                      "compiled": lgucore.HAS_EXTENSIONS and _twin.COMPILED}), flush=True)


def replay_rates(n_conns: int = 200, per_conn: int = 1000, *, pure: bool = True) -> dict[str, dict]:
    """``lguapi replay``'s events/s on one capture of ``n_conns * per_conn`` events: no sink,
    JSON Lines, SQLite, each in a fresh process; compiled, and the pure twin with no sink."""
    import shutil

    tmp = tempfile.mkdtemp(prefix="bench-replay-")
    try:
        cap = os.path.join(tmp, "capture")
        make_capture(cap, n_conns, per_conn)
        runs = [("no sink", "-", False), ("JSONL sink", "jsonl:" + os.path.join(tmp, "r.jsonl"), False),
                ("SQLite sink", "sqlite:///" + os.path.join(tmp, "r.db"), False)]
        if pure:
            runs.append(("no sink, pure twin", "-", True))
        out = {}
        for what, sink, is_pure in runs:
            r = subprocess.run([sys.executable, __file__, "--replay-child", cap, sink], capture_output=True, text=True,
                               env=_env(is_pure), timeout=600, check=True)
            out[what] = json.loads(r.stdout.strip().splitlines()[-1])
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _paced(report, n: int, rate: float, seconds: float, store: str = "jsonl") -> None:
    """Steady state: ``rate`` events/s over ``n`` connections (tracker + the ``store`` sink), the
    event-to-update latency and the longest GC pause."""
    r = measure("monitor", n, max(1, int(rate * seconds) // n), sink=True, rate=rate, store=store)
    print(f"bench_ingest: paced monitor {n} at {rate:.0f}/s to {store} {json.dumps(r)}", file=sys.stderr, flush=True)
    what = f"ingest: Monitor {n} conns, tracker + {_STORE_NAMES[store]} sink, paced at {rate:,.0f} events/s"
    lat = r["latency_ms"] or {}
    for q in ("p50", "p99", "max"):
        if lat.get(q) is not None:
            report.add(what, f"event-to-update latency {q}", lat[q], "ms",
                       higher_is_better=False)
    report.add(what, "longest GC pause", r["gc_max_ms"], "ms", higher_is_better=False)
    report.add(what, "CPU per event", r["cpu_us_per_event"], "µs", higher_is_better=False)


def _uvloop(report, n: int, total: int) -> None:
    """When uvloop is installed: the Client and the Monitor with the sink again on uvloop, side
    by side with asyncio's loop (the other figures are asyncio's)."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        print("bench_ingest: uvloop not installed, its side-by-side run skipped", file=sys.stderr)
        return
    what = "ingest: events/s on uvloop (the rest: asyncio)"
    client = measure("client", 1, min(300_000, total), sink=False, loop="uvloop")
    report.add(what, "one Client", client["events_per_s"], "events/s", baseline=True)
    r = measure("monitor", n, max(1, total // n), sink=True, loop="uvloop")
    print(f"bench_ingest: uvloop client {json.dumps(client)} monitor {n} {json.dumps(r)}", file=sys.stderr, flush=True)
    report.add(what, f"Monitor {n} conns, tracker + JSONL sink", r["events_per_s"], "events/s")


def run(report) -> None:
    """Client vs Monitor (1,000 / 5,000, with and without sink), the pure twin, the stage budget."""
    quick = report.quick
    total = 60_000 if quick else 1_000_000
    client = measure("client", 1, 20_000 if quick else 300_000, sink=False)
    print(f"bench_ingest: client {json.dumps(client)}", file=sys.stderr, flush=True)
    report.add("ingest: events/s, one Client (SEED)", "compiled", client["events_per_s"], "events/s", baseline=True)
    report.add("ingest: CPU per event, one Client", "compiled", client["cpu_us_per_event"], "µs", baseline=True,
               higher_is_better=False)
    runs = []
    for n in ((200,) if quick else (1000, 5000)):
        for sink in (False, True):
            r = measure("monitor", n, max(1, total // n), sink=sink)
            runs.append((n, sink, False, r))
    pure_n = 200 if quick else 1000
    runs.append((pure_n, True, True, measure("monitor", pure_n, max(1, (total // 10) // pure_n), sink=True, pure=True)))
    big = 200 if quick else 5000
    idle = measure("monitor", big, max(1, total // big), sink=False, tracker="idle")
    floor = {sink: measure("monitor", big, max(1, total // big), sink=sink, tracker="floor") for sink in (False, True)}
    sqlite = measure("monitor", big, max(1, (total // 2) // big), sink=True, store="sqlite")
    # every connection on the same calls: 2,000 (each call then has 4,000 channels, within max_call_keys)
    ring_all = 200 if quick else 2000
    shared = measure("monitor", ring_all, max(1, total // ring_all), sink=False, shared=True)
    for n, sink, pure, r in runs:
        what = f"Monitor {n} conns, tracker{' + JSONL sink' if sink else ', no sink'}"
        variant = "pure twin" if pure else "compiled"
        _add_run(report, f"monitor {n} sink={sink} pure={pure}", r, f"{what} ({variant})")
        report.add(f"ingest: {what} ({variant}): longest GC pause", variant, r["gc_max_ms"], "ms",
                   higher_is_better=False)
        report.add(f"ingest: {what} ({variant}): connections declared dead", variant, r["dead"], "count",
                   higher_is_better=False)
    _add_run(report, f"monitor {big} idle tracker", idle,
             f"Monitor {big} conns, idle tracker, no sink: its ingest alone (compiled)")
    _add_run(report, f"monitor {big} sqlite sink", sqlite, f"Monitor {big} conns, tracker + SQLite sink (compiled)")
    for sink, r in floor.items():
        _add_run(report, f"monitor {big} floor tracker sink={sink}", r,
                 f"Monitor {big} conns, floor tracker (the same calls, no bookkeeping)"
                 f"{' + JSONL sink' if sink else ', no sink'} (compiled)")
    what = f"Monitor {ring_all} conns, each call rung on all of them, no sink (compiled)"
    _add_run(report, f"monitor {ring_all} shared calls", shared, what)
    report.add(f"ingest: {what}: longest GC pause", "compiled", shared["gc_max_ms"], "ms", higher_is_better=False)
    _uvloop(report, big, total)
    for store in _STORES:
        _paced(report, 200 if quick else 5000, 2_000 if quick else 10_000, 5 if quick else 10, store)
    for what, r in replay_rates(50 if quick else 200, 200 if quick else 1000).items():
        print(f"bench_ingest: replay {what} {json.dumps(r)}", file=sys.stderr, flush=True)
        report.add("ingest: lguapi replay of a capture, events/s", what, r["events_per_s"], "events/s")
    budget = stage_budget(50 if quick else 500, 100 if quick else 400)
    live = {sink: r for n, sink, pure, r in runs if n == big and not pure}
    for stage, us in budget.items():
        report.add("ingest: per-stage budget, µs per event", stage, us, "µs", baseline=stage == "core limit",
                   higher_is_better=False)
    pure = stage_budget_pure(50 if quick else 500, 100 if quick else 400)
    for stage in ("event", "tracker", "sink record"):
        report.add("ingest: per-stage budget, µs per event", f"{stage} (pure twin)", pure[stage], "µs",
                   higher_is_better=False)
    # the live Monitor's CPU per event, taken apart by its three runs at `big` connections
    what = "ingest: per-stage budget, µs per event"
    report.add(what, "GC (live)", live[True]["gc_total_us_per_event"], "µs", higher_is_better=False)
    for stage, us in live_parts(budget, idle, floor[False], live[False], live[True]).items():
        report.add(what, stage, us, "µs", higher_is_better=False)
    limit = 1e6 / budget["core limit"]
    report.add("ingest: fraction of the core's own limit", "core limit (decrypt+frames+tokens)", limit,
               "events/s", baseline=True)
    report.add("ingest: fraction of the core's own limit", "Monitor, tracker + sink", live[True]["events_per_s"], "events/s")


def _add_run(report, log: str, r: dict, what: str) -> None:
    """One consumer run ``r`` of :func:`measure`: logged whole on stderr (``log`` names it), its
    events/s and CPU µs per event reported beside one Client's as ``what``."""
    print(f"bench_ingest: {log} {json.dumps(r)}", file=sys.stderr, flush=True)
    report.add("ingest: events/s, one Client (SEED)", what, r["events_per_s"], "events/s")
    report.add("ingest: CPU per event, one Client", what, r["cpu_us_per_event"], "µs", higher_is_better=False)


def live_parts(budget: dict, idle: dict, floor: dict, no_sink: dict, sink: dict) -> dict[str, float]:
    """The live Monitor's CPU µs per event beyond the stages timed alone, from four runs at one
    size: with an idle tracker, with the floor tracker, with the tracker and no sink, with the
    tracker and the sink. What the first costs beyond the ingest stages (frames, decrypt,
    tokens, event) and its collections is the loop and the rest; each of the others costs what
    it adds to the run before: the calls and updates themselves (and the Monitor's counting of
    the ends), then the tracker's bookkeeping beyond them, then the sink."""
    ingest = sum(budget[k] for k in ("frames", "decrypt", "tokens", "event"))
    return {
        "loop and the rest (live, idle tracker)":
            max(0.0, idle["cpu_us_per_event"] - ingest - idle["gc_total_us_per_event"]),
        "calls, updates and the counting of the ends (live, floor tracker)":
            floor["cpu_us_per_event"] - idle["cpu_us_per_event"],
        "tracker's bookkeeping beyond the floor, in place (live)":
            no_sink["cpu_us_per_event"] - floor["cpu_us_per_event"],
        "JSONL sink, in place (live)": sink["cpu_us_per_event"] - no_sink["cpu_us_per_event"],
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--stage-budget"]:
        print(json.dumps(stage_budget(int(argv[1]), int(argv[2]))), flush=True)
        return 0
    if argv[:1] == ["--replay-child"]:
        _replay_child(argv[1], argv[2])
        return 0
    if argv[:1] == ["--consumer"]:
        _consumer(argv[1], int(argv[2]), int(argv[3]), int(argv[4]), argv[5], float(argv[6]) if len(argv) > 6 else 0.0)
        return 0
    from _harness import standalone

    return standalone(run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
