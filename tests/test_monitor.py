"""Monitor against the real emulator over TCP on 127.0.0.1 (port 0): logins, states, counters,
the emulator's own history, one lost connection, sinks."""
from __future__ import annotations

import asyncio
import json
import random

import pytest

import lguapi
from lguapi.demo import compare_history, hang_up_everything
from lguapi.events import Disconnected, Reconnected
from lguapi.monitor import LoginProgress, Monitor, load_accounts
from lguapi.sinks import JsonlSink
from lguapi.server.accounts import Directory
from lguapi.server.emulator import Emulator
from lguapi.server.traffic import TrafficConfig, TrafficGenerator

from kit.wait import until

FAST = {"auto_reconnect": 0.2, "heartbeat": 0}


def session_of(emu: Emulator, exten: str):
    (s,) = [s for s in emu.sessions() if s.exten == exten]
    return s


def visible_history(emu: Emulator, since: float | None = None) -> list[dict]:
    """Finished calls some extension saw (an outside caller hearing busy reaches no one)."""
    rows = []
    for r in emu.pbx.snapshot()["history"]:
        if set(r["extensions"]) - set(r["busy"]) and (since is None or r["start"] >= since - 0.5):
            rows.append(r)
    return rows


class Ended:
    def __init__(self):
        self.calls = {}

    def __call__(self, u):
        if u.kind == "ended":
            if u.call.end_reason == "merged":
                self.calls.pop(u.call.id, None)
            else:
                self.calls[u.call.id] = u.call


async def test_monitor_with_traffic_matches_the_emulators_history(tmp_path):
    directory = Directory.generate("3001-3050")
    sink = tmp_path / "events.jsonl"
    async with Emulator(directory, port=0) as emu:
        progress: list[LoginProgress] = []
        async with Monitor("127.0.0.1", emu.port, accounts=directory, sink=str(sink), login_concurrency=16,
                           client_options=FAST, on_progress=progress.append) as m:
            assert m.login_progress == LoginProgress(50, 50, 0)
            assert [p.done for p in progress] == list(range(1, 51))
            assert m.snapshot()["states"]["idle"] == 50
            ended = Ended()
            m.add_update_hook(ended)
            t0 = emu.pbx.snapshot()  # nothing yet
            assert t0["history"] == []
            config = TrafficConfig(rate=25, ring_mean=0.3, talk_mean=0.6, hold=0.2, hold_mean=0.1, transfer=0.1,
                                   max_calls=60, unanswered=0.2)
            gen = TrafficGenerator(emu.pbx, directory, config, rng=random.Random(5))
            gen.start()
            busy_seen = set()

            async def watch_states():
                while True:
                    for state in m.states().values():
                        busy_seen.add(state)
                    await asyncio.sleep(0.01)

            watcher = asyncio.create_task(watch_states())
            try:
                await asyncio.wait_for(gen.wait(), 30)
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            gen.close()
            hang_up_everything(emu.pbx, directory)
            await until(lambda: not m.tracker.active, what="every tracked call to end")
            history = visible_history(emu)
            assert len(history) >= 40
            snap = m.snapshot()
            json.dumps(snap)  # JSON-serialisable
            total = snap["counters"]["total"]
            assert total["active"] == 0 and total["ringing"] == 0
            assert total["ended"] == len(history) == len(ended.calls)
            assert total["answered"] == sum(1 for r in history if r["answered"])
            assert total["missed"] + total["abandoned"] <= total["ended"] - total["answered"]
            assert snap["counters"]["domains"]["ipcctest.com"]["ended"] == total["ended"]
            assert total["avg_ring_seconds"] is not None and total["avg_talk_seconds"] is not None
            result = compare_history(emu.pbx.snapshot()["history"], list(ended.calls.values()),
                                     monitored={u.exten for u in directory.users()})
            assert result["ok"], result
            assert result["matched"] == len(history)
            assert snap["states"]["idle"] == 50
            assert {"ringing", "talking"} <= busy_seen
            assert snap["events"]["total"] > 4 * len(history)
    # the sink holds every event (connection-state ones included) and every finished call, once
    records = [json.loads(x) for x in sink.read_text(encoding="utf-8").splitlines() if x.strip()]
    assert sum(1 for r in records if r["kind"] == "event") == m.events_seen
    assert sorted(r["id"] for r in records if r["kind"] == "call") == sorted(ended.calls)
    assert len({r["key"] for r in records}) == len(records)
    assert m.snapshot()["sink"]["dropped"] == 0


