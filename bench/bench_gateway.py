"""Gateway benchmark: ``lguapi gateway`` logged into 5,000 extensions of the emulator in firehose mode.

Three processes: this one orchestrates and plays the HTTP clients; the emulator with its
firehose runs in a subprocess (``bench_monitor.py --serve``, steered over stdin); the
gateway runs as ``lguapi gateway --config`` in another (compiled core, uvloop when
installed), so its RSS is its own.

Measured per size:

* **login time** — from the gateway's ready line to every extension logged in (``/v1/health``);
* **feed fan-out** — 100 SSE subscribers on ``/v1/events`` (no filter: each gets every
  message) while the firehose offers events; counted are messages delivered to all
  subscribers per second over a window, and checked, once the firehose is paused and the
  feed has settled, that each subscriber got every id from its first to the feed's last
  (``count == last - first + 1``) and was not cut off;
* **REST command round trip** — ``POST /v1/extensions/{exten}/get_var_info`` one after
  another over one keep-alive connection, firehose paused: each is HTTP -> gateway -> SEED
  frame to the emulator -> CMDRESULT back -> JSON; median and p99;
* **gateway RSS** — resident set of the gateway process after the runs (``/proc/<pid>/statm``).

Targets (issue 11): >= 20,000 messages/s delivered in total with no loss for subscribers that
keep up; REST p99 < 20 ms. Run alone: ``python bench/bench_gateway.py [--quick] [--size N]``.
The ring-to-webhook latency benchmark is in ``bench_webhooks.py``.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
SUBSCRIBERS = 100

sys.path.insert(0, str(HERE))
from _harness import raise_nofile as _raise_nofile  # noqa: E402
from bench_monitor import _Child, _env, _spec  # noqa: E402  (the emulator child and its extensions)

_ID = re.compile(rb"(?:^|\n)id: (\d+)\n")


def _gateway_config(path: str, upstream_port: int, n: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"""
[upstream]
port = {upstream_port}
extensions = "{_spec(n)}"
login_concurrency = 100
[upstream.client]
heartbeat = 0
auto_reconnect = 0
[http]
port = 0
anonymous = ["read", "command"]
[feed]
queue = 5000
""")


class _Gateway:
    """``lguapi gateway`` as a subprocess: its URL from the ready line, its RSS from /proc."""

    def __init__(self, config: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "lguapi", "gateway", "--config", config],
                                     env=_env(False), stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("lguapi-gateway ready"):
            raise RuntimeError(f"the gateway did not start ({self.proc.poll()}): {line!r}")
        self.url = line.split("url=")[1].split()[0]

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class _Subscriber:
    """One raw SSE connection that counts frames and remembers its first and last id."""

    def __init__(self) -> None:
        self.count = 0
        self.first: int | None = None
        self.last: int | None = None
        self.cut = False
        self._tail = b""

    async def run(self, host: str, port: int, ready: asyncio.Event, counter: list) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /v1/events HTTP/1.1\r\nHost: bench\r\n\r\n")
        counter[0] += 1
        if counter[0] == SUBSCRIBERS:
            ready.set()
        try:
            while True:
                chunk = await reader.read(1 << 18)
                if not chunk:
                    return
                self._feed(chunk)
        finally:
            writer.close()

    def _feed(self, chunk: bytes) -> None:
        data = self._tail + chunk
        end = data.rfind(b"\n\n")
        if end < 0:
            self._tail = data
            return
        whole, self._tail = data[:end + 2], data[end + 2:]
        n = whole.count(b"\nid: ") + whole.startswith(b"id: ")
        if n:
            if self.first is None:
                self.first = int(_ID.search(whole).group(1))
            self.last = int(whole[whole.rfind(b"id: ") + 4:].split(b"\n", 1)[0])
            self.count += n
        if b"event: cut" in whole:
            self.cut = True

    @property
    def lossless(self) -> bool:
        return not self.cut and self.first is not None and self.count == self.last - self.first + 1


async def _fanout(url: str, emu: _Child, rate: float, window: float) -> dict:
    host, port = url.split("//")[1].rsplit(":", 1)
    subs = [_Subscriber() for _ in range(SUBSCRIBERS)]
    ready = asyncio.Event()
    counter = [0]
    tasks = [asyncio.create_task(s.run(host, int(port), ready, counter)) for s in subs]
    await asyncio.wait_for(ready.wait(), 60)
    await asyncio.sleep(0.5)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, emu.ask, f"rate {rate}")
    await asyncio.sleep(2.0)  # warm-up
    c0, t0 = sum(s.count for s in subs), time.perf_counter()
    await asyncio.sleep(window)
    c1, t1 = sum(s.count for s in subs), time.perf_counter()
    await loop.run_in_executor(None, emu.ask, "rate 0")
    last_id = await _settled_last_id(url)  # the gateway has published everything it got
    for _ in range(600):  # and the subscribers have read it
        if all(s.last == last_id or s.cut for s in subs):
            break
        await asyncio.sleep(0.1)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"offered_events_per_s": rate, "delivered_per_s": (c1 - c0) / (t1 - t0),
            "per_subscriber_per_s": (c1 - c0) / (t1 - t0) / SUBSCRIBERS, "last_id": last_id,
            "lossless_subscribers": sum(s.lossless and s.last == last_id for s in subs),
            "cut": sum(s.cut for s in subs)}


async def _settled_last_id(url: str) -> int:
    """The feed's last id once it has not moved for a second (the firehose is paused)."""
    import aiohttp

    last = -1
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(url + "/v1/snapshot") as r:
                now = (await r.json())["feed"]["last_id"]
            if now == last:
                return now
            last = now
            await asyncio.sleep(1.0)


