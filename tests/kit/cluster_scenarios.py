"""The cluster's fault scenarios as one run, shared by the suite (3 x 100) and ``bench/bench_cluster.py --scenarios`` (3 x 1,000).

Real parts on loopback: the emulator in this process, a real redis-server, members as separate
OS processes (``python -m lguapi.cluster.run``) and the SQLite sink as a consumer-group worker
process (``python -m lguapi sink --cluster``). :class:`ScenarioRun` plays, in order:

1. ``start`` — 3 members share every extension once; call traffic, the sink worker killed
   with ``kill -9`` and restarted in the middle of it;
2. ``kill -9 mid-call`` — calls ringing and connected (outside and internal, some with a party
   on a surviving member) on the victim's extensions when it is killed; after the failover
   (gap notice, GETSTATUSPEERS, the open calls adopted) they are answered or hung up;
3. ``join`` — a fourth member takes about a third; traffic;
4. ``leave`` — a member stops with SIGTERM and hands its shards over; traffic;
5. ``SIGSTOP`` — a member paused past its lease TTL, its shards taken, then resumed (it steps
   down without kicking anyone); traffic;
6. ``Redis restart`` — without persistence (every key and stream entry lost): the members
   re-assert their leases (their ``reasserted`` counters advance), the sink recreates its
   group; traffic.

After every phase: every extension logged in exactly once, the emulator's duplicate-login BYEs
0, and the sink's calls equal to the emulator's history call for call (``compare_history``);
at the end no call and no id event stored twice. Each phase is a :class:`Phase` (name,
seconds, details); a failed check raises ``AssertionError`` naming the phase.
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from kit.cluster import SRC, Member, Rig, owned_once, session_counts, until

__all__ = ["ScenarioRun", "Phase", "SinkProcess", "stored_calls"]


@dataclass
class Phase:
    """One scenario's outcome: wall seconds from its fault to the sink matching, and facts."""

    name: str
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        facts = " ".join(f"{k}={v}" for k, v in self.facts.items())
        return f"{self.name:<18} {self.seconds:7.1f}s  ok  {facts}"


