"""One stream: members publish to Redis Streams, `lguapi sink --cluster` stores it; the SQLite
store matches the emulator's call history call for call after a sink-worker kill -9 and restart,
a member killed with kill -9, a member joining, one leaving, one paused past its lease TTL and
Redis restarted — nothing lost, nothing doubled, no duplicate-login BYE."""
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

import pytest

from kit.cluster import SRC, EMULATOR_IDLE, Member, Rig, owned_once, until
from lguapi.cluster.stream import CallRecord, dumps, event_from_dict, merge_call_dicts
from lguapi.demo import compare_history, hang_up_everything
from lguapi.events import (ChannelOutEvent, CommandResultEvent, Disconnected, LoggedIn, LoginResultEvent,
                           Reconciled, RingEvent)
from lguapi.server import Emulator
from lguapi.server.traffic import TrafficConfig, TrafficGenerator
from lguapi.sinks import call_key, event_key

#: the suite's scale; LGUAPI_CLUSTER_EXTENSIONS=1000 runs 3 members x ~333 by hand
N_EXT = int(os.environ.get("LGUAPI_CLUSTER_EXTENSIONS", "60"))


def test_events_rebuilt_from_messages_keep_their_idempotency_keys():
    evs = [
        RingEvent(name="RINGEVENT", raw="RINGEVENT|ISDIAL:0|UNIQUEID:1.2", exten="3001", ts=5.0, is_dial=False,
                  unique_id="1.2"),
        ChannelOutEvent(name="CHANNELOUT", raw="CHANNELOUT|HCAUSE:16", exten="3002", ts=6.0, hangup_cause=16),
        CommandResultEvent(name="CMDRESULT", raw="x", exten="3001", ts=7.0, cmd="HOLD", res="OK",
                           fields=(("RES", "OK"), ("X", "1"))),
        LoggedIn(exten="3001", ts=8.0, address="h:1", result=LoginResultEvent(status=1, exten_number="3001")),
        Disconnected(exten="3001", ts=9.0, deliberate=True, reason="bye"),
        Reconciled(exten="3001", ts=10.0, statuses=(("3001", "Up", "x"),)),
    ]
    for ev in evs:
        back = event_from_dict(json.loads(dumps(ev.to_dict())))
        assert type(back) is type(ev) and back.to_dict() == ev.to_dict()
        assert event_key(back) == event_key(ev)
    with pytest.raises(ValueError, match="unknown event class"):
        event_from_dict({"event": "Nope"})


def test_views_of_one_call_merge_deterministically():
    a = {"id": "1.1", "exten": ["3001"], "ring_at": 1.0, "answer_at": None, "end_at": 5.0, "answered_by": None,
         "handled_by": [], "channels": ["SIP/3001-1"], "unique_ids": ["1.1"], "missed": True, "abandoned": False,
         "state": "ended", "end_reason": "hangup"}
    b = dict(a, exten=["3002"], answer_at=2.0, end_at=5.5, answered_by="3002", handled_by=["3002"],
             channels=["SIP/3002-2"], unique_ids=["1.1", "1.2"], missed=False)
    m1, m2 = merge_call_dicts([a, b]), merge_call_dicts([b, a])
    assert m1 == m2
    assert m1["exten"] in (["3001", "3002"], ["3002", "3001"]) and m1["answered_by"] == "3002"
    assert m1["ring_at"] == 1.0 and m1["end_at"] == 5.5 and m1["talk_seconds"] == 3.5 and not m1["missed"]
    rec = CallRecord(m1)
    assert call_key(rec) == call_key(CallRecord(merge_call_dicts([a, b])))
    assert rec.answered and rec.to_dict() == m1


class Worker:
    """`python -m lguapi sink --cluster URL --to sqlite:PATH` as a real process."""

    def __init__(self, tmp_path, redis_url: str, db) -> None:
        self.args = [sys.executable, "-m", "lguapi", "sink", "--cluster", redis_url, "--to", f"sqlite:{db}",
                     "--consumer", "worker-1", "--merge-window", "2", "--status", str(tmp_path / "sink.json")]
        self.status_path = tmp_path / "sink.json"
        self.log = open(tmp_path / "sink.log", "ab")
        self.env = dict(os.environ, PYTHONPATH=SRC)
        self.proc = self.start()

    def start(self) -> subprocess.Popen:
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
        self.proc = self.start()

    def stop(self) -> int:
        self.proc.terminate()
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(10)
        self.log.close()
        return rc


def stored_calls(db) -> list[CallRecord]:
    if not os.path.exists(db):
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [CallRecord(json.loads(d)) for (d,) in con.execute("SELECT data FROM calls")]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


