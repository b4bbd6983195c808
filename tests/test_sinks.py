"""Sinks: round trips, idempotency keys, duplicates across reopen, a torn JSONL tail, and a
writer killed with SIGKILL mid-write (SQLite and JSONL): nothing lost but the unflushed
batch, nothing duplicated, the store intact."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from lguapi.calls import CallTracker
from lguapi.events import (
    LoggedIn, LoginResultEvent, PingEvent, Reconciled, UnknownEvent,
)
from lguapi.sinks import JsonlSink, SqliteSink, call_key, event_key, open_sink, read_jsonl

from kit.manual import M52
from kit.text import ev as event_of
from kit.wait import until

INBOUND = M52  # manual §5.2, as 3321 receives it


def ev(text, exten="3321", ts=1.0):
    """This file's events are 3321's unless said otherwise."""
    return event_of(text, exten, ts)


def sample_events():
    evs = [ev(t, ts=10.0 + i) for i, t in enumerate(INBOUND)]
    evs.append(ev("CMDRESULT|CMD:GETSTATUSPEERS|3456:Up:Link_Channel(SIP/5060-b5c10a20)", ts=20.0))
    evs.append(ev("RECVSMS FROM:010xxxx0850 MESSAGE: 테스트 123acvh SMSTO:070xxxx9812", ts=21.0))
    evs.append(LoggedIn(exten="3321", ts=22.0,
                        result=LoginResultEvent(name="LOGINRESULT", raw="LOGINRESULT|STATUS:1", status=1)))
    evs.append(Reconciled(exten="3321", statuses=(("3321", "Down", ""),), ts=23.0))
    return evs


def finished_call():
    t = CallTracker()
    for e in sample_events()[:3]:
        t.feed(e)
    (call,) = t.ended
    return call


def sink_records(path):
    if str(path).endswith(".db"):
        with sqlite3.connect(path) as db:
            evs = [json.loads(r[0]) for r in db.execute("SELECT data FROM events ORDER BY seq")]
            calls = [json.loads(r[0]) for r in db.execute("SELECT data FROM calls ORDER BY seq")]
        return evs + calls
    return list(read_jsonl(path))


# --- keys ---------------------------------------------------------------------------------


def test_event_keys():
    ring = INBOUND[0]
    assert event_key(ev(ring, ts=1.0)) == event_key(ev(ring, ts=99.0))  # ids in the text: one event
    assert event_key(ev(ring, "3321")) != event_key(ev(ring, "3322"))  # seen by another extension
    assert event_key(ev("PING", ts=1.0)) != event_key(ev("PING", ts=2.0))  # repeats legitimately
    ping = ev("PING", ts=3.0)
    assert event_key(ping) == event_key(ping)
    assert len(event_key(ping)) == 24
    call = finished_call()
    assert call_key(call) == call_key(call) and len(call_key(call)) == 24


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["events.jsonl", "events.db"])
async def test_round_trip(tmp_path, name):
    path = tmp_path / name
    events = sample_events()
    call = finished_call()
    async with open_sink(path, batch=3) as sink:
        for e in events:
            await sink.write_event(e)
        await sink.write_call(call)
    recs = sink_records(path)
    assert [r["kind"] for r in recs] == ["event"] * len(events) + ["call"]
    assert [r["raw"] for r in recs[:len(events)]] == [e.raw for e in events]
    assert recs[0]["event"] == "RingEvent" and recs[0]["unique_id"] == "1319339116.486"
    assert recs[4]["message"] == "테스트 123acvh"
    assert recs[5]["result"]["status"] == 1
    assert recs[6]["statuses"] == [["3321", "Down", ""]]
    c = recs[-1]
    assert (c["id"], c["direction"], c["answered_by"], c["end_reason"]) == (
        "1319339116.486", "inbound", "3321", "hangup")
    assert c["key"] == call_key(call)
    assert sink.stats["written"] == len(events) + 1


@pytest.mark.parametrize("name", ["events.jsonl", "events.db"])
async def test_duplicates_skipped_within_a_session_and_across_reopen(tmp_path, name):
    path = tmp_path / name
    events = sample_events()
    call = finished_call()
    async with open_sink(path, batch=4) as sink:
        for e in events + events:
            await sink.write_event(e)
        await sink.write_call(call)
        await sink.write_call(call)
        # the same ID-bearing event text received again later (a reconnect replay)
        await sink.write_event(ev(INBOUND[0], ts=99.0))
    assert sink.stats["written"] == len(events) + 1
    assert sink.stats["duplicates"] == len(events) + 2
    async with open_sink(path, batch=4) as sink:  # a restart writes everything again
        for e in events:
            await sink.write_event(e)
        await sink.write_call(call)
        await sink.write_event(PingEvent(name="PING", raw="PING", exten="3321", ts=500.0))
    assert sink.stats["written"] == 1
    recs = sink_records(path)
    assert len(recs) == len(events) + 2
    assert len({r["key"] for r in recs}) == len(recs)


@pytest.mark.parametrize("name", ["events.jsonl", "events.db"])
async def test_calls_that_are_not_over_are_refused_and_merged_ones_skipped(tmp_path, name):
    t = CallTracker()
    t.feed(ev(INBOUND[0]))
    (active,) = t.active.values()
    async with open_sink(tmp_path / name) as sink:
        with pytest.raises(ValueError, match="finished"):
            await sink.write_call(active)
        t.feed(ev(INBOUND[1]))
        t.feed(ev(INBOUND[2]))
        active.end_reason = "merged"  # as a withdrawn call looks
        await sink.write_call(active)
    assert sink_records(tmp_path / name) == []


async def test_flush_interval_writes_a_partial_batch(tmp_path):
    path = tmp_path / "e.jsonl"
    sink = JsonlSink(path, batch=1000, flush_interval=0.05)
    await sink.write_event(ev("PING", ts=1.0))
    assert os.path.getsize(path) == 0  # buffered
    await until(lambda: os.path.getsize(path), "the flush interval to write the batch")
    assert len(list(read_jsonl(path))) == 1
    await sink.close()
    await sink.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        await sink.write_event(ev("PING", ts=2.0))


async def test_sqlite_flush_interval_and_wal(tmp_path):
    path = tmp_path / "e.db"
    sink = SqliteSink(path, batch=1000, flush_interval=0.05)
    await sink.write_event(ev("PING", ts=1.0))
    await until(lambda: sink.stats["written"], "the flush interval to write the batch")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    await sink.close()


# --- torn tails ---------------------------------------------------------------------------------


async def test_torn_jsonl_tail_is_cut_and_duplicates_still_skipped(tmp_path):
    path = tmp_path / "e.jsonl"
    events = [PingEvent(name="PING", raw="PING", exten="3321", ts=float(i)) for i in range(10)]
    async with JsonlSink(path, batch=3) as sink:
        for e in events:
            await sink.write_event(e)
    whole = path.read_bytes()
    with open(path, "ab") as f:  # a writer killed in the middle of a line
        f.write(b'{"key":"0123456789abcdef01234567","kind":"event","na')
    assert len(list(read_jsonl(path))) == 10  # readers skip the torn line
    sink = JsonlSink(path, batch=3)
    assert sink.repaired_bytes > 0
    assert path.read_bytes() == whole
    for e in events:
        await sink.write_event(e)
    await sink.write_event(PingEvent(name="PING", raw="PING", exten="3321", ts=10.0))
    await sink.close()
    assert sink.stats == {"written": 1, "duplicates": 10, "batches": 1}
    recs = list(read_jsonl(path))
    assert [r["ts"] for r in recs] == [float(i) for i in range(11)]


async def test_unreadable_last_line_is_cut(tmp_path):
    path = tmp_path / "e.jsonl"
    async with JsonlSink(path) as sink:
        await sink.write_event(ev("PING", ts=1.0))
    with open(path, "ab") as f:
        f.write(b"\0" * 40 + b"\n")  # what a crash can leave behind on some filesystems
    sink = JsonlSink(path)
    assert sink.repaired_bytes == 41
    await sink.close()
    assert len(list(read_jsonl(path))) == 1


async def test_jsonl_scan_is_bounded(tmp_path):
    path = tmp_path / "e.jsonl"
    events = [PingEvent(name="PING", raw="PING", exten="3321", ts=float(i)) for i in range(50)]
    async with JsonlSink(path) as sink:
        for e in events:
            await sink.write_event(e)
    last_ten = sum(len(x) for x in path.read_bytes().splitlines(keepends=True)[-10:])
    sink = JsonlSink(path, scan_bytes=last_ten + 5)  # only the last ten records are looked at
    for e in events:
        await sink.write_event(e)
    await sink.close()
    assert sink.stats["duplicates"] == 10
    assert sink.stats["written"] == 40  # older keys are not known: documented limit


# --- open_sink ------------------------------------------------------------------------------------


async def test_open_sink_names(tmp_path, monkeypatch):
    cases = {
        str(tmp_path / "a.jsonl"): JsonlSink, str(tmp_path / "b.db"): SqliteSink,
        str(tmp_path / "c.sqlite3"): SqliteSink, "sqlite:///" + str(tmp_path / "d.x"): SqliteSink,
        "jsonl:///" + str(tmp_path / "e.log"): JsonlSink,
    }
    for name, cls in cases.items():
        sink = open_sink(name)
        assert isinstance(sink, cls)
        await sink.close()
    assert os.path.exists(tmp_path / "d.x") and os.path.exists(tmp_path / "e.log")
    for bad in ("", "mysql://x/y", "sqlite://"):
        with pytest.raises(ValueError):
            open_sink(bad)
    monkeypatch.chdir(tmp_path)
    for typo in ("sqllite:calls.db", "josnl:events.jsonl", "bogus:x"):  # never a file named so
        with pytest.raises(ValueError, match=f"unknown sink scheme '{typo.split(':')[0]}'.*\\./{typo}"):
            open_sink(typo)
        assert not os.path.exists(typo)
    # a colon in a file's name, asked for as a path; a drive-letter-like one stays a path too
    for name in ("./odd:name.jsonl", "C:odd.jsonl"):
        sink = open_sink(name)
        assert isinstance(sink, JsonlSink)
        await sink.close()
        assert os.path.exists(tmp_path / name)
    with pytest.raises(sqlite3.OperationalError):
        SqliteSink(tmp_path / "missing-dir" / "x.db")
    with pytest.raises(ValueError):
        JsonlSink(tmp_path / "x.jsonl", batch=0)


# --- kill -9 ----------------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import asyncio, sys
    from lguapi.sinks import open_sink
    from lguapi.events import UnknownEvent

    async def main(path, first, total, batch, background):
        sink = open_sink(path, batch=batch, flush_interval=60, background=background)
        for i in range(first, total):
            e = UnknownEvent(name="SEQ", raw=f"SEQ|N:{i}", exten="3001", ts=1000.0 + i, fields=(("N", str(i)),))
            if background:  # (a monitor's path: write_batch returns before the commit; flush waits)
                sink.write_batch([("event", e)])
                if (i + 1) % (10 * batch) == 0:
                    await sink.flush()
                    print(i + 1, flush=True)  # every record up to i is stored now
                continue
            await sink.write_event(e)
            if (i + 1) % batch == 0:
                print(i + 1, flush=True)  # every record up to i is stored now
        await sink.close()
        print("done", flush=True)

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "bg"))
""")


