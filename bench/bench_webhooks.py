"""Webhook benchmark: ring-to-webhook-received latency through the whole gateway under load.

Three processes: the emulator (a child of this script: ``EmulatorStack`` with 5,000 generated
extensions and, once the gateway is logged in, its firehose replaying call events at 2,000
events/s in total to the logged-in sessions), the gateway (a child
of this script: ``Gateway`` logged into every extension, one webhook endpoint subscribed to
``call.ringing`` and ``call.ended`` of every extension, SQLite outbox on a temporary
directory), the webhook receiver (a lean asyncio HTTP/1.1 responder, so that it is not the
bottleneck) and this process, which places **probe rings** through the emulator's admin interface (``POST /calls`` from a
recognisable outside number, 20 per second, each hung up half a second later).

Latency is from just before the admin ``POST /calls`` to the moment the receiver has the
probe's signed ``call.ringing`` POST: emulator PBX -> SEED session -> the gateway's client,
CallTracker, feed hub -> webhook filter -> SQLite commit -> HTTP POST. The firehose's own
calls are delivered too (hundreds of webhooks per second), so the probes queue behind real
load. Median and p99 are reported with the webhook throughput and the gateway's RSS.

Target (issue 11): p99 < 100 ms at 2,000 events/s with 5,000 extensions.
Run alone: ``python bench/bench_webhooks.py [--quick] [--extensions N] [--rate R] [--seconds S]``.
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
FIRST_EXTEN = 3001
PROBE_PREFIX = "0991"
PROBE_HZ = 20.0
SECRET = "bench-secret"
#: what the benchmark's endpoint subscribes to: a screen-pop integration's events
EVENTS = "call.ringing"


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _spec(n: int) -> str:
    return f"{FIRST_EXTEN}-{FIRST_EXTEN + n - 1}"


# --- the emulator child ----------------------------------------------------------------------

async def _emulator_child(n: int) -> None:
    """Emulator + admin; prints ``ready <port> <admin port>``; stdin: ``rate R`` starts the firehose."""
    import random

    from lguapi.server.accounts import Directory
    from lguapi.server.cli import EmulatorStack
    from lguapi.server.firehose import Firehose

    stack = EmulatorStack(Directory.generate(_spec(n)), port=0, admin_port=0, oam_port=0, oam_tls=False, seed=1,
                          emulator_options={"max_send_buffer": 64 << 20, "idle_timeout": 3600})
    await stack.start()
    hose = None
    print("ready", stack.port, stack.admin_port, flush=True)
    loop = asyncio.get_running_loop()
    try:
        while True:
            words = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not words or words[0] == "quit":
                break
            if words[0] == "rate" and hose is None:
                hose = Firehose(stack.emulator, float(words[1]), rng=random.Random(2))
                getattr(hose, "prebuild", lambda: None)()   # pools built before the clock starts
                hose.start()
            print("ok", words[0], flush=True)
    finally:
        if hose is not None:
            hose.close()
        await stack.close()


# --- the gateway child -----------------------------------------------------------------------

async def _gateway_child(upstream_port: int, spec: str, hook_url: str, outbox: str, concurrency: int,
                         events: str) -> None:
    """Run a gateway until stdin closes; print ``ready <url> <pid>`` once logged in."""
    from lguapi.gateway import Gateway, GatewayConfig
    from lguapi.gateway.webhooks import WebhookEndpoint

    ep = WebhookEndpoint.from_config({"name": "bench", "url": hook_url, "secret": SECRET,
                                      "events": events.split(",")})
    cfg = GatewayConfig(upstream_host="127.0.0.1", upstream_port=upstream_port, extensions=spec, port=0,
                        anonymous=frozenset({"read"}), webhooks=(ep,), webhook_outbox=outbox,
                        webhook_options={"concurrency": concurrency, "timeout": 10.0},
                        client_options={"heartbeat": 0})
    async with Gateway(cfg) as gw:
        if os.environ.get("BENCH_GC_FREEZE", "1") == "1":
            import gc

            gc.freeze()   # as Monitor(freeze_gc=True): thousands of connections out of full collections
        print("ready", gw.url, os.getpid(), flush=True)
        loop = asyncio.get_running_loop()
        if os.environ.get("BENCH_WEBHOOKS_TRACE"):
            loop.create_task(_trace(gw))
        await loop.run_in_executor(None, sys.stdin.read)


async def _trace(gw) -> None:
    """Once a second on stderr: the dispatcher's counts and the loop's lag (BENCH_WEBHOOKS_TRACE=1)."""
    loop = asyncio.get_running_loop()
    while True:
        t, cpu = loop.time(), time.process_time()
        await asyncio.sleep(1.0)
        print(f"trace: lag {1000 * (loop.time() - t - 1.0):.0f} ms, cpu {100 * (time.process_time() - cpu):.0f} %, "
              f"{gw.dispatcher.stats()}", file=sys.stderr)


# --- the receiver child ----------------------------------------------------------------------

class _ReceiverProtocol(asyncio.Protocol):
    """A lean HTTP/1.1 keep-alive responder (204 to every POST) that timestamps probe rings.

    The receiver stands in for the CRM: it must not be the bottleneck it measures, so it
    parses only what it needs (headers end, Content-Length) and JSON-decodes only probes.
    """

    def __init__(self, state: dict) -> None:
        self.state = state
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(self.buf[:head_end]).lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            self._request(bytes(self.buf[head_end + 4:end]))
            del self.buf[:end]

    def _request(self, body: bytes) -> None:
        now = time.time()
        self.state["received"] += 1
        if b'"remote_number":"' + PROBE_PREFIX.encode() in body:
            msg = json.loads(body)
            if msg["type"] == "call.ringing":
                self.state["probes"].setdefault(msg["data"]["remote_number"], (now, msg["ts"]))
        assert self.transport is not None
        self.transport.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


async def _receiver_child() -> None:
    """Print ``ready <port>``; stdin ``count`` -> ``{"received"}``, ``dump`` -> the probes, ``quit``."""
    state: dict = {"received": 0, "probes": {}}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _ReceiverProtocol(state), "127.0.0.1", 0)
    print("ready", server.sockets[0].getsockname()[1], flush=True)
    try:
        while True:
            words = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not words or words[0] == "quit":
                break
            out = state if words[0] == "dump" else {"received": state["received"]}
            print(json.dumps(out), flush=True)
    finally:
        server.close()


# --- orchestration ---------------------------------------------------------------------------

async def _read_line(proc: asyncio.subprocess.Process, prefix: str, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
        if not line:
            raise RuntimeError(f"child exited before printing {prefix!r}")
        text = line.decode().strip()
        if text.startswith(prefix):
            return text


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _probe(http, admin: str, extens: list[int], seconds: float, sent: dict[str, float]) -> None:
    """PROBE_HZ rings per second for ``seconds``, each hung up half a second later."""
    hangups: list[asyncio.Task] = []
    n = int(seconds * PROBE_HZ)
    start = time.monotonic()
    for i in range(n):
        await asyncio.sleep(max(0.0, start + i / PROBE_HZ - time.monotonic()))
        exten = extens[(i * 7919) % len(extens)]
        number = f"{PROBE_PREFIX}{i:07d}"
        sent[number] = time.time()
        async with http.post(f"{admin}/calls", json={"from": number, "to": f"0701234{exten:04d}"
                             if exten < 10000 else f"070{exten:08d}"}) as resp:
            await resp.read()
        hangups.append(asyncio.create_task(_hangup_later(http, admin, exten)))
    await asyncio.gather(*hangups)


async def _hangup_later(http, admin: str, exten: int) -> None:
    await asyncio.sleep(0.5)
    async with http.post(f"{admin}/phones/{exten}/hangup", json={}) as resp:
        await resp.read()


async def measure(n: int, rate: int, seconds: float, concurrency: int = 16, events: str = EVENTS) -> dict:
    """One run; returns the figures (latencies in ms)."""
    import aiohttp

    rx = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child-receiver",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=_env())
    hook_url = f"http://127.0.0.1:{(await _read_line(rx, 'ready', 60)).split()[1]}/hook"
    emu = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child-emulator", str(n),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=_env())
    gw = None
    try:
        _, port, admin_port = (await _read_line(emu, "ready", 60)).split()
        ports = {"port": port, "admin": admin_port}
        with tempfile.TemporaryDirectory() as tmp:
            gw = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--child-gateway", ports["port"], _spec(n), hook_url,
                str(Path(tmp) / "outbox.sqlite3"), str(concurrency), events,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=_env())
            t0 = time.monotonic()
            line = await _read_line(gw, "ready", 300)
            login_s = time.monotonic() - t0
            gw_pid = int(line.split()[2])
            assert emu.stdin is not None
            emu.stdin.write(f"rate {rate}\n".encode())
            await _read_line(emu, "ok rate", 120)
            await asyncio.sleep(3.0)   # the outbox and the receiver in their stride
            sent: dict[str, float] = {}
            before = (await _ask(rx, "count"))["received"]
            t1 = time.monotonic()
            async with aiohttp.ClientSession() as http:
                await _probe(http, f"http://127.0.0.1:{ports['admin']}", list(range(FIRST_EXTEN, FIRST_EXTEN + n)),
                             seconds, sent)
            window = time.monotonic() - t1
            during = (await _ask(rx, "count"))["received"] - before
            deadline = time.monotonic() + 30
            while len((got := await _ask(rx, "dump"))["probes"]) < len(sent) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            rss = _rss_mb(gw_pid)
            assert gw.stdin is not None
            gw.stdin.close()
            try:
                await asyncio.wait_for(gw.wait(), 60)
            except asyncio.TimeoutError:
                print("bench_webhooks: the gateway did not stop within 60 s; terminated", file=sys.stderr)
    finally:
        for child in (emu, rx):
            if child.stdin is not None and not child.stdin.is_closing():
                child.stdin.write(b"quit\n")
        for proc in (gw, emu, rx):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                await proc.wait()
    probes = got["probes"]
    lat = sorted((probes[k][0] - t) * 1000 for k, t in sent.items() if k in probes) or [float("nan")]
    hook = sorted((at - ts) * 1000 for at, ts in probes.values()) or [float("nan")]
    return {"p50": statistics.median(lat), "p99": _p99(lat), "max": lat[-1],
            "publish_to_received_p50": statistics.median(hook), "publish_to_received_p99": _p99(hook),
            "probes": len(sent), "lost": len(sent) - len(probes),
            "webhooks_per_s": during / window, "login_s": login_s, "rss_mb": rss}


def _p99(values: list[float]) -> float:
    return values[min(len(values) - 1, int(0.99 * len(values)))]


async def _ask(proc: asyncio.subprocess.Process, command: str) -> dict:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(command.encode() + b"\n")
    return json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))


def run(report) -> None:
    n, rate, seconds = (200, 500, 5.0) if report.quick else (5000, 2000, 20.0)
    r = asyncio.run(measure(n, rate, seconds))
    scenario = f"ring -> webhook received, {n:,} ext, firehose {rate:,} ev/s"
    report.add(scenario, "p50", r["p50"], "ms", higher_is_better=False)
    report.add(scenario, "p99", r["p99"], "ms", higher_is_better=False)
    report.add(scenario, "max", r["max"], "ms", higher_is_better=False)
    report.add(f"webhook deliveries during that run ({r['probes']} probes, {r['lost']} lost)", "received",
               r["webhooks_per_s"], "webhooks/s")
    report.add(f"gateway with {n:,} extensions and webhooks", "RSS", r["rss_mb"], "MB", higher_is_better=False)
    report.add(f"gateway with {n:,} extensions and webhooks", "logins", r["login_s"], "s", higher_is_better=False)


def _run_child(coro) -> None:
    """Run a child's coroutine on the event loop the CLI uses (uvloop when installed)."""
    sys.path.insert(0, str(SRC))
    from lguapi.monitor import new_event_loop

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(coro)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child-receiver"]:
        _run_child(_receiver_child())
        return 0
    if argv[:1] == ["--child-emulator"]:
        _run_child(_emulator_child(int(argv[1])))
        return 0
    if argv[:1] == ["--child-gateway"]:
        port, spec, url, outbox, conc, events = argv[1:7]
        _run_child(_gateway_child(int(port), spec, url, outbox, int(conc), events))
        return 0
    if any(a.startswith("--extensions") or a.startswith("--rate") for a in argv):
        import argparse

        ap = argparse.ArgumentParser()
        ap.add_argument("--extensions", type=int, default=5000)
        ap.add_argument("--rate", type=int, default=2000)
        ap.add_argument("--seconds", type=float, default=20.0)
        ap.add_argument("--concurrency", type=int, default=16)
        ap.add_argument("--events", default=EVENTS)
        a = ap.parse_args(argv)
        print(json.dumps(asyncio.run(measure(a.extensions, a.rate, a.seconds, a.concurrency, a.events)), indent=1))
        return 0
    sys.path.insert(0, str(HERE))
    from _harness import standalone

    return standalone(run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
