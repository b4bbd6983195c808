"""A Monitor fed scrambled events over TCP (tests/kit/scrambled.py) by the emulator, into a real
SQLite sink, with tracker bounds small enough to evict: whatever the events say, every call the
tracker ended (merged ones aside) is stored once, as it ended, and counted once; and the
capture the Monitor recorded replays into the same stored calls."""
from __future__ import annotations

import asyncio
import logging
import sqlite3

from lguapi.calls import CallTracker
from lguapi.events import ConnectionEvent
from lguapi.monitor import Monitor
from lguapi.replay import replay
from lguapi.server.accounts import Directory
from lguapi.server.emulator import Emulator

from kit import scrambled
from kit.wait import until

CASES = 40


async def test_scrambled_events_through_a_monitor_are_stored_and_counted_once(tmp_path, caplog):
    caplog.set_level(logging.ERROR, "lguapi.calls")  # (refusals and evictions are expected here)
    texts = []  # (receiving extension, event text) of every case, in order
    for k in range(CASES):
        _, events = scrambled.case_events(17, k)
        texts += [(ev.exten, ev.raw) for ev in events if not isinstance(ev, ConnectionEvent)]
    extens = sorted({e for e, _ in texts})
    directory = Directory.generate(",".join(extens))
    db = tmp_path / "calls.db"
    bounds = {"max_active": 8, "max_call_keys": 24, "end_grace": 0.0}
    tracker = CallTracker(**bounds)
    ended: dict[tuple[str, float | None], dict] = {}  # (id, end) -> the call as it ended

    async def follow(updates) -> None:  # (a subscriber, not a hook: the monitor keeps its batch path)
        async for u in updates:
            if u.kind == "ended" and u.call.end_reason != "merged":
                key = (u.call.id, u.call.end_at)
                assert key not in ended, f"{key} ended twice"
                ended[key] = u.call.to_dict()

    async with Emulator(directory, port=0) as emu:
        m = Monitor("127.0.0.1", emu.port, accounts=directory, tracker=tracker, sink=f"sqlite:///{db}",
                    capture=str(tmp_path / "capture"), client_options={"heartbeat": 1.0})
        await m.start()
        assert m.sink.background  # (the monitor's own SQLite sink commits while the loop goes on)
        follower = asyncio.ensure_future(follow(m.updates()))
        try:
            base = m.events_seen  # (the logins' own events)
            for exten, text in texts:
                emu.deliver(exten, text)
            await until(lambda: m.events_seen >= base + len(texts), "every event to reach the monitor", timeout=60)
            await asyncio.sleep(0.1)  # (the subscriber's last updates)
        finally:
            await m.close()
            follower.cancel()
        counted = m.snapshot(calls=0)["counters"]["total"]["ended"]
    assert tracker.stats["evicted"] > 0 and tracker.stats["calls"] > 100  # (91 and 187 when written)
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        stored = [dict(r) for r in conn.execute("SELECT * FROM calls")]
    by_key = {(r["call_id"], r["end_at"]): r for r in stored}
    assert len(by_key) == len(stored) == len(ended) == counted
    for key, call in ended.items():
        row = by_key[key]
        assert (row["end_reason"], row["answer_at"], row["ring_at"]) == (call["end_reason"], call["answer_at"],
                                                                       call["ring_at"]), key

    # the capture, replayed offline with the same bounds, stores the same calls
    again = tmp_path / "replayed.db"
    await replay([tmp_path / "capture"], sink=f"sqlite:///{again}", tracker_options=bounds)

    def calls(path) -> dict:
        with sqlite3.connect(path) as conn:
            conn.row_factory = sqlite3.Row
            return {r["key"]: {k: r[k] for k in r.keys() if k != "seq"} for r in conn.execute("SELECT * FROM calls")}

    assert calls(again) == calls(db)
