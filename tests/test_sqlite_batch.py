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


def _locker(path):
    """Another connection holding the database's write lock (released by its ``rollback``,
    from any thread)."""
    other = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


async def test_in_the_background_a_full_batch_returns_before_its_commit(tmp_path):
    """``background=True``: write_batch hands a full batch to the writer thread and returns, even
    while another connection holds the database; the rows that come meanwhile wait for the next
    transaction, and flush() stores all of them, in order."""
    path = tmp_path / "bg.db"
    sink = SqliteSink(path, batch=2, background=True)
    events = [ev("PING", ts=float(i)) for i in range(5)]
    other = _locker(path)
    try:
        assert sink.write_batch([("event", e) for e in events[:2]]) == []  # the commit waits for the lock
        assert sink.write_batch([("event", e) for e in events[2:]]) == []  # these wait for the next one
        assert sink.stats["written"] == 0
    finally:
        other.rollback()
        other.close()
    await sink.flush()
    assert sink.stats == {"written": 5, "duplicates": 0, "batches": 2}
    await sink.close()
    assert [r[2] for r in _rows(path)] == [0.0, 1.0, 2.0, 3.0, 4.0]


async def test_in_the_background_more_than_max_pending_rows_wait_for_the_running_commit(tmp_path):
    """Past ``max_pending`` waiting rows, write_batch waits for the running transaction (the
    back-pressure of a slow disk), then starts the next and returns."""
    import threading

    path = tmp_path / "bg.db"
    with pytest.raises(ValueError, match="max_pending must be >= batch"):
        SqliteSink(tmp_path / "x.db", batch=4, max_pending=3)
    sink = SqliteSink(path, batch=2, background=True, max_pending=4)
    assert sink.max_pending == 4 and SqliteSink(tmp_path / "y.db", batch=5).max_pending == 80
    events = [ev("PING", ts=float(i)) for i in range(8)]
    other = _locker(path)
    release = threading.Timer(0.2, other.rollback)
    try:
        sink.write_batch([("event", e) for e in events[:2]])   # running, held by the lock
        sink.write_batch([("event", e) for e in events[2:6]])  # 4 wait: no more than max_pending
        release.start()
        sink.write_batch([("event", e) for e in events[6:]])   # 6 wait: for the running one first
        assert sink.stats["written"] == 2  # it ended before this returned; the next six run now
    finally:
        release.join()
        other.close()
    await sink.close()
    assert sink.stats == {"written": 8, "duplicates": 0, "batches": 2}
    assert [r[2] for r in _rows(path)] == [float(i) for i in range(8)]


async def test_a_failed_background_commit_keeps_its_rows_and_is_reported_once(tmp_path, caplog):
    """A background transaction that fails puts its rows back in front of the waiting ones: the
    call that waits for it raises ``OSError`` naming the failure, once; flush() retries them
    and raises its own failure (not again the earlier one); once the database takes rows
    again, every row is stored, in order."""
    import threading

    path = tmp_path / "bg.db"
    sink = SqliteSink(path, batch=2, background=True, max_pending=2)
    events = [ev("PING", ts=float(i)) for i in range(10)]
    with sqlite3.connect(path) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END")
    other = _locker(path)  # the first transaction waits for the lock, then is refused
    release = threading.Timer(0.2, other.rollback)
    try:
        assert sink.write_batch([("event", e) for e in events[:2]]) == []  # running, held by the lock
        assert sink.write_batch([("event", e) for e in events[2:4]]) == []  # two wait: no more than max_pending
        release.start()
        with pytest.raises(OSError, match="an earlier background write failed: .*refused"):
            sink.write_batch([("event", e) for e in events[4:6]])  # four wait: for the running one, refused
    finally:
        release.join()
        other.close()
    assert "background commit of 2 row(s) failed" in caplog.text
    with pytest.raises(sqlite3.IntegrityError, match="refused"):
        await sink.flush()  # the six again, in one transaction: refused again, raised here
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER refuse")
    assert sink.write_batch([("event", e) for e in events[6:8]]) == []  # no earlier failure left to raise
    sink.write_batch([("event", e) for e in events[8:]])
    await sink.close()
    assert [r[2] for r in _rows(path)] == [float(i) for i in range(10)]
    assert sink.stats["written"] == 10


async def test_flush_retries_a_background_commit_that_fails_while_it_waits(tmp_path, caplog):
    """flush() waits for the running transaction; when that one fails, flush() commits its rows
    again with the rest and raises what that attempt raised, and nothing is raised twice."""
    import threading

    path = tmp_path / "bg.db"
    sink = SqliteSink(path, batch=2, background=True)
    events = [ev("PING", ts=float(i)) for i in range(5)]
    with sqlite3.connect(path) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END")
    other = _locker(path)
    release = threading.Timer(0.2, other.rollback)
    try:
        sink.write_batch([("event", e) for e in events[:3]])  # one transaction of three, held by the lock
        release.start()
        with pytest.raises(sqlite3.IntegrityError, match="refused"):
            await sink.flush()
    finally:
        release.join()
        other.close()
    assert "background commit of 3 row(s) failed" in caplog.text
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER refuse")
    assert sink.write_batch([("event", e) for e in events[3:]]) == []  # nothing left to raise
    await sink.close()
    assert [r[2] for r in _rows(path)] == [float(i) for i in range(5)]


async def test_rows_that_wait_behind_a_running_commit_are_committed_by_the_timer(tmp_path):
    """Rows that came while a background transaction ran are committed once ``flush_interval``
    passes, with no further call: the bound on what a stop of traffic leaves unwritten."""
    import asyncio

    path = tmp_path / "bg.db"
    sink = SqliteSink(path, batch=2, background=True, flush_interval=0.05)
    other = _locker(path)
    try:
        sink.write_batch([("event", ev("PING", ts=0.0)), ("event", ev("PING", ts=1.0))])  # running, held
        sink.write_batch([("event", ev("PING", ts=2.0)), ("event", ev("PING", ts=3.0))])  # waiting
    finally:
        other.rollback()
        other.close()
    for _ in range(200):  # (no call of ours from here: the timer's commit, or nothing)
        if len(_rows(path)) == 4:
            break
        await asyncio.sleep(0.05)
    assert [r[2] for r in _rows(path)] == [0.0, 1.0, 2.0, 3.0]
    await sink.close()
    assert sink.stats["written"] == 4


async def test_turning_background_off_waits_for_the_running_commit(tmp_path):
    """``background`` set to False between calls: the next full batch first waits for the
    transaction still running, so the rows stay in order."""
    import threading

    path = tmp_path / "bg.db"
    sink = SqliteSink(path, batch=2, background=True)
    other = _locker(path)
    release = threading.Timer(0.2, other.rollback)
    try:
        sink.write_batch([("event", ev("PING", ts=0.0)), ("event", ev("PING", ts=1.0))])  # running, held
        sink.background = False
        release.start()
        sink.write_batch([("event", ev("PING", ts=2.0)), ("event", ev("PING", ts=3.0))])  # waits, then commits
        assert sink.stats == {"written": 4, "duplicates": 0, "batches": 2}
    finally:
        release.join()
        other.close()
    await sink.close()
    assert [r[2] for r in _rows(path)] == [0.0, 1.0, 2.0, 3.0]