def _writer(path, first, total, batch, background=False):
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(first), str(total), str(batch),
                             "bg" if background else "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _stored_seqs(path):
    if str(path).endswith(".db"):
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = db.execute("SELECT raw FROM events ORDER BY seq").fetchall()
        return [int(r[0].split(":")[1]) for r in rows]
    return [int(r["raw"].split(":")[1]) for r in read_jsonl(path)]


@pytest.mark.parametrize("name, background", [("kill.db", False), ("kill.jsonl", False), ("kill.db", True)])
def test_writer_killed_mid_write_loses_at_most_the_unflushed_batch(tmp_path, name, background):
    """With SQLite's background commits, "unflushed" is what came since the last flush()."""
    path = tmp_path / name
    batch = 50
    unflushed = 10 * batch if background else batch
    proc = _writer(path, 0, 10**7, batch, background)
    try:
        seen = 0
        for line in proc.stdout:
            seen = int(line)
            if seen >= 40 * batch:
                break
        os.kill(proc.pid, signal.SIGKILL)  # mid-run: a batch is being filled or written
        rest = proc.stdout.read().split()
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    printed = max([seen] + [int(x) for x in rest if x.isdigit()])
    if name.endswith(".jsonl"):
        JsonlSink(path).repaired_bytes  # reopening repairs a torn tail, if any
    seqs = _stored_seqs(path)
    # nothing flushed is lost, at most the batch being written is missing, in order, no duplicate
    assert printed <= len(seqs) <= printed + unflushed
    assert seqs == list(range(len(seqs)))
    # a restart writes everything again: stored once each
    total = len(seqs) + 3 * batch + 7
    proc = _writer(path, 0, total, batch, background)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split()[-1] == "done"
    assert _stored_seqs(path) == list(range(total))


