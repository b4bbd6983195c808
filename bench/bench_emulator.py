"""Emulator benchmark: 5,000 logged-in connections, simulated PBX traffic and firehose events/s, RSS.

Two processes: the emulator (``EmulatorStack``, compiled core, the event loop ``lguapi
serve`` uses: uvloop when installed) runs in a subprocess steered over stdin; this process
opens the connections and logs each in (SEED, the client default) with bare asyncio
protocols that only count frames from their length headers, so the clients stay cheap.

Measured, each over a window after a warm-up:

* **login** — 5,000 connections connected and logged in (connections/s, informational);
* **simulated PBX traffic** — the traffic generator (Poisson arrivals of inbound,
  click-to-call and internal calls, 0.2 s mean ring, 0.3 s mean talk, holds and transfers)
  offered about 7,500 events/s; reported: events/s the clients received, and the same per
  second of emulator CPU (events/s it could sustain on one full core);
* **firehose** — offered 60,000 events/s, measured once every pair of extensions has its
  pool of calls built and framed (reported on stderr as ``firehose_build_s``); the same two
  figures;
* **emulator RSS** — with every connection logged in and idle, and its peak.

Targets (the emulator's design goals): >= 5,000 events/s of PBX traffic and >= 50,000 events/s of firehose,
sustained on one core; the "target" rows are the baselines, so "vs baseline" reads as
"times the target". The soft RLIMIT_NOFILE is raised to the hard limit in both processes.
Run alone: ``python bench/bench_emulator.py [--quick]``.
"""
from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
START_EXTEN = 20001
TRAFFIC_RING = 0.2
TRAFFIC_TALK = 0.3
EVENTS_PER_ARRIVAL = 3.8  # measured with the default mix at 5,000 extensions (busy phones included)


from _harness import peak_rss_mb as _peak_rss_mb, raise_nofile as _raise_nofile, rss_mb as _rss_mb  # noqa: E402

def _cpu() -> float:
    t = os.times()
    return t.user + t.system


# --- the emulator subprocess ----------------------------------------------------------------

async def _serve(n: int) -> None:
    """Emulator; stdin commands: ``traffic RATE``, ``firehose RATE``, ``stop``, ``stats``, ``quit``."""
    import logging
    import random

    from lguapi.accounts import Directory
    from lguapi.server.cli import EmulatorStack
    from lguapi.server.firehose import Firehose
    from lguapi.server.traffic import TrafficConfig, TrafficGenerator

    logging.basicConfig(level=logging.ERROR)
    _raise_nofile()
    directory = Directory.generate(f"{START_EXTEN}-{START_EXTEN + n - 1}")
    stack = EmulatorStack(directory, port=0, admin_port=0, oam_port=0, oam_tls=False, seed=1,
                          emulator_options={"max_send_buffer": 64 << 20, "idle_timeout": 3600})
    await stack.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"port": stack.port, "loop": type(loop).__module__.split(".")[0]}), flush=True)
    traffic = hose = None
    try:
        while True:
            line = (await reader.readline()).decode().split()
            if not line or line[0] == "quit":
                break
            cmd, out = line[0], {}
            if cmd == "traffic":
                traffic = TrafficGenerator(stack.pbx, directory, TrafficConfig(
                    rate=float(line[1]), ring_mean=TRAFFIC_RING, talk_mean=TRAFFIC_TALK, hold_mean=0.1),
                    rng=random.Random(3))
                traffic.start()
            elif cmd == "firehose":
                hose = Firehose(stack.emulator, float(line[1]), rng=random.Random(4))
                hose.start()
            elif cmd == "stop":
                if hose is not None:
                    hose.close()
                    out["firehose"] = hose.stats()
                    hose = None
                if traffic is not None:
                    traffic.stop()
                    try:
                        await asyncio.wait_for(traffic.wait(), 30)
                    finally:
                        traffic.close()
                    out["traffic"] = traffic.stats()
                    traffic = None
            out.update(ok=cmd, cpu=_cpu(), rss_mb=_rss_mb(), peak_rss_mb=_peak_rss_mb(),
                       sessions=len(stack.emulator.sessions()))
            if traffic is not None:
                out["traffic"] = traffic.stats()
            if hose is not None:
                out["firehose"] = hose.stats()
            print(json.dumps(out), flush=True)
    finally:
        if hose is not None:
            hose.close()
        if traffic is not None:
            traffic.close()
        await stack.close()


class _Child:
    def __init__(self, args: list[str]) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
        env.pop("LGUCORE_NO_EXTENSIONS", None)
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench_emulator: the emulator exited ({self.proc.poll()})")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


# --- the clients ------------------------------------------------------------------------------

class _Counts:
    frames = 0


class _Conn(asyncio.Protocol):
    """Counts frames by their length headers; keeps the first one (the LOGINRESULT)."""

    def __init__(self, counts: _Counts) -> None:
        self.counts = counts
        self.buf = b""
        self.first: bytes | None = None
        self.got_first = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        i, n, frames = 0, len(buf), 0
        while i + 4 <= n:
            end = i + 4 + ((buf[i + 2] << 8) | buf[i + 3])
            if end > n:
                break
            if self.first is None:
                self.first = buf[i:end]
                self.got_first.set_result(None)
            i = end
            frames += 1
        self.buf = buf[i:]
        self.counts.frames += frames

    def connection_lost(self, exc) -> None:
        if not self.got_first.done():
            self.got_first.set_exception(ConnectionError("closed before LOGINRESULT"))


