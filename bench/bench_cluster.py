"""Cluster benchmark: failover time, events/s through Redis Streams to a sink worker, Redis commands at steady state.

Real parts on loopback: a redis-server started here (Debian's, no persistence), the emulator
in this process, and cluster members as separate OS processes (``python -m
lguapi.cluster.run``, default lease settings: TTL 8 s, renewal every 1.5 s, 64 shards).

* **failover** — 3 members share E extensions (1,000 and 5,000; 150 in quick mode); one is
  killed with SIGKILL; measured from the kill until every extension of the dead member is
  logged in again (once), and until the survivors have also finished rebalancing between
  themselves (the assignment for 2 members moves a few more shards). Target (the cluster design):
  under 15 s for 1,000 extensions. The emulator's ``duplicate_login_byes`` is checked
  to stay 0.
* **Redis commands per second per 1,000 extensions** at steady state — the same 3 members,
  idle (the emulator's PINGs still flow as events): ``INFO stats`` ``total_commands_processed``
  over a window, divided by E/1,000; also the lease scripts alone (``EVALSHA``).
* **events/s through the streams to a sink worker** — 50,000 event messages (RINGEVENTs)
  appended by a :class:`StreamPublisher`, consumed by a :class:`SinkWorker` into SQLite and
  into JSON Lines; events/s from the first append to the last acknowledgement.

* **every fault scenario at 3 x 1,000** (``--scenarios``, not part of ``make bench``) — the
  suite's scenario run (``tests/kit/cluster_scenarios.py``: start with a sink-worker kill -9,
  kill -9 with calls in progress, join, graceful leave, SIGSTOP past the TTL, Redis restart)
  with the default lease settings and call traffic, each followed by the SQLite sink against
  the emulator's history and the duplicate-login BYE count; one line per scenario.

Run alone: ``python bench/bench_cluster.py [--quick]``;
``python bench/bench_cluster.py --scenarios [--extensions 1000]`` (3 members sharing 1,000
extensions by default, as the failover benchmark counts them).
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
for p in (str(SRC), str(ROOT / "tests")):
    if p not in sys.path:
        sys.path.insert(0, p)

DEFAULT_LEASES = ["--shards", "64"]


def _log(msg: str) -> None:
    print(f"bench_cluster: {msg}", file=sys.stderr, flush=True)


async def _members_scenario(redis_url: str, n_ext: int, window: float, workdir: Path) -> dict:
    from kit.cluster import Member, owned_once, session_counts, until, write_accounts
    from lguapi.monitor import raise_nofile_limit
    from lguapi.server import Directory, Emulator
    import redis.asyncio as aioredis

    raise_nofile_limit(n_ext + 256)  # the emulator's sessions; members are other processes
    directory = Directory.generate(f"100001-{100000 + n_ext}")
    ids = [u.id for u in directory.users()]
    accounts = write_accounts(directory, workdir / f"accounts-{n_ext}.toml")
    out: dict = {"extensions": n_ext}
    async with Emulator(directory, port=0) as emu:
        members = [Member(f"m{i}-{n_ext}", workdir, redis_url, emu.port, accounts, extra=DEFAULT_LEASES)
                   for i in range(3)]
        r = aioredis.from_url(redis_url)
        try:
            t0 = time.monotonic()
            await until(lambda: owned_once(emu, ids) and sum(m.status().get("online_extensions", 0)
                                                             for m in members) == n_ext, 600, "initial ownership",
                        interval=0.2)
            out["join_seconds"] = round(time.monotonic() - t0, 2)
            await asyncio.sleep(3)  # settle: logins and first events out of the way
            # steady state: Redis commands over a window
            s0 = await r.info("stats")
            c0 = await r.info("commandstats")
            await asyncio.sleep(window)
            s1 = await r.info("stats")
            c1 = await r.info("commandstats")
            total = (s1["total_commands_processed"] - s0["total_commands_processed"]) / window
            evalsha = (c1.get("cmdstat_evalsha", {}).get("calls", 0) - c0.get("cmdstat_evalsha", {}).get("calls", 0)
                       ) / window
            out["redis_cmds_per_s"] = round(total, 1)
            out["redis_cmds_per_s_per_1000_ext"] = round(total / (n_ext / 1000), 2)
            out["lease_scripts_per_s"] = round(evalsha, 2)
            # failover after kill -9
            victim = members[2]
            owned = victim.status().get("online_extensions", 0)
            victim.kill9()
            t_kill = time.monotonic()
            await until(lambda: sum(session_counts(emu).values()) <= n_ext - owned, 30, "the victim's sockets to close")
            orphans = [i for i in ids if session_counts(emu).get(i, 0) == 0]
            await until(lambda: all(session_counts(emu).get(i, 0) == 1 for i in orphans), 120, "failover",
                        interval=0.1)
            out["failover_seconds"] = round(time.monotonic() - t_kill, 2)
            await until(lambda: owned_once(emu, ids), 120, "rebalance after the failover", interval=0.1)
            out["failover_and_rebalance_seconds"] = round(time.monotonic() - t_kill, 2)
            out["failover_extensions"] = owned
            out["duplicate_login_byes"] = emu.duplicate_login_byes
        finally:
            for m in members:
                await m.stop(timeout=120)
            await r.aclose()
    return out


async def _stream_scenario(redis_url: str, n_msgs: int, sink_spec: str) -> dict:
    import redis.asyncio as aioredis

    from lguapi.cluster.sinkworker import SinkWorker
    from lguapi.cluster.stream import StreamPublisher, event_message
    from lguapi.events import RingEvent
    from lguapi.sinks import open_sink

    prefix = f"bench:{time.monotonic_ns()}"
    r = aioredis.from_url(redis_url)
    pub = StreamPublisher(r, prefix, streams=16, maxlen=max(100_000, n_msgs))
    sink = open_sink(sink_spec, batch=1000)
    worker = SinkWorker(r, sink, prefix=prefix, streams=16, consumer="bench", batch=1000, merge_window=0)
    await worker.setup()
    stop = asyncio.Event()
    t0 = time.perf_counter()
    task = asyncio.create_task(worker.run(stop))
    pub.start()
    for i in range(n_msgs):
        ev = RingEvent(name="RINGEVENT", raw=f"RINGEVENT|ISDIAL:0|UNIQUEID:{i}.1", exten=str(3001 + i % 1000),
                       ts=1.0 + i, is_dial=False, unique_id=f"{i}.1")
        pub.publish({**event_message(ev, ev.exten, "bench"), "node": "bench", "token": 1}, i % 64)
        if i % 5000 == 4999:
            await asyncio.sleep(0)
    await pub.close(timeout=120)
    t_pub = time.perf_counter() - t0
    while worker.stats["acked"] < n_msgs:
        await asyncio.sleep(0.05)
        if time.perf_counter() - t0 > 300:
            break
    t_all = time.perf_counter() - t0
    stop.set()
    await task
    await sink.close()
    await r.aclose()
    return {"messages": n_msgs, "append_per_s": round(n_msgs / t_pub), "stored_per_s": round(n_msgs / t_all),
            "stored": sink.stats["written"], "acked": worker.stats["acked"]}


def measure(quick: bool) -> dict:
    from kit.redisserver import RedisServer

    sizes = (150,) if quick else (1000, 5000)
    out: dict = {"members": [], "streams": []}
    with RedisServer() as redis_server, tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        for n in sizes:
            res = asyncio.run(_members_scenario(redis_server.url, n, 3.0 if quick else 15.0, Path(tmp)))
            _log(json.dumps(res))
            out["members"].append(res)
        n_msgs = 5_000 if quick else 50_000
        for kind in ("sqlite", "jsonl"):
            path = os.path.join(tmp, f"bench.{kind}")
            res = asyncio.run(_stream_scenario(redis_server.url, n_msgs, f"{kind}:{path}"))
            res["sink"] = kind
            _log(json.dumps(res))
            out["streams"].append(res)
    return out


def run(report) -> None:
    """Failover seconds per size, Redis commands/s per 1,000 extensions, stream events/s per sink."""
    r = measure(report.quick)
    for m in r["members"]:
        n = m["extensions"]
        report.add(f"cluster 3 x {n // 3}: failover after kill -9 ({m['failover_extensions']} ext)", "3 members",
                   m["failover_seconds"], "s", higher_is_better=False)
        report.add(f"cluster 3 x {n // 3}: failover + rebalance of the survivors", "3 members",
                   m["failover_and_rebalance_seconds"], "s", higher_is_better=False)
        report.add(f"cluster {n} ext: Redis commands/s per 1,000 ext (idle, PING events)", "3 members",
                   m["redis_cmds_per_s_per_1000_ext"], "cmd/s", higher_is_better=False)
        report.add(f"cluster {n} ext: lease script calls/s (all members)", "3 members", m["lease_scripts_per_s"],
                   "cmd/s", higher_is_better=False)
    for s in r["streams"]:
        report.add("stream -> sink worker, RINGEVENTs", f"{s['sink']}: appended", s["append_per_s"], "events/s")
        report.add("stream -> sink worker, RINGEVENTs", f"{s['sink']}: stored+acked", s["stored_per_s"], "events/s")


async def _scenarios(n_ext: int, workdir: Path, redis_server) -> list:
    from kit.cluster import Rig
    from kit.cluster_scenarios import ScenarioRun
    from lguapi.monitor import raise_nofile_limit
    from lguapi.server import Emulator

    raise_nofile_limit(n_ext + 256)
    rig = Rig(workdir, redis_server.url, n_ext, member_args=DEFAULT_LEASES)
    # the design's leases (TTL 8 s, renew 1.5 s) need a dead-session detection under TTL - renew
    async with Emulator(rig.directory, port=0, idle_timeout=4.0) as emu:
        run = ScenarioRun(rig, emu, redis_server, calls=max(40, n_ext // 5), rate=40.0, timeout=60 + n_ext / 10,
                          shards=64, log=lambda line: print(f"scenario {line}", flush=True))
        try:
            return await run.run()
        except BaseException:
            for m in rig.members:
                _log(f"{m.name}: {m.log_tail(1500)}")
            raise


def scenarios(argv: list[str]) -> int:
    """``--scenarios [--extensions N]``: every fault scenario once, one line each; 1 on a failed check."""
    import argparse

    from kit.redisserver import RedisServer

    p = argparse.ArgumentParser(prog="bench_cluster.py --scenarios")
    p.add_argument("--scenarios", action="store_true")
    p.add_argument("--extensions", type=int, default=1000,
                   help="extensions shared by the 3 members (default 1000, the design's 3 x 1,000)")
    args = p.parse_args(argv)
    t0 = time.monotonic()
    with RedisServer() as redis_server, tempfile.TemporaryDirectory(prefix="bench-scenarios-") as tmp:
        try:
            phases = asyncio.run(_scenarios(args.extensions, Path(tmp), redis_server))
        except AssertionError as e:
            print(f"scenario FAILED after {time.monotonic() - t0:.0f}s: {e}", flush=True)
            return 1
    calls = phases[-1].facts.get("calls", 0)
    print(f"scenarios: all {len(phases)} ok at {args.extensions} extensions in {time.monotonic() - t0:.0f}s; "
          f"sink == emulator history after each ({calls} calls compared in all), duplicate-login BYEs 0, "
          f"no call or event stored twice", flush=True)
    return 0


def main(argv: list[str]) -> int:
    if "--scenarios" in argv:
        return scenarios(argv)
    sys.path.insert(0, str(HERE))
    from _harness import standalone

    return standalone(run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