# --- a write cut short ------------------------------------------------------------------------

_SHORT_WRITE = r"""
import asyncio, json, os, resource, signal, sys
from lguapi.events import PingEvent
from lguapi.sinks import JsonlSink, event_json, event_key, read_jsonl

path, short = sys.argv[1], int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit: EFBIG, not a signal

async def main():
    sink = JsonlSink(path, batch=1000)
    pings = [("event", PingEvent(name="PING", raw="PING", exten="3321", ts=float(i))) for i in range(20)]
    # the limit falls ``short`` bytes before the end of the fifth line (its newline included)
    limit = sum(len(event_json(event_key(e), e)) + 1 for _, e in pings[:5]) - short
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    sink.write_batch(pings)
    try:
        await sink.flush()
    except OSError:
        failed = True
    else:
        failed = False
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    await sink.close()
    print(json.dumps({"failed": failed, "keys": [r["key"] for r in read_jsonl(path)]}))

asyncio.run(main())
"""


@pytest.mark.parametrize("short, torn_lines", [(1, 0), (3, 1), (40, 1)],
                         ids=["before-newline", "near-the-end", "mid-line"])
def test_a_write_cut_short_loses_nothing_and_duplicates_nothing(tmp_path, short, torn_lines):
    """The file-size limit cuts a batch's write: the flush raises; the records not completely
    written are written again on the next flush, on a new line. A record cut just before its
    newline is complete: the next write's leading newline ends it, and it is not written twice."""
    path = tmp_path / "cut.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", _SHORT_WRITE, str(path), str(short)], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["failed"]
    keys = result["keys"]
    assert len(keys) == 20 and len(set(keys)) == 20  # every record once; the cut line is skipped by readers
    torn = []
    for ln in path.read_bytes().split(b"\n")[:-1]:
        try:
            json.loads(ln)
        except ValueError:
            torn.append(ln)
    assert len(torn) == torn_lines and all(t.startswith(b'{"key":') for t in torn)  # the line the limit cut