async def run_traffic(emu, directory, seed: int, calls: int, during=None) -> None:
    config = TrafficConfig(rate=8, ring_mean=0.4, talk_mean=0.8, hold=0.2, hold_mean=0.2, transfer=0.1,
                           max_calls=calls, unanswered=0.2)
    gen = TrafficGenerator(emu.pbx, directory, config, rng=random.Random(seed))
    gen.start()
    try:
        if during is not None:
            await during()
        await asyncio.wait_for(gen.wait(), 120)
    finally:
        gen.close()
    hang_up_everything(emu.pbx, directory)


async def wait_for_sink(matches, phase: str) -> None:
    try:
        await until(matches, 90, f"the sink to hold every call of {phase}", interval=1.0)
    except AssertionError:
        raise AssertionError(f"{phase}: sink != emulator history: {matches.last}") from None


@pytest.mark.slow  # real processes, 2-3 minutes: once per `make test` (compiled twin)
@pytest.mark.timeout(420)
async def test_sqlite_sink_fed_by_the_consumer_group_matches_the_emulator(tmp_path, redis_server):
    rig = Rig(tmp_path, redis_server.url, N_EXT)
    directory, ids, members = rig.directory, rig.ids, rig.members
    db = tmp_path / "calls.db"
    monitored = {u.exten for u in directory.users()}
    async with Emulator(directory, port=0, idle_timeout=EMULATOR_IDLE) as emu:
        def spawn(name: str) -> Member:
            return rig.spawn(name, emu.port)

        def settled() -> bool:
            alive = [m for m in members if m.proc.poll() is None]
            return owned_once(emu, ids) and sum(m.status().get("online_extensions", 0) for m in alive) == N_EXT \
                and all(m.status().get("balanced") for m in alive)  # no handover left: traffic may start

        def sink_matches() -> bool:
            r = compare_history(emu.pbx.snapshot()["history"], stored_calls(db), monitored=monitored)
            sink_matches.last = r
            return r["ok"]

        worker = Worker(tmp_path, redis_server.url, db)
        try:
            for name in ("a", "b", "c"):
                spawn(name)
            await until(settled, 120, "3 members to own every extension once")

            async def kill_the_worker_midway():
                await until(lambda: worker.status().get("calls", 0) >= 5, 60, "the worker to store some calls")
                worker.kill9_and_restart()

            await run_traffic(emu, directory, 1, 60, during=kill_the_worker_midway)
            await wait_for_sink(sink_matches, "phase 1")

            members[2].kill9()  # a member dies between calls; its extensions fail over
            await until(settled, 60, "failover")
            spawn("d")
            await until(lambda: settled() and members[-1].status().get("online_extensions", 0) >= N_EXT // 6, 90,
                        "the joiner's share")
            await run_traffic(emu, directory, 2, 60)
            await wait_for_sink(sink_matches, "phase 2")

            assert await members[0].stop() == 0  # a member leaves gracefully
            await until(settled, 60, "handover after a graceful leave")
            await run_traffic(emu, directory, 3, 40)
            await wait_for_sink(sink_matches, "phase 3 (after a graceful leave)")

            members[1].signal(signal.SIGSTOP)  # paused past its lease TTL, then resumed
            await until(lambda: owned_once(emu, ids) and members[-1].status().get("online_extensions") == N_EXT,
                        60, "takeover from the paused member")
            members[1].signal(signal.SIGCONT)
            await until(settled, 60, "rebalance after the resume")
            await run_traffic(emu, directory, 4, 40)
            await wait_for_sink(sink_matches, "phase 4 (after SIGSTOP/SIGCONT)")

            redis_server.restart(down_for=1.0)  # no persistence: every key and stream entry lost
            await asyncio.sleep(4)
            await until(lambda: settled() and all(m.status().get("redis_connected") for m in members
                                                  if m.proc.poll() is None), 60, "resync after the Redis restart")
            await run_traffic(emu, directory, 5, 40)
            await wait_for_sink(sink_matches, "phase 5 (after a Redis restart)")
        finally:
            rc = worker.stop()
            for m in members:
                await m.stop()
        assert rc == 0
        assert emu.duplicate_login_byes == 0
    calls = stored_calls(db)
    history = [r for r in emu.pbx.snapshot()["history"] if set(r["extensions"]) - set(r["busy"])]
    assert len(calls) >= 200 and len(history) >= 200
    dup = [k for k, n in collections.Counter(c.id for c in calls).items() if n > 1]
    assert not dup, f"calls stored twice: {dup}"
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT exten, raw FROM events WHERE type IN ('RingEvent','ChannelOutEvent',"
                           "'ChannelListEvent')").fetchall()
    finally:
        con.close()
    assert rows and len(rows) == len(set(rows)), "an event stored twice"
    status = json.loads((tmp_path / "sink.json").read_text())
    assert status["bad"] == 0