class SinkProcess:
    """``python -m lguapi sink --cluster URL --to sqlite:PATH`` as a real process with a status file."""

    def __init__(self, workdir: Path, redis_url: str, db: Path, *, merge_window: float = 2.0) -> None:
        self.status_path = workdir / "sink.json"
        self.args = [sys.executable, "-m", "lguapi", "sink", "--cluster", redis_url, "--to", f"sqlite:{db}",
                     "--consumer", "worker-1", "--merge-window", str(merge_window), "--status", str(self.status_path)]
        self.log = open(workdir / "sink.log", "ab")
        self.env = dict(os.environ, PYTHONPATH=SRC)
        self.proc = self._start()

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                env=self.env)

    def status(self) -> dict:
        try:
            return json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return {}

    def kill9_and_restart(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.proc = self._start()

    def stop(self) -> int:
        self.proc.terminate()
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(10)
        self.log.close()
        return rc


def stored_calls(db: Path) -> list[Any]:
    """The calls of the sink's SQLite file (read-only), as CallRecords."""
    from lguapi.cluster.stream import CallRecord

    if not os.path.exists(db):
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [CallRecord(json.loads(d)) for (d,) in con.execute("SELECT data FROM calls")]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


class ScenarioRun:
    """All the scenarios against one emulator, one Redis and one sink worker (see the module docstring).

    ``calls``: traffic calls per phase (the first phase gets 1.5 times as many); ``rate``:
    arrivals per second; ``timeout``: bound on each wait (scale it with the extensions);
    ``shards``: the members' ``--shards``; ``merge_window``: the sink worker's (the members'
    views of one call are published within milliseconds of each other here); ``log``: called
    with each phase's line.
    """

    def __init__(self, rig: Rig, emu: Any, redis_server: Any, *, calls: int = 48, rate: float = 40.0,
                 timeout: float = 60.0, shards: int = 32, merge_window: float = 1.0,
                 log: Callable[[str], None] | None = None) -> None:
        self.rig, self.emu, self.redis_server = rig, emu, redis_server
        self.n = len(rig.ids)
        self.calls, self.rate, self.timeout, self.shards = calls, rate, timeout, shards
        self.db = rig.tmp_path / "calls.db"
        self.monitored = {u.exten for u in rig.directory.users()}
        self.phases: list[Phase] = []
        self.merge_window = merge_window
        self.worker: SinkProcess | None = None
        self._seed = 0
        self._log = log or (lambda s: None)
        self.last_compare: dict = {}

    # -- the whole run ---------------------------------------------------------------------
    async def run(self) -> list[Phase]:
        """Every scenario in order; returns the phases (raises on the first failed check)."""
        self.worker = SinkProcess(self.rig.tmp_path, self.redis_server.url, self.db, merge_window=self.merge_window)
        try:
            for step in (self.start, self.kill_mid_call, self.join, self.leave, self.pause, self.redis_restart):
                t0 = time.monotonic()
                phase = await step()
                phase.seconds = round(time.monotonic() - t0, 1)
                phase.facts["dup_byes"] = self.emu.duplicate_login_byes
                self.phases.append(phase)
                self._log(phase.line())
        finally:
            rc = self.worker.stop()
            codes = {m.name: await m.stop() for m in self.rig.members}
        self.final_checks(rc, codes)
        return self.phases

    def final_checks(self, worker_rc: int, codes: dict[str, int]) -> None:
        assert worker_rc == 0, f"the sink worker exited with {worker_rc}"
        bad = {k: v for k, v in codes.items() if v not in (0, -signal.SIGKILL)}
        assert not bad, f"members exited badly: {bad}"
        assert self.emu.duplicate_login_byes == 0
        calls = stored_calls(self.db)
        dup = [k for k, n in collections.Counter(c.id for c in calls).items() if n > 1]
        assert not dup, f"calls stored twice: {dup[:10]}"
        con = sqlite3.connect(self.db)
        try:
            rows = con.execute("SELECT exten, raw FROM events WHERE type IN ('RingEvent','ChannelOutEvent',"
                               "'ChannelListEvent')").fetchall()
        finally:
            con.close()
        assert rows and len(rows) == len(set(rows)), "an event stored twice"
        status = json.loads(self.worker.status_path.read_text()) if self.worker else {}
        assert status.get("bad") == 0, status

    # -- conditions ------------------------------------------------------------------------
    def alive(self) -> list[Member]:
        return [m for m in self.rig.members if m.proc.poll() is None]

    def shares(self) -> dict[str, int]:
        return {m.name: m.status().get("online_extensions", 0) for m in self.alive()}

    def settled(self) -> bool:
        """Every extension logged in once, by the live members, with no handover left."""
        alive = self.alive()
        return owned_once(self.emu, self.rig.ids) and sum(self.shares().values()) == self.n \
            and all(m.status().get("balanced") for m in alive)

    def sink_matches(self) -> bool:
        from lguapi.demo import compare_history

        r = compare_history(self.emu.pbx.snapshot()["history"], stored_calls(self.db), monitored=self.monitored)
        self.last_compare = r
        return bool(r["ok"])

    def mismatch_facts(self) -> str:
        """What a failed comparison leaves to go on: the emulator's rows of the calls not stored,
        and every live member's adopter counts (one such failure, once, in a loaded clean-clone
        run: an internal call of ``kill -9 mid-call`` never stored)."""
        details = " ".join((self.last_compare or {}).get("details", []))
        rows = [r for r in self.emu.pbx.snapshot()["history"] if str(r.get("id")) in details][:3]
        adopters = {m.name: m.status().get("adopted") for m in self.alive()}
        return f"rows not stored: {rows}; adopters: {adopters}"

    async def wait(self, cond: Callable[[], bool], what: str, timeout: float | None = None) -> float:
        return await until(cond, timeout or self.timeout, what, interval=0.1)

    async def check(self, phase: Phase) -> None:
        """The checks every phase ends with."""
        name = phase.name
        try:
            waited = await until(self.sink_matches, self.timeout + 30, f"the sink to hold every call of {name}",
                                 interval=0.25)
            phase.facts["sink_s"] = round(waited, 1)
        except AssertionError:
            raise AssertionError(f"{name}: sink != emulator history: {self.last_compare}; "
                                 f"{self.mismatch_facts()}") from None
        assert owned_once(self.emu, self.rig.ids), f"{name}: not every extension logged in exactly once"
        assert self.emu.duplicate_login_byes == 0, f"{name}: duplicate-login BYEs"
        phase.facts.update(calls=self.last_compare["matched"])  # every call so far, matched

    async def traffic_phase(self, phase: Phase, what: str) -> Phase:
        """Once settled (``what`` names the wait): a round of traffic, then the checks."""
        phase.facts["settle_s"] = round(await self.wait(self.settled, what), 1)
        t0 = time.monotonic()
        await self.traffic(self.calls)
        phase.facts["traffic_s"] = round(time.monotonic() - t0, 1)
        await self.check(phase)
        return phase

    async def traffic(self, calls: int, during: Callable[[], Awaitable[None]] | None = None) -> None:
        from lguapi.demo import hang_up_everything
        from lguapi.server.traffic import TrafficConfig, TrafficGenerator

        self._seed += 1
        config = TrafficConfig(rate=self.rate, ring_mean=0.25, talk_mean=0.5, hold=0.2, hold_mean=0.2, transfer=0.1,
                               max_calls=calls, unanswered=0.2)
        gen = TrafficGenerator(self.emu.pbx, self.rig.directory, config, rng=random.Random(self._seed))
        gen.start()
        try:
            if during is not None:
                await during()
            await asyncio.wait_for(gen.wait(), self.timeout + calls / self.rate)
        finally:
            gen.close()
        hang_up_everything(self.emu.pbx, self.rig.directory)

    # -- the scenarios ---------------------------------------------------------------------
    async def start(self) -> Phase:
        phase = Phase("start")
        for name in ("a", "b", "c"):
            self.rig.spawn(name, self.emu.port)
        t = await self.wait(lambda: self.settled() and min(self.shares().values()) >= self.n // 6,
                            "3 members to own every extension once", self.timeout * 2)
        phase.facts["owned_once_after_s"] = round(t, 1)

        worker = self.worker
        assert worker is not None

        async def kill_the_worker_midway() -> None:
            await self.wait(lambda: worker.status().get("calls", 0) >= 5, "the worker to store some calls")
            worker.kill9_and_restart()

        await self.traffic(int(self.calls * 1.5), during=kill_the_worker_midway)
        await self.check(phase)
        return phase

    async def kill_mid_call(self) -> Phase:
        """kill -9 of a member whose extensions are on calls; the calls end after the failover."""
        phase = Phase("kill -9 mid-call")
        victim = self.rig.members[2]
        mine = await self.extens_of(victim)
        others = sorted(self.monitored - set(mine))
        assert len(mine) >= 6 and len(others) >= 2, (len(mine), len(others))
        pbx = self.emu.pbx
        ring_answer, ring_abandon, up_phone, up_caller, internal_up, internal_ring = mine[:6]
        ids = {pbx.external_call("01055550001", ring_answer): "ring",     # answered after the failover
               pbx.external_call("01055550002", ring_abandon): "ring"}    # declined after it
        up_caller_call = pbx.external_call("01055550003", up_caller)      # connected; the caller hangs up
        ids.update({pbx.external_call("01055550004", up_phone): "up", up_caller_call: "up"})
        pbx.phone_answer(up_phone)
        pbx.phone_answer(up_caller)
        ids[pbx.phone_dial(others[0], internal_up)] = "up"     # a survivor's extension calls the victim's
        pbx.phone_answer(internal_up)
        ids[pbx.phone_dial(internal_ring, others[1])] = "ring"  # the victim's extension rings a survivor's
        await self.wait(lambda: self.published(victim, ids), "the victim to publish the calls in progress")
        owned = victim.status().get("online_extensions", 0)
        victim.kill9()
        t_kill = time.monotonic()
        await self.wait(lambda: sum(session_counts(self.emu).values()) < self.n, "the kernel to close its sockets")
        await self.wait(lambda: owned_once(self.emu, self.rig.ids), "failover after kill -9")
        phase.facts["failover_s"] = round(time.monotonic() - t_kill, 1)
        phase.facts["failed_over_ext"] = owned
        def total(part: str, key: str) -> int:
            return sum(m.status().get(part, {}).get(key, 0) for m in self.alive())

        # a gap notice per taken extension, GETSTATUSPEERS, then the open calls adopted
        await self.wait(lambda: total("node", "gaps") >= owned and total("adopted", "adopted") >= len(ids),
                        "the new owners' gap notices and adoption of the calls in progress")
        phase.facts["gaps"] = total("node", "gaps")
        # the calls go on after the failover and end normally
        pbx.phone_answer(ring_answer)
        pbx.phone_hangup(ring_abandon)
        pbx.phone_hangup(up_phone)
        pbx.external_hangup(up_caller_call)
        pbx.phone_hangup(others[0])
        pbx.phone_answer(others[1])
        await self.wait(lambda: pbx.phone_state(others[1]) != "ringing", "the answer after the failover")
        pbx.phone_hangup(ring_answer)
        pbx.phone_hangup(internal_ring)
        await self.wait(lambda: all(pbx.phone_state(e) == "idle" for e in mine[:6] + others[:2]), "the calls to end")
        await self.check(phase)
        phase.facts["mid_call"] = len(ids)
        phase.facts["adopted_ended"] = total("adopted", "ended")
        await self.wait(self.settled, "the survivors to settle")
        return phase

    async def join(self) -> Phase:
        phase = Phase("join")
        d = self.rig.spawn("d", self.emu.port)
        await self.wait(lambda: self.settled() and d.status().get("online_extensions", 0) >= self.n // 6,
                        "the joiner's share")
        return await self.traffic_phase(phase, "the joiner's share")

    async def leave(self) -> Phase:
        phase = Phase("leave (SIGTERM)")
        assert await self.rig.members[0].stop() == 0
        return await self.traffic_phase(phase, "handover after a graceful leave")

    async def pause(self) -> Phase:
        phase = Phase("SIGSTOP past TTL")
        b, d = self.rig.members[1], self.rig.members[3]
        b.signal(signal.SIGSTOP)
        t0 = time.monotonic()
        await self.wait(lambda: owned_once(self.emu, self.rig.ids) and d.status().get("online_extensions") == self.n,
                        "takeover from the paused member")
        phase.facts["takeover_s"] = round(time.monotonic() - t0, 1)
        b.signal(signal.SIGCONT)

        def stepped_down() -> bool:
            st = b.status()
            return st.get("leases", {}).get("fenced", 0) + st.get("leases", {}).get("lost", 0) > 0 \
                or st.get("owned_shards") == 0

        await self.wait(stepped_down, "the resumed member to step down")
        return await self.traffic_phase(phase, "rebalance after the resume")

    async def redis_restart(self) -> Phase:
        phase = Phase("Redis restart")
        alive = self.alive()
        before = {m.name: m.status().get("leases", {}).get("reasserted", 0) for m in alive}
        await asyncio.to_thread(self.redis_server.restart, down_for=1.0)

        def resynced() -> bool:  # every member holding shards re-created its leases in the new Redis
            sts = {m.name: m.status() for m in alive}
            return all(st.get("redis_connected") and (st.get("leases", {}).get("reasserted", 0) > before[n]
                                                      or not st.get("owned_shards")) for n, st in sts.items())

        await self.wait(resynced, "every member to re-assert its leases in the restarted Redis")
        phase.facts["reasserted"] = sum(m.status().get("leases", {}).get("reasserted", 0) for m in alive)
        return await self.traffic_phase(phase, "resync after the Redis restart")

    # -- helpers ---------------------------------------------------------------------------
    async def extens_of(self, member: Member) -> list[str]:
        """The extensions whose shard lease ``member`` holds (read from Redis)."""
        import redis.asyncio as aioredis

        from lguapi.cluster.leases import shard_of

        me = member.status().get("member")
        r = aioredis.from_url(self.redis_server.url)
        try:
            values = await r.mget([f"lguapi:cluster:lease:{s}" for s in range(self.shards)])
        finally:
            await r.aclose()
        held = {s for s, v in enumerate(values) if v and _text(v).split("|", 1)[0] == me}
        by_id = {u.id: u.exten for u in self.rig.directory.users()}
        return sorted(by_id[i] for i in self.rig.ids if shard_of(i, self.shards) in held)

    def published(self, member: Member, calls: dict[str, str]) -> bool:
        """Has ``member`` published each call in its state (``ring``: any update, ``up``: answered)?"""
        import redis

        from lguapi.cluster.stream import message_body

        me = member.status().get("member")
        uids = self._uids(calls)
        seen: dict[str, set[str]] = collections.defaultdict(set)
        r = redis.Redis.from_url(self.redis_server.url)
        try:
            for key in r.scan_iter("lguapi:cluster:stream:*"):
                entries: Any = r.xrevrange(key, count=1000)
                for _id, fields in entries:
                    msg = json.loads(message_body(fields))
                    if msg.get("node") != me or msg.get("kind") != "call":
                        continue
                    keys = {str(u) for u in msg["data"].get("unique_ids") or ()} | {str(msg["data"].get("id"))}
                    for cid, u in uids.items():
                        if keys & u:
                            seen[cid].add(msg["type"])
        finally:
            r.close()
        return all(seen[c] and (s == "ring" or "call.answered" in seen[c]) for c, s in calls.items())

    def _uids(self, calls: dict[str, str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {c: {c} for c in calls}
        for ch in self.emu.pbx.snapshot()["channels"]:
            if ch.get("call") in out and ch.get("uniqueid"):
                out[ch["call"]].add(str(ch["uniqueid"]))
        return out


def _text(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v
