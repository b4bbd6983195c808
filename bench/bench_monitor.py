"""Monitor benchmark: 1,000 and 5,000 extensions against the emulator in firehose mode.

Three processes: this one orchestrates; the emulator (``lguapi.server`` EmulatorStack plus
its Firehose, compiled core) runs in a subprocess, steered over stdin; the monitor runs in
another subprocess — once on the compiled core and once on the pure twin
(``LGUCORE_NO_EXTENSIONS=1``, the baseline) — logging every extension in (SEED, one TCP
connection each, login concurrency 100) and recording to a JSONL sink.

Measured per size and twin:

* **login time** — from ``Monitor.start()`` to every extension logged in;
* **sustained events/s** — the firehose offers far more than the monitor can take; counted
  are events written to the JSONL sink per second over a window after a warm-up (every
  event went socket -> frame -> SEED -> tokens -> typed event -> tracker -> sink);
* **event-to-snapshot latency** at 2,000 events/s — the emulator interleaves probe events
  (``LGUAPIPROBE|T:<send time>``, sent like any event on the same sockets) with the
  firehose; latency is from the emulator's ``send`` to the moment the monitor has applied
  the probe (its state, and so ``snapshot()``, includes it); median and p99;
* **client RSS** — resident set of the monitor process with every extension logged in,
  after the runs (``/proc/self/statm``), and its peak.

Targets (the monitor's design goals): 5,000 extensions under 250 MB RSS; >= 20,000 events/s end to end;
p99 under 50 ms at 2,000 events/s. The soft RLIMIT_NOFILE is raised to the hard limit.
Run alone: ``python bench/bench_monitor.py [--quick]``.
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
PROBE = "LGUAPIPROBE"
START_EXTEN = 10001


from _harness import child_env as _env  # noqa: E402


from _harness import peak_rss_mb as _peak_rss_mb, raise_nofile as _raise_nofile, rss_mb as _rss_mb  # noqa: E402

def _spec(n: int) -> str:
    return f"{START_EXTEN}-{START_EXTEN + n - 1}"


# --- the emulator subprocess ---------------------------------------------------------------

def _prebuild(hose) -> None:
    """Have every pair's event pool built before the clock starts, when the firehose can."""
    warm = getattr(hose, "prebuild", None)
    if callable(warm):
        warm()