async def _login_all(port: int, n: int, counts: _Counts) -> tuple[list[_Conn], float]:
    from lgucore import TextCodec

    from lguapi.accounts import generated_id, generated_password

    codec = TextCodec("seed")
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(200)
    conns: list[_Conn] = []

    async def one(i: int) -> None:
        exten = str(START_EXTEN + i)
        async with sem:
            _, conn = await loop.create_connection(lambda: _Conn(counts), "127.0.0.1", port)
            conn.transport.write(codec.encode(f"CMD LOGIN ID={generated_id(exten)} PWD={generated_password(exten)} "
                                              .encode()))
            await asyncio.wait_for(conn.got_first, 60)
        ftype, length = struct.unpack(">HH", conn.first[:4])
        text = codec.open(ftype, conn.first[4:]).decode()
        if not text.startswith("LOGINRESULT|STATUS:1|"):
            raise RuntimeError(f"login of {exten} failed: {text}")
        conns.append(conn)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return conns, time.perf_counter() - t0


async def _window(emu: _Child, counts: _Counts, seconds: float) -> dict:
    """Events/s the clients received and the emulator's CPU seconds over ``seconds``."""
    loop = asyncio.get_running_loop()
    a = await loop.run_in_executor(None, emu.ask, "stats")
    f0, t0, c0 = counts.frames, time.perf_counter(), _cpu()
    await asyncio.sleep(seconds)
    f1, t1, c1 = counts.frames, time.perf_counter(), _cpu()
    b = await loop.run_in_executor(None, emu.ask, "stats")
    wall = t1 - t0
    cpu = b["cpu"] - a["cpu"]
    rate = (f1 - f0) / wall
    return {"events_per_s": rate, "emulator_cpu_share": cpu / wall, "events_per_cpu_s": (f1 - f0) / max(cpu, 1e-9),
            "clients_cpu_share": (c1 - c0) / wall, "emulator": b}


async def _measure(n: int, *, warmup: float, window: float, traffic_events: float, firehose_events: float) -> dict:
    _raise_nofile()
    emu = _Child(["--serve", str(n)])
    conns: list[_Conn] = []
    try:
        loop = asyncio.get_running_loop()
        hello = await loop.run_in_executor(None, emu.read)
        counts = _Counts()
        conns, login_s = await _login_all(hello["port"], n, counts)
        await asyncio.sleep(0.5)
        idle = await loop.run_in_executor(None, emu.ask, "stats")
        res = {"n": n, "loop": hello["loop"], "login_s": login_s, "idle_rss_mb": idle["rss_mb"],
               "sessions": idle["sessions"]}
        calls = traffic_events / EVENTS_PER_ARRIVAL
        await loop.run_in_executor(None, emu.ask, f"traffic {calls:.1f}")
        await asyncio.sleep(warmup)
        res["traffic"] = await _window(emu, counts, window)
        res["traffic_stop"] = await loop.run_in_executor(None, emu.ask, "stop")
        await asyncio.sleep(0.5)
        await loop.run_in_executor(None, emu.ask, f"firehose {firehose_events:.0f}")
        t_build = time.perf_counter()
        while time.perf_counter() - t_build < 120:   # every pair's pool built and framed
            await asyncio.sleep(0.5)
            hose = (await loop.run_in_executor(None, emu.ask, "stats"))["firehose"]
            if hose["active_groups"] and hose["ready_groups"] >= hose["active_groups"]:
                break
        res["firehose_build_s"] = time.perf_counter() - t_build
        await asyncio.sleep(warmup)
        res["firehose"] = await _window(emu, counts, window)
        res["firehose_stop"] = await loop.run_in_executor(None, emu.ask, "stop")
        res["peak_rss_mb"] = res["firehose_stop"]["peak_rss_mb"]
        res["sessions_at_end"] = res["firehose_stop"]["sessions"]
        return res
    finally:
        for c in conns:
            c.transport.close()
        await asyncio.get_running_loop().run_in_executor(None, emu.close)


def run(report) -> None:
    """Scenarios: login of N connections, PBX traffic and firehose events/s (and per emulator
    CPU-second), emulator RSS; the design's targets are the baselines."""
    n = 300 if report.quick else 5000
    from lguapi.runtime import new_event_loop

    with asyncio.Runner(loop_factory=new_event_loop) as runner:   # the clients read with uvloop too
        res = runner.run(_measure(n, warmup=1.0 if report.quick else 3.0, window=2.0 if report.quick else 8.0,
                                  traffic_events=7500.0, firehose_events=60_000.0))
    print(f"bench_emulator: {json.dumps(res)}", file=sys.stderr, flush=True)
    loop = res["loop"]
    report.add(f"emulator {n} connections: login (SEED)", "measured", n / res["login_s"], "logins/s", baseline=True)
    for key, target, what in (("traffic", 5000, "simulated PBX traffic"), ("firehose", 50_000, "firehose")):
        r = res[key]
        scenario = f"emulator {n} conn: {what} (SEED, {loop})"
        report.add(scenario, "target", target, "events/s", baseline=True)
        report.add(scenario, f"received (emulator CPU {r['emulator_cpu_share']:.0%}, clients "
                             f"{r['clients_cpu_share']:.0%})", r["events_per_s"], "events/s")
        report.add(scenario, "per emulator CPU-second", r["events_per_cpu_s"], "events/s")
    report.add(f"emulator {n} conn: firehose warm-up (every pair's pool built)", "measured", res["firehose_build_s"],
               "s", baseline=True, higher_is_better=False)
    report.add(f"emulator {n} conn: RSS", "logged in, idle", res["idle_rss_mb"], "MB", baseline=True,
               higher_is_better=False)
    report.add(f"emulator {n} conn: RSS", "peak (after traffic + firehose)", res["peak_rss_mb"], "MB",
               higher_is_better=False)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        from lguapi.runtime import new_event_loop

        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(_serve(int(argv[1])))
        return 0
    sys.path.insert(0, str(HERE))
    from _harness import standalone

    return standalone(run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