async def test_losing_one_connection_leaves_the_others_alone():
    directory = Directory.generate("3001-3010")
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory, client_options=FAST) as m:
            lost: dict[str, int] = {}
            back: dict[str, int] = {}
            seen_offline: list[dict] = []

            def on_lost(ev, e):
                lost[e] = lost.get(e, 0) + 1
                # once every callback of this event ran (the reconnect takes round trips
                # more), the monitor shows that extension offline and only it
                asyncio.get_running_loop().call_soon(
                    lambda: seen_offline.append((m.line_state(e), m.snapshot(calls=0)["states"])))

            for u in directory.users():
                c = m.client(u.exten)
                c.on(Disconnected, lambda ev, e=u.exten: on_lost(ev, e))
                c.on(Reconnected, lambda ev, e=u.exten: back.__setitem__(e, back.get(e, 0) + 1))
            others_before = {s.exten: s for s in emu.sessions() if s.exten != "3005"}
            session_of(emu, "3005").close("test: killed by the emulator")
            await until(lambda: seen_offline, what="3005 to lose its connection")
            assert seen_offline == [("offline", {"offline": 1, "idle": 9, "ringing": 0, "talking": 0, "held": 0})]
            # a call to another extension meanwhile is seen as usual
            call_id = emu.pbx.external_call("01055556666", directory.by_exten("3002").callerid)
            await until(lambda: m.line_state("3002") == "ringing", what="3002 ringing")
            emu.pbx.phone_answer("3002")
            await until(lambda: m.line_state("3002") == "talking", what="3002 talking")
            await until(lambda: m.line_state("3005") == "idle", what="3005 back")
            assert lost == {"3005": 1} and back == {"3005": 1}
            # the other sessions on the emulator side are the very same connections
            others_after = {s.exten: s for s in emu.sessions() if s.exten != "3005"}
            assert all(others_after[e] is s for e, s in others_before.items())
            emu.pbx.external_hangup(call_id)
            await until(lambda: m.line_state("3002") == "idle", what="3002 idle")
            # the tracker confirms a call's end after a short grace (legs on other connections)
            await until(lambda: m.snapshot()["counters"]["total"]["ended"] == 1, what="the call counted")
            snap = m.snapshot()
            assert snap["states"]["idle"] == 10
            assert snap["counters"]["total"]["answered"] == 1


async def test_states_follow_one_call_through_hold():
    directory = Directory.generate("3001-3003")
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory, cipher="basic", client_options=FAST) as m:
            assert m.states() == {"3001": "idle", "3002": "idle", "3003": "idle"}
            call_id = emu.pbx.external_call("01012345678", directory.by_exten("3001").callerid)
            await until(lambda: m.line_state("3001") == "ringing", what="ringing")
            assert m.snapshot()["counters"]["total"]["ringing"] == 1
            emu.pbx.phone_answer("3001")
            await until(lambda: m.line_state("3001") == "talking", what="talking")
            client = m.client("3001")
            await client.hold()
            await until(lambda: m.line_state("3001") == "held", what="held")
            await client.unhold()
            await until(lambda: m.line_state("3001") == "talking", what="talking again")
            assert m.states()["3002"] == "idle"
            emu.pbx.external_hangup(call_id)
            await until(lambda: m.line_state("3001") == "idle", what="idle")
            await until(lambda: m.snapshot()["counters"]["total"]["ended"] == 1, what="the call counted")
            tot = m.snapshot()["counters"]["total"]
            assert (tot["ended"], tot["answered"], tot["missed"], tot["active"]) == (1, 1, 0, 0)


async def test_failed_logins_are_counted_and_progress_streams(tmp_path):
    directory = Directory.generate("3001-3004")
    accounts = [(u.id, u.password) for u in directory.users()]
    accounts[2] = (accounts[2][0], "wrong-password")
    async with Emulator(directory, port=0) as emu:
        m = Monitor("127.0.0.1", emu.port, accounts=accounts, login_concurrency=2, client_options=FAST)
        seen = []

        async def follow():
            async for p in m.progress():
                seen.append(p)

        await m.start(wait=False)
        follower = asyncio.create_task(follow())
        try:
            assert await m.wait_logged_in() == LoginProgress(4, 4, 1)
            await asyncio.wait_for(follower, 5)
            assert seen[-1] == LoginProgress(4, 4, 1)
            snap = m.snapshot()
            assert snap["logins"]["failed"] == 1 and snap["logins"]["online"] == 3
            # extensions and domains learnt from the login results
            assert set(snap["extensions"]) == {"3001", "3002", "3004", accounts[2][0]}
            assert snap["extensions"][accounts[2][0]]["state"] == "offline"
            assert "refused" in snap["extensions"][accounts[2][0]]["error"]
            assert "wrong-password" not in json.dumps(snap) and "secret-" not in json.dumps(snap)
            assert "secret" not in repr(m) and "secret" not in repr(load_accounts(accounts))
        finally:
            await m.close()


