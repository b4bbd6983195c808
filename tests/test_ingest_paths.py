"""The monitor's fast paths keep their results: batched sink writes, calls the collector never
scans, the garbage-collector policy of ``freeze_gc`` (no timing is asserted here)."""
from __future__ import annotations

import gc

from lguapi.calls import CallTracker, _twin
from lguapi.monitor import Monitor
from lguapi.server import Directory, Emulator
from lguapi.sinks import JsonlSink

from test_sinks import INBOUND, ev, finished_call, sample_events


async def test_write_batch_writes_the_same_file_as_one_by_one(tmp_path):
    events = sample_events()
    call = finished_call()
    one = tmp_path / "one.jsonl"
    async with JsonlSink(one, batch=3) as sink:
        for e in events:
            await sink.write_event(e)
        await sink.write_call(call)
    many = tmp_path / "many.jsonl"
    async with JsonlSink(many, batch=3) as sink:
        items = [("event", e) for e in events] + [("call", call)]
        assert sink.write_batch(items[:4]) == []
        assert sink.write_batch(items[4:] + items[:2]) == []  # the last two again: duplicates
        assert sink.stats["duplicates"] == 2
    assert many.read_bytes() == one.read_bytes()


async def test_write_batch_reports_a_bad_item_and_writes_the_others(tmp_path):
    t = CallTracker()
    t.feed(ev(INBOUND[0]))
    (active,) = t.active.values()  # not over: refused
    path = tmp_path / "events.jsonl"
    async with JsonlSink(path) as sink:
        items = [("event", ev(INBOUND[0])), ("call", active), ("event", ev("PING", ts=5.0))]
        failed = sink.write_batch(items)
        assert [(item, type(exc)) for item, exc in failed] == [(items[1], ValueError)]
    assert [line.count(b'"kind":"event"') for line in path.read_bytes().splitlines()] == [1, 1]


def test_calls_and_their_state_are_not_tracked_by_the_collector():
    t = CallTracker()
    updates = [u for text in INBOUND for u in t.feed(ev(text))]
    assert {u.kind for u in updates} == {"new", "changed", "ended"}
    call = updates[0].call
    assert not gc.is_tracked(call)
    if _twin.COMPILED:  # (the pure twin's legs are a plain list)
        assert not gc.is_tracked(call._legs) and type(call._legs) is list
    assert call.exten == ("3321",) and call.handled_by == ("3321",)  # the views still read the state
    assert call.to_dict()["unique_ids"] == ["1319339116.486", "1319339122.488"]
    assert call == call and call != CallTracker  # equal only to itself
    assert len({call, call}) == 1


async def test_freeze_gc_raises_the_old_threshold_once_logged_in():
    directory = Directory.generate("3001-3002")
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        async with Emulator(directory, port=0) as emu:
            async with Monitor("127.0.0.1", emu.port, accounts=directory, freeze_gc=True) as m:
                assert m.login_progress.done == 2
                assert gc.get_threshold() == (700, 10, 100)
        gc.set_threshold(700, 10, 500)  # a higher one is left alone
        async with Emulator(directory, port=0) as emu:
            async with Monitor("127.0.0.1", emu.port, accounts=directory, freeze_gc=True):
                assert gc.get_threshold() == (700, 10, 500)
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
