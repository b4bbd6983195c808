"""Monitor(cluster=...) in real separate processes against the emulator and a real redis-server:
every extension logged in exactly once, kill -9 failover, join and graceful leave, SIGSTOP past
the lease TTL, Redis restarted — and never a duplicate-login BYE."""
from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from kit.cluster import EMULATOR_IDLE, Member, Rig, owned_once, session_counts, until
from lguapi.server import Emulator

#: the suite's scale (3 x 100); LGUAPI_CLUSTER_EXTENSIONS=1000 runs the design's 3 x 1,000 by hand
N_EXT = int(os.environ.get("LGUAPI_CLUSTER_EXTENSIONS", "100"))


@pytest.mark.slow  # real processes, 2-3 minutes: once per `make test` (compiled twin)
@pytest.mark.timeout(420)
async def test_three_members_share_fail_over_rebalance_and_survive_pause_and_redis_restart(tmp_path, redis_server):
    rig = Rig(tmp_path, redis_server.url, N_EXT)
    ids, members = rig.ids, rig.members
    async with Emulator(rig.directory, port=0, idle_timeout=EMULATOR_IDLE) as emu:
        def spawn(name: str) -> Member:
            return rig.spawn(name, emu.port)

        def shares() -> dict[str, int]:
            return {m.name: m.status().get("online_extensions", 0) for m in members if m.proc.poll() is None}

        try:
            a, b, c = spawn("a"), spawn("b"), spawn("c")
            await until(lambda: owned_once(emu, ids) and min(shares().values()) >= N_EXT // 6
                        and sum(shares().values()) == N_EXT, 120, "3 members to share every extension once")
            assert emu.duplicate_login_byes == 0

            # kill -9: the other two log b's extensions in again within TTL + login time
            c_owned = c.status()["online_extensions"]
            c.kill9()
            t_kill = time.monotonic()
            await until(lambda: sum(session_counts(emu).values()) < N_EXT, 10, "the kernel to close c's sockets")
            await until(lambda: owned_once(emu, ids), 60, "failover after kill -9")
            failover = time.monotonic() - t_kill
            print(f"failover of {c_owned} extensions after kill -9: {failover:.1f}s")
            assert emu.duplicate_login_byes == 0

            # a member joins: it gets about a third, by gradual handover
            d = spawn("d")
            await until(lambda: d.status().get("online_extensions", 0) >= N_EXT // 6 and owned_once(emu, ids), 90,
                        "the joiner's share")
            assert emu.duplicate_login_byes == 0

            # a member leaves gracefully (SIGTERM): its shards are handed over, never dropped twice
            assert await a.stop() == 0
            await until(lambda: owned_once(emu, ids) and sum(shares().values()) == N_EXT, 60, "graceful leave")
            assert emu.duplicate_login_byes == 0

            # SIGSTOP past the lease TTL: the server drops its silent sessions, the other member
            # takes its shards; resumed, it steps down without kicking anyone
            b.signal(signal.SIGSTOP)
            await until(lambda: owned_once(emu, ids) and d.status().get("online_extensions") == N_EXT, 60,
                        "takeover from the paused member")
            b.signal(signal.SIGCONT)
            await until(lambda: b.status().get("leases", {}).get("fenced", 0) + b.status().get("leases", {}).get(
                "lost", 0) > 0 or b.status().get("owned_shards") == 0, 30, "the resumed member to step down")
            await until(lambda: owned_once(emu, ids) and sum(shares().values()) == N_EXT, 60,
                        "rebalance after the resume")
            assert emu.duplicate_login_byes == 0

            # Redis restarted (no persistence: every key lost): leases re-asserted, nobody kicked
            redis_server.restart(down_for=1.0)
            await asyncio.sleep(4)
            await until(lambda: owned_once(emu, ids) and sum(shares().values()) == N_EXT and all(
                m.status().get("redis_connected") for m in (b, d)), 60, "resync after the Redis restart")
            assert emu.duplicate_login_byes == 0
        finally:
            codes = {m.name: await m.stop() for m in members}
            for m in members:
                if m.proc.returncode not in (0, -9):
                    print(m.name, m.log_tail())
        assert codes["b"] == 0 and codes["d"] == 0, codes
        assert emu.duplicate_login_byes == 0