async def test_accounts_file_and_per_domain_counters(tmp_path):
    path = tmp_path / "accounts.toml"
    path.write_text(
        '[[domain]]\nname = "alpha.example"\n'
        '[[domain.user]]\nid = "07011110001"\npassword = "pw-a1"\nexten = "101t4001"\ncallerid = "07011110001"\n'
        '[[domain.user]]\nid = "07011110002"\npassword = "pw-a2"\nexten = "101t4002"\ncallerid = "07011110002"\n'
        '[[domain]]\nname = "beta.example"\n'
        '[[domain.user]]\nid = "07022220001"\npassword = "pw-b1"\nexten = "5001"\ncallerid = "07022220001"\n',
        encoding="utf-8")
    directory = Directory.from_toml(path)
    async with Emulator(directory, port=0) as emu:
        async with lguapi.Monitor("127.0.0.1", emu.port, accounts=str(path), client_options=FAST) as m:
            assert m.login_progress == LoginProgress(3, 3, 0)
            call_id = emu.pbx.external_call("0311112222", "07022220001")
            await until(lambda: m.line_state("5001") == "ringing", what="5001 ringing")
            emu.pbx.external_hangup(call_id)
            await until(lambda: m.snapshot()["counters"]["total"]["ended"] == 1, what="call ended")
            doms = m.snapshot()["counters"]["domains"]
            assert set(doms) == {"alpha.example", "beta.example"}
            assert doms["beta.example"]["ended"] == 1 and doms["alpha.example"]["ended"] == 0
            assert m.snapshot()["extensions"]["101t4001"]["domain"] == "alpha.example"
            # a call of the other domain: each domain counts its own, the total is both
            call_id = emu.pbx.external_call("0322223333", "07011110001")
            await until(lambda: m.line_state("101t4001") == "ringing", what="101t4001 ringing")
            emu.pbx.external_hangup(call_id)
            await until(lambda: m.snapshot()["counters"]["total"]["ended"] == 2, what="second call ended")
            counters = m.snapshot()["counters"]
            assert counters["domains"]["alpha.example"]["ended"] == counters["domains"]["beta.example"]["ended"] == 1
            for field in ("ended", "answered", "missed", "abandoned"):
                assert counters["total"][field] == sum(d[field] for d in counters["domains"].values())
            assert counters["total"]["missed"] + counters["total"]["abandoned"] == 2  # neither was answered
            assert counters["total"]["avg_ring_seconds"] is not None


def test_bad_accounts_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="listed twice"):
        load_accounts([("a", "x"), ("a", "y")])
    with pytest.raises(ValueError, match="pair"):
        load_accounts(["just-an-id"])
    with pytest.raises(ValueError, match="no accounts"):
        Monitor("127.0.0.1", 1, accounts=[])
    with pytest.raises(ValueError, match="login_concurrency"):
        Monitor("127.0.0.1", 1, accounts=[("a", "b")], login_concurrency=0)


class SlowSink:
    """A sink that suspends now and then, like one writing to a slow disk or database."""

    def __init__(self):
        self.events = []
        self.calls = []
        self.closed = False

    async def write_event(self, ev):
        self.events.append(ev)
        if len(self.events) % 20 == 0:
            await asyncio.sleep(0.002)

    async def write_call(self, call):
        self.calls.append(call)

    async def flush(self):
        pass

    async def close(self):
        self.closed = True


class GatedSink(SlowSink):
    """A sink whose writes wait while its gate is closed: the test, not the machine's speed,
    decides when the sink falls behind."""

    def __init__(self):
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    async def write_event(self, ev):
        await self.gate.wait()
        self.events.append(ev)


async def test_a_slow_sink_pauses_reading_and_loses_nothing():
    from lguapi.server.firehose import Firehose

    directory = Directory.generate("3001-3010")
    sink = GatedSink()
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory, sink=sink, sink_high_water=200,
                           client_options=FAST) as m:
            hose = Firehose(emu, 4000, rng=random.Random(3))
            hose.start()
            try:
                for episode in (1, 2, 3):  # the sink stalls three times: three pause episodes
                    sink.gate.clear()
                    await until(lambda: m.sink_pauses >= episode, what=f"pause episode {episode}")
                    sink.gate.set()
                    await until(lambda: m.snapshot(calls=0)["sink"]["backlog"] <= 50,
                                what="the sink to catch up to the low-water mark")
            finally:
                hose.close()
                sink.gate.set()
            # everything read is written once the sink catches up; nobody was disconnected
            await until(lambda: not m.snapshot()["sink"]["backlog"] and len(sink.events) == m.events_seen,
                        what="the sink to catch up")
            snap = m.snapshot()
            assert snap["sink"]["dropped"] == 0
            assert len(sink.events) == m.events_seen == snap["sink"]["written"] - len(sink.calls)
            assert snap["logins"]["online"] == 10 and len(emu.sessions()) == 10
    assert not sink.closed  # a sink object passed in is the caller's to close


