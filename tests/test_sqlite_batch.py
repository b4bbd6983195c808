"""SqliteSink.write_batch: the same database as one record at a time (bad items reported, the
others stored), a failed transaction keeping its rows for the next attempt; the cache option."""
from __future__ import annotations

import sqlite3

import pytest

from lguapi.calls import CallTracker
from lguapi.sinks import SqliteSink

from test_sinks import INBOUND, ev, finished_call, sample_events


def _rows(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return (db.execute("SELECT seq, key, ts, exten, type, name, raw, data FROM events ORDER BY seq").fetchall()
                + db.execute("SELECT * FROM calls ORDER BY seq").fetchall())


async def test_write_batch_stores_what_one_by_one_stores(tmp_path):
    items = [("event", e) for e in sample_events()] + [("call", finished_call())]
    t = CallTracker()
    t.feed(ev(INBOUND[0]))
    (active,) = t.active.values()  # a call not over: refused, the others stored
    async with SqliteSink(tmp_path / "one.db", batch=3) as sink:
        for kind, obj in items:
            await (sink.write_event(obj) if kind == "event" else sink.write_call(obj))
    async with SqliteSink(tmp_path / "many.db", batch=3) as sink:
        assert sink.write_batch(items[:4]) == []
        assert sink.stats["batches"] == 1 and sink.stats["written"] == 4  # a full batch: committed on return
        failed = sink.write_batch(items[4:] + [("call", active)] + items[:2])  # the first two again: duplicates
        assert [(item[1], type(exc)) for item, exc in failed] == [(active, ValueError)]
    assert sink.stats["duplicates"] == 2 and sink.stats["written"] == len(items)
    assert _rows(tmp_path / "many.db") == _rows(tmp_path / "one.db")


async def test_a_failed_transaction_keeps_its_rows(tmp_path):
    path = tmp_path / "e.db"
    sink = SqliteSink(path, batch=2)
    events = [ev("PING", ts=float(i)) for i in range(4)]
    with sqlite3.connect(path) as db:  # the database refuses rows for now: the sink's commit fails
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(sqlite3.IntegrityError, match="refused"):
        sink.write_batch([("event", e) for e in events[:2]])
    assert sink.stats["written"] == 0
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER refuse")
    assert sink.write_batch([("event", e) for e in events[2:]]) == []  # commits all four, in order
    await sink.close()
    assert [r[2] for r in _rows(path)] == [0.0, 1.0, 2.0, 3.0]
    assert sink.stats == {"written": 4, "duplicates": 0, "batches": 1}


async def test_cache_option(tmp_path):
    with pytest.raises(ValueError, match="cache_mib"):
        SqliteSink(tmp_path / "x.db", cache_mib=0)
    sink = SqliteSink(tmp_path / "y.db", cache_mib=8)
    assert sink.cache_mib == 8
    sink.write_batch([("event", ev("PING", ts=1.0))])
    await sink.close()
    assert len(_rows(tmp_path / "y.db")) == 1
