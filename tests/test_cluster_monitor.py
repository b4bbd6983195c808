"""Monitor(cluster=...) in real separate processes against the emulator, a real redis-server and
the SQLite sink as a consumer-group worker: one run of every scenario (tests/kit/cluster_scenarios.py)
— sink worker kill -9 mid-traffic, member kill -9 with calls in progress, join, graceful leave,
SIGSTOP past the lease TTL, Redis restarted — each followed by: every extension logged in exactly
once, no duplicate-login BYE, the sink equal to the emulator's call history call for call."""
from __future__ import annotations

import os

import pytest

from kit.cluster import EMULATOR_IDLE, Rig
from kit.cluster_scenarios import ScenarioRun
from lguapi.server import Emulator

#: the suite's scale (3 x 100); `bench/bench_cluster.py --scenarios` runs 3 x 1,000
N_EXT = int(os.environ.get("LGUAPI_CLUSTER_EXTENSIONS", "100"))


@pytest.mark.slow  # real processes: once per `make test` (compiled twin)
@pytest.mark.timeout(420)
async def test_every_scenario_keeps_one_login_per_extension_and_the_sink_equal_to_the_history(tmp_path, redis_server):
    rig = Rig(tmp_path, redis_server.url, N_EXT)
    async with Emulator(rig.directory, port=0, idle_timeout=EMULATOR_IDLE) as emu:
        run = ScenarioRun(rig, emu, redis_server, log=print)
        try:
            phases = await run.run()
        except BaseException:
            for m in rig.members:
                print(m.name, m.log_tail())
            raise
    assert [p.name for p in phases] == ["start", "kill -9 mid-call", "join", "leave (SIGTERM)", "SIGSTOP past TTL",
                                        "Redis restart"]
    mid = phases[1].facts
    assert mid["mid_call"] == 6 and mid["adopted_ended"] >= 1 and mid["gaps"] >= mid["failed_over_ext"], mid
    assert all(p.facts["dup_byes"] == 0 for p in phases)
    assert phases[-1].facts["calls"] >= 200  # calls matched in all