async def test_only_the_connections_that_feed_a_behind_sink_are_paused():
    directory = Directory.generate("3001-3010")
    sink = SlowSink()
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory, sink=sink, sink_high_water=40,
                           client_options=FAST) as m:
            paused: set[str] = set()
            for exten in m.states():  # record which connections get paused, through each client
                c = m.client(exten)
                orig = c.pause_reading

                def spy(orig=orig, exten=exten):
                    paused.add(exten)
                    orig()
                c.pause_reading = spy
            base = m.events_seen
            for i in range(600):  # a burst on one line only
                emu.deliver("3001", f"RECVPEERMSG|FROM:3002|MSG:burst {i}")
            await until(lambda: m.events_seen - base >= 600 and not m.snapshot()["sink"]["backlog"],
                        what="the burst to be read and written")
            assert m.sink_pauses >= 1
            assert paused == {"3001"}  # the quiet nine were never touched
            assert m.snapshot()["sink"]["dropped"] == 0
            assert sum(1 for e in sink.events if getattr(e, "message", "").startswith("burst")) == 600


class CountingJsonl(JsonlSink):
    """The JSONL sink, telling which task handed it each batch."""

    def __init__(self, path):
        super().__init__(path)
        self.inline = 0  # batches written by the reading path, not by the monitor's writer task

    def write_batch(self, items):
        task = asyncio.current_task()
        if task is None or task.get_name() != "lguapi-monitor-sink":
            self.inline += 1
        return super().write_batch(items)


async def test_a_batching_sink_behind_is_written_by_the_reader_and_nothing_is_paused(tmp_path):
    directory = Directory.generate("3001-3010")
    sink = CountingJsonl(tmp_path / "events.jsonl")
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory, sink=sink, sink_high_water=50,
                           client_options=FAST) as m:
            backlog: list[int] = []
            m.add_event_hook(lambda ev: backlog.append(m.snapshot(calls=0)["sink"]["backlog"]))
            base = m.events_seen
            for i in range(3000):  # one burst on one line: reads of many frames each
                emu.deliver("3001", f"RECVPEERMSG|FROM:3002|MSG:burst {i}")
            await until(lambda: m.events_seen - base >= 3000 and not m.snapshot(calls=0)["sink"]["backlog"],
                        what="the burst to be read and written")
            await sink.flush()
            assert sink.inline >= 1  # the reader wrote chunks itself ...
            assert m.sink_pauses == 0  # ... so no connection was paused and resumed
            assert max(backlog) <= 50  # the queue never grew past the mark
            assert m.snapshot(calls=0)["sink"]["dropped"] == 0
            lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
            assert sum(1 for r in lines if str(r.get("message", "")).startswith("burst")) == 3000
    await sink.close()


@pytest.mark.parametrize("background", [False, True])
async def test_a_monitor_whose_sqlite_sink_fills_up_keeps_going_and_closes(tmp_path, caplog, background):
    """A full disk under the sink (SQLite's max_page_count, the same SQLITE_FULL): the monitor
    keeps its connections and counters, logs the failure, and closes in bounded time; the
    records wait in the sink, and once the database may grow again none of them is missing.
    The same whether the sink commits as it is handed records or in the background."""
    import sqlite3

    from lguapi.sinks import SqliteSink

    class SmallDatabase(SqliteSink):
        def _open(self) -> None:
            super()._open()
            self._conn.execute("PRAGMA max_page_count=12")

        def grow(self) -> None:
            self._executor.submit(self._conn.execute, "PRAGMA max_page_count=1000000").result()

    directory = Directory.generate("3001-3020")
    db = tmp_path / "small.db"
    sink = SmallDatabase(db, batch=64, flush_interval=0.05, background=background)
    async with Emulator(directory, port=0) as emu:
        m = Monitor("127.0.0.1", emu.port, accounts=directory, sink=sink, client_options=FAST)
        await m.start()
        try:
            config = TrafficConfig(rate=40, ring_mean=0.05, talk_mean=0.1, max_calls=150)
            gen = TrafficGenerator(emu.pbx, directory, config, rng=random.Random(7))
            gen.start()
            await asyncio.wait_for(gen.wait(), 30)
            await until(lambda: m.snapshot(calls=0)["counters"]["total"]["ended"] >= 100, "the calls to end")
            assert m.snapshot(calls=0)["logins"]["online"] == 20
        finally:
            await asyncio.wait_for(m.close(), 15)  # never a hang, whatever the sink says
    assert "database or disk is full" in caplog.text
    handed = m.snapshot(calls=0)["sink"]["written"]
    assert handed > 0
    sink.grow()
    await sink.flush()
    await sink.close()
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] + \
            conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    assert stored == handed  # every record the monitor handed over, none lost to the failures