async def _rest_round_trips(url: str, exten: str, count: int) -> dict:
    import aiohttp

    times = []
    async with aiohttp.ClientSession() as http:
        for i in range(count + 50):
            t0 = time.perf_counter()
            async with http.post(f"{url}/v1/extensions/{exten}/get_var_info", json={"name": "EXTEN"}) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"REST command failed: {r.status}")
            if i >= 50:  # the first ones warm up connections and caches
                times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"median_ms": statistics.median(times), "p99_ms": times[int(len(times) * 0.99) - 1], "n": len(times)}


async def _wait_logged_in(url: str, n: int) -> float:
    import aiohttp

    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(url + "/v1/health") as r:
                logins = (await r.json())["logins"]
            if logins["done"] >= n:
                if logins["failed"]:
                    raise RuntimeError(f"{logins['failed']} logins failed")
                return time.perf_counter() - t0
            await asyncio.sleep(0.1)


def measure(n: int, *, rate: float, window: float, commands: int) -> dict:
    """The gateway over ``n`` extensions: every number of the module docstring."""
    emu = _Child(["--serve", str(n)], _env(False))
    gw = None
    try:
        port = emu.read("starting the emulator")["port"]
        with tempfile.TemporaryDirectory(prefix="lguapi-bench-gw-") as tmp:
            config = os.path.join(tmp, "gateway.toml")
            _gateway_config(config, port, n)
            gw = _Gateway(config)
            res: dict = {"login_seconds": asyncio.run(_wait_logged_in(gw.url, n))}
            res["rss_logged_in_mb"] = gw.rss_mb()
            res["rest"] = asyncio.run(_rest_round_trips(gw.url, _spec(n).split("-")[0], commands))
            res["fanout"] = asyncio.run(_fanout(gw.url, emu, rate, window))
            res["rss_mb"] = gw.rss_mb()
            return res
    finally:
        if gw is not None:
            gw.close()
        emu.close()


def run(report) -> None:
    """Per size: login time, fan-out to 100 SSE subscribers, REST round trip median/p99, RSS."""
    _raise_nofile()
    sizes = (200,) if report.quick else tuple(int(s) for s in os.environ.get("BENCH_GATEWAY_SIZES", "5000").split(","))
    for n in sizes:
        r = measure(n, rate=300.0 if report.quick else 1000.0, window=2.0 if report.quick else 10.0,
                    commands=100 if report.quick else 2000)
        print(f"bench_gateway: {n} extensions: {json.dumps(r)}", file=sys.stderr, flush=True)
        v = "compiled"
        report.add(f"gateway {n} ext: login time", v, r["login_seconds"], "s", higher_is_better=False)
        f = r["fanout"]
        report.add(f"gateway {n} ext: feed fan-out, {SUBSCRIBERS} SSE subscribers, "
                   f"{f['offered_events_per_s']:g} ev/s offered", v, f["delivered_per_s"], "msgs/s")
        report.add(f"gateway {n} ext: subscribers that lost nothing (of {SUBSCRIBERS})", v,
                   max(f["lossless_subscribers"], 1e-9), "subscribers")
        report.add(f"gateway {n} ext: REST command round trip median", v, r["rest"]["median_ms"], "ms",
                   higher_is_better=False)
        report.add(f"gateway {n} ext: REST command round trip p99", v, r["rest"]["p99_ms"], "ms",
                   higher_is_better=False)
        report.add(f"gateway {n} ext: gateway RSS", v, r["rss_mb"], "MB", higher_is_better=False)


def main(argv: list[str]) -> int:
    from _harness import standalone

    if "--size" in argv:
        os.environ["BENCH_GATEWAY_SIZES"] = argv[argv.index("--size") + 1]
    return standalone(run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