def test_an_unusable_sqlite_file_is_named_and_its_writer_thread_ends(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not an SQLite database " * 200)
    for path, why in ((bad, "file is not a database"), (tmp_path / "missing" / "x.db", "unable to open"),
                      (tmp_path, "unable to open")):
        with pytest.raises(sqlite3.Error, match=f"{re.escape(str(path))}: cannot use it as an SQLite database .*{why}"):
            SqliteSink(path)
    deadline = time.monotonic() + 5
    while any(t.name.startswith("lguapi-sqlite") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("lguapi-sqlite")]


@pytest.mark.parametrize("content", [
    bytes(range(256)) * 40,                              # a binary file: a capture segment, an image
    b"name,phone\nkim,01012345678\nlee,01087654321\n",   # a CSV
    b"\0" * 4096,                                        # zeros, no record before them
])
def test_a_file_that_holds_no_record_is_refused_and_left_as_it_was(tmp_path, content):
    path = tmp_path / "wrong.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a JSON Lines file of records .*refusing to write to it"):
        JsonlSink(path)
    assert path.read_bytes() == content  # nothing cut, nothing appended
    out = subprocess.run([sys.executable, "-m", "lguapi", "replay", str(tmp_path / "nothing"), "--sink",
                          f"jsonl:{path}"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and path.read_bytes() == content


async def test_a_first_record_cut_short_is_removed(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"key":"0123456789abcdef01234567","kind":"ev')  # the first write, cut by a crash
    sink = JsonlSink(path)
    assert sink.repaired_bytes == 44 and path.read_bytes() == b""
    await sink.write_event(ev("PING", ts=1.0))
    await sink.close()
    assert len(list(read_jsonl(path))) == 1


async def test_lines_that_are_not_records_are_counted_in_one_warning(tmp_path, caplog):
    path = tmp_path / "e.jsonl"
    async with JsonlSink(path) as sink:
        await sink.write_event(ev("PING", ts=1.0))
    with open(path, "ab") as f:
        f.write(b"# a note someone added\nnot json\n[1, 2]\n")  # (an unreadable last line would be cut as torn)
    with caplog.at_level("WARNING", logger="lguapi.sinks"):
        await JsonlSink(path).close()
    assert [r.getMessage() for r in caplog.records] == [f"{path}: 3 line(s) that are not records ignored"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full is Linux's always-full device")
async def test_a_full_disk_is_an_error_that_names_the_file_and_keeps_the_records():
    """/dev/full refuses every write with ENOSPC: the sink's error names the file (os.write
    does not), and nothing is counted as written."""
    sink = JsonlSink("/dev/full", batch=1000)
    await sink.write_event(ev("RINGEVENT|CHANNEL:SIP/3321-1|UNIQUEID:17.1"))
    with pytest.raises(OSError, match=r"No space left on device: '/dev/full'"):
        await sink.flush()
    assert sink.stats["written"] == 0
    with pytest.raises(OSError, match="/dev/full"):
        await sink.close()  # the last flush fails the same way; the file is closed anyway


class _SmallDatabase(SqliteSink):
    """An SQLite sink whose database may grow to ``pages`` pages: SQLite's own limit, which fails
    an insert with SQLITE_FULL exactly as a full disk does (and rolls the transaction back)."""

    pages = 12

    def _open(self) -> None:
        super()._open()
        self._conn.execute(f"PRAGMA max_page_count={self.pages}")

    def grow(self) -> None:  # the disk has room again (on the writer thread, which owns the connection)
        self._executor.submit(self._conn.execute, "PRAGMA max_page_count=1000000").result()


async def test_a_full_database_is_an_error_naming_it_and_its_rows_wait_for_room(tmp_path):
    """Found with `lguapi replay --sink sqlite:` on a full tmpfs: SQLite had rolled the transaction
    back itself, and the sink's own ROLLBACK then failed ('no transaction is active'), hiding the
    real error. Now the error is SQLite's, with the file named, and no row is lost."""
    path = tmp_path / "small.db"
    sink = _SmallDatabase(path, batch=10_000)
    events = [UnknownEvent(name="SEQ", raw=f"SEQ|N:{i}|" + "x" * 200, exten="3001", ts=1000.0 + i,
                           fields=(("N", str(i)),)) for i in range(2000)]
    assert sink.write_batch([("event", e) for e in events]) == []
    with pytest.raises(sqlite3.OperationalError, match=rf"{re.escape(str(path))}: database or disk is full"):
        await sink.flush()
    assert sink.stats["written"] == 0
    sink.grow()
    await sink.flush()  # the same rows, in a new transaction
    await sink.close()
    assert sink.stats["written"] == 2000
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2000


def test_the_command_line_reports_a_database_error_in_one_line():
    from lguapi.cli import _one_line

    assert _one_line(sqlite3.OperationalError("x.db: database or disk is full"))
    assert _one_line(OSError(28, "No space left on device")) and _one_line(ValueError("bad"))
    assert not _one_line(KeyError("a bug")) and not _one_line(TypeError("a bug"))


async def test_a_background_failure_is_reported_by_the_next_write_and_its_records_are_kept(tmp_path):
    """A timed commit that failed (a full disk) is raised by the next write, after that write's
    records are queued: before, they were refused with the error and lost, while a monitor
    counted them as handed over."""
    path = tmp_path / "small.db"
    sink = _SmallDatabase(path, batch=10_000, flush_interval=0.05)
    first = [UnknownEvent(name="SEQ", raw=f"SEQ|N:{i}|" + "x" * 200, exten="3001", ts=1000.0 + i,
                          fields=(("N", str(i)),)) for i in range(2000)]
    assert sink.write_batch([("event", e) for e in first]) == []
    for _ in range(100):  # the timed commit runs on the loop and fails: the database is full
        await asyncio.sleep(0.02)
        if sink._error is not None:
            break
    assert sink._error is not None
    more = [UnknownEvent(name="SEQ", raw=f"SEQ|M:{i}", exten="3001", ts=2000.0 + i, fields=(("M", str(i)),))
            for i in range(5)]
    with pytest.raises(OSError, match="an earlier background write failed: .*database or disk is full"):
        sink.write_batch([("event", e) for e in more])
    sink.grow()
    await sink.write_event(UnknownEvent(name="SEQ", raw="SEQ|M:last", exten="3001", ts=3000.0, fields=(("M", "last"),)))
    await sink.flush()
    await sink.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2006


@pytest.mark.parametrize("name", ["events.jsonl", "events.db"])
async def test_integers_beyond_64_bits_neither_reach_a_record_nor_stop_a_sink(tmp_path, name):
    # from the wire: an integer field beyond signed 64 bits is no number (it made SQLite's
    # batch fail with OverflowError, again on every retry, and the records behind it wait forever)
    out = ev("CHANNELOUT|CHANNEL:SIP/3321-00000001|RECHANNEL:SIP/gw-00000001|UNIQUEID:1319339116.486"
             "|HCAUSE:99999999999999999999999")
    cdr = ev("CDREVENT|CHANNEL:SIP/3321-00000001|UNIQUEID:1319339116.486|DURATION:9223372036854775808"
             "|BILLSEC:-9223372036854775809|DISPOSITION:ANSWERED")
    assert (out.hangup_cause, cdr.duration, cdr.billsec) == (None, None, None)
    assert ev("CHANNELOUT|CHANNEL:SIP/3321-00000001|HCAUSE:9223372036854775807").hangup_cause == 2 ** 63 - 1
    # a call made some other way still carries one: stored in the record, the column left empty
    odd = finished_call()
    odd.hangup_cause = 10 ** 30
    path = tmp_path / name
    async with open_sink(path, batch=2) as sink:
        await sink.write_event(out)
        await sink.write_event(cdr)
        await sink.write_call(odd)
        for e in sample_events():
            await sink.write_event(e)
    recs = sink_records(path)
    assert len(recs) == 3 + len(sample_events())
    (call,) = [r for r in recs if r["kind"] == "call"]
    assert call["hangup_cause"] == 10 ** 30
    if name.endswith(".db"):
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT hangup_cause FROM calls").fetchone()[0] is None