async def _serve(n: int) -> None:
    """Emulator + firehose; commands on stdin: ``rate R``, ``probe HZ``, ``stats``, ``quit``."""
    _raise_nofile()
    from lguapi.accounts import Directory
    from lguapi.server.cli import EmulatorStack
    from lguapi.server.firehose import Firehose

    import random

    directory = Directory.generate(_spec(n))
    stack = EmulatorStack(directory, port=0, admin_port=0, oam_port=0, oam_tls=False, seed=1,
                          emulator_options={"max_send_buffer": 64 << 20, "idle_timeout": 3600})
    await stack.start()
    loop = asyncio.get_running_loop()
    hose = None
    probe = {"hz": 0.0, "seq": 0, "handle": None, "i": 0}

    def send_probe():
        probe["handle"] = None
        if probe["hz"] <= 0:
            return
        sessions = stack.emulator.sessions()
        if sessions:
            s = sessions[probe["i"] % len(sessions)]
            probe["i"] += 7919  # spread over the sessions
            probe["seq"] += 1
            s.send_text(f"{PROBE}|SEQ:{probe['seq']}|T:{time.time():.6f}")
        probe["handle"] = loop.call_later(1.0 / probe["hz"], send_probe)

    print(json.dumps({"port": stack.port}), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while True:
            line = (await reader.readline()).decode().split()
            if not line or line[0] == "quit":
                break
            cmd = line[0]
            if cmd == "rate":
                rate = float(line[1])
                if hose is not None:
                    hose.rate = max(0.0, rate)  # 0 pauses it; its pools stay built
                elif rate > 0:
                    hose = Firehose(stack.emulator, rate, rng=random.Random(2))
                    _prebuild(hose)
                    hose.start()
                else:
                    hose.rate = rate
            elif cmd == "probe":
                probe["hz"] = float(line[1])
                if probe["handle"] is None and probe["hz"] > 0:
                    send_probe()
            print(json.dumps({"ok": cmd, "firehose": hose.stats() if hose else None,
                              "sessions": len(stack.emulator.sessions())}), flush=True)
    finally:
        if hose is not None:
            hose.close()
        await stack.close()


# --- the monitor subprocess ----------------------------------------------------------------

async def _monitor(port: int, n: int, sink: str) -> None:
    """Monitor; commands on stdin: ``measure SECONDS``, ``latency SECONDS``, ``drain``, ``rss``, ``quit``."""
    import lgucore
    from lguapi.monitor import Monitor
    from lguapi.accounts import Directory

    directory = Directory.generate(_spec(n))
    monitor = Monitor("127.0.0.1", port, accounts=directory, sink=None if sink == "-" else sink, login_concurrency=100,
                      client_options={"heartbeat": 0, "auto_reconnect": 0, "max_queue": 100_000},
                      freeze_gc=os.environ.get("BENCH_GC_FREEZE", "1") == "1",
                      sink_high_water=int(os.environ.get("BENCH_SINK_HIGH_WATER", "10000")))
    latencies: list[float] = []
    collecting = [False]

    def on_probe(ev):
        if collecting[0]:
            sent = float(ev.get("T"))
            latencies.append(time.time() - sent)

    t0 = time.perf_counter()
    await monitor.start()
    login = time.perf_counter() - t0
    gc_pauses: list[float] = []
    if os.environ.get("BENCH_GC_TRACE") == "1":
        import gc

        started = [0.0]

        def on_gc(phase, info):
            if phase == "start":
                started[0] = time.perf_counter()
            elif info.get("generation") == 2:
                gc_pauses.append(time.perf_counter() - started[0])

        gc.callbacks.append(on_gc)
    for u in directory.users():
        c = monitor.client(u.exten)
        if c is not None:
            c.on(PROBE, on_probe)  # runs after the monitor's own callback for the same event
    p = monitor.login_progress
    print(json.dumps({"login_seconds": login, "logged_in": p.done - p.failed, "failed": p.failed,
                      "compiled": lgucore.HAS_EXTENSIONS, "rss_mb": _rss_mb()}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while True:
            line = (await reader.readline()).decode().split()
            if not line or line[0] == "quit":
                break
            cmd = line[0]
            out: dict = {"ok": cmd}
            if cmd == "measure":
                seconds = float(line[1])
                await asyncio.sleep(2.0)  # warm-up
                e0, w0, p0, t = monitor.events_seen, monitor._sink_written, monitor.sink_pauses, time.perf_counter()
                await asyncio.sleep(seconds)
                dt = time.perf_counter() - t
                out.update(events_per_s=(monitor.events_seen - e0) / dt,
                           sink_per_s=(monitor._sink_written - w0) / dt if monitor.sink else None,
                           backlog=len(monitor._sink_queue), dropped=monitor._sink_dropped,
                           pauses=monitor.sink_pauses - p0, seconds=dt)
            elif cmd == "latency":
                await asyncio.sleep(1.0)  # warm-up
                latencies.clear()
                collecting[0] = True
                e0, t = monitor.events_seen, time.perf_counter()
                await asyncio.sleep(float(line[1]))
                collecting[0] = False
                lat = sorted(latencies)
                out.update(gc2_pauses_ms=[round(1e3 * x, 1) for x in gc_pauses[-10:]])
                out.update(n=len(lat), events_per_s=(monitor.events_seen - e0) / (time.perf_counter() - t),
                           median_ms=1e3 * statistics.median(lat) if lat else None,
                           p99_ms=1e3 * lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else None)
            elif cmd == "drain":
                # until everything the emulator queued was read and written: quiet for 1.5 s
                last, quiet_since = monitor.events_seen, time.perf_counter()
                while (time.perf_counter() - quiet_since < 1.5 or monitor._sink_queue
                       or monitor._reading_paused):
                    await asyncio.sleep(0.05)
                    if monitor.events_seen != last or monitor._reading_paused:
                        last, quiet_since = monitor.events_seen, time.perf_counter()
            elif cmd == "rss":
                snap = monitor.snapshot(calls=0)
                out.update(rss_mb=_rss_mb(), peak_rss_mb=_peak_rss_mb(), online=snap["logins"]["online"])
            print(json.dumps(out), flush=True)
    finally:
        await monitor.close()


# --- orchestration -------------------------------------------------------------------------

class _Child:
    def __init__(self, args: list[str], env: dict) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def read(self, timeout_hint: str = "") -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench_monitor child exited ({self.proc.poll()}) {timeout_hint}")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read(command)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def measure(n: int, pure: bool, *, window: float, offered: float, latency_rate: float = 2000.0,
            latency_seconds: float = 8.0) -> dict:
    """One monitor of ``n`` extensions on one twin: every number of the module docstring."""
    emu = _Child(["--serve", str(n)], _env(False))
    mon = None
    try:
        port = emu.read("starting the emulator")["port"]
        with tempfile.TemporaryDirectory(prefix="lguapi-bench-") as tmp:
            sink = os.path.join(tmp, "events.jsonl")
            mon = _Child(["--monitor", str(port), str(n), sink], _env(pure))
            res = dict(mon.read("logging in"))
            emu.ask(f"rate {offered}")
            res["throughput"] = mon.ask(f"measure {window}")
            emu.ask("rate 0")
            mon.ask("drain")
            emu.ask(f"rate {latency_rate}")
            emu.ask("probe 100")
            res["latency"] = mon.ask(f"latency {latency_seconds}")
            emu.ask("probe 0")
            emu.ask("rate 0")
            mon.ask("drain")
            res["rss"] = mon.ask("rss")
            res["sink_bytes"] = os.path.getsize(sink) if os.path.exists(sink) else 0
            return res
    finally:
        if mon is not None:
            mon.close()
        emu.close()


def run(report) -> None:
    """Scenarios per size: login time, sustained events/s, latency median/p99, RSS; pure = baseline."""
    _raise_nofile()
    sizes = (200,) if report.quick else (1000, 5000)
    window = 2.0 if report.quick else 10.0
    for n in sizes:
        results = {}
        for pure in (True, False):
            variant = "pure twin" if pure else "compiled"
            r = measure(n, pure, window=window, offered=60_000.0, latency_seconds=3.0 if report.quick else 8.0)
            results[variant] = r
            print(f"bench_monitor: {n} extensions, {variant}: {json.dumps(r)}", file=sys.stderr, flush=True)
        for variant, r in results.items():
            base = variant == "pure twin"
            report.add(f"monitor {n} ext: login time", variant, r["login_seconds"], "s", baseline=base,
                       higher_is_better=False)
            report.add(f"monitor {n} ext: sustained events/s to JSONL sink", variant,
                       r["throughput"]["sink_per_s"], "events/s", baseline=base)
            if r["latency"]["median_ms"] is not None:
                report.add(f"monitor {n} ext: event-to-snapshot latency median @2k ev/s", variant,
                           r["latency"]["median_ms"], "ms", baseline=base, higher_is_better=False)
                report.add(f"monitor {n} ext: event-to-snapshot latency p99 @2k ev/s", variant,
                           r["latency"]["p99_ms"], "ms", baseline=base, higher_is_better=False)
            report.add(f"monitor {n} ext: client RSS", variant, r["rss"]["rss_mb"], "MB", baseline=base,
                       higher_is_better=False)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        from lguapi.runtime import new_event_loop

        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(_serve(int(argv[1])))
        return 0
    if argv[:1] == ["--monitor"]:
        from lguapi.runtime import new_event_loop

        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(_monitor(int(argv[1]), int(argv[2]), argv[3]))
        return 0
    sys.path.insert(0, str(HERE))
    from _harness import standalone

    return standalone(run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
