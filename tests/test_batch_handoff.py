"""The Client's batch hand-off (one call per read turn) and the Monitor that consumes it:
order, the ``on()`` callbacks unchanged, connection events alone, a failing consumer or
tracker losing nothing after it. Real emulator, real TCP on 127.0.0.1."""
from __future__ import annotations

import asyncio
import logging

import pytest

from lguapi import Client
from lguapi.calls import CallTracker
from lguapi.events import ConnectionEvent, Disconnected, Event, LoggedIn, PeerMessageEvent
from lguapi.monitor import Monitor
from lguapi.server.accounts import Directory
from lguapi.server.emulator import Emulator

from kit.wait import until

N = 2000


def _burst(emu: Emulator, exten: str, n: int, bad: int | None = None) -> None:
    """``n`` peer messages to ``exten`` at once (read in large chunks), ``boom`` at index ``bad``."""
    for i in range(n):
        emu.deliver(exten, f"RECVPEERMSG|FROM:3002|MSG:{'boom' if i == bad else f'm{i}'}")


async def test_batches_come_in_order_after_the_callbacks_and_connection_events_alone():
    directory = Directory.generate("3001-3002")
    batches: list[list[Event]] = []
    seen_by_callback: list[Event] = []

    def consumer(evs: list[Event]) -> None:
        for ev in evs:  # every event of the batch already went to the on() callback
            assert ev in seen_by_callback
        batches.append(evs)

    async with Emulator(directory, port=0) as emu:
        c = Client("127.0.0.1", emu.port, heartbeat=5, auto_reconnect=0, frames_per_turn=32)
        c.on(Event, seen_by_callback.append)
        c.add_batch_consumer(consumer)
        await c.login("07012343001", "secret-3001")
        _burst(emu, "3001", N)
        await until(lambda: sum(isinstance(e, PeerMessageEvent) for b in batches for e in b) == N, timeout=60)
        await c.close()
    flat = [ev for b in batches for ev in b]
    assert flat == seen_by_callback  # the same events in the same order, each once
    msgs = [ev.message for ev in flat if isinstance(ev, PeerMessageEvent)]
    assert msgs == [f"m{i}" for i in range(N)]
    assert max(len(b) for b in batches) <= 32  # one read turn at most
    assert sum(len(b) > 1 for b in batches) >= 1  # and really batches, not one event each
    for b in batches:  # a connection-state event never shares a batch
        if any(isinstance(ev, ConnectionEvent) for ev in b):
            assert len(b) == 1
    assert any(isinstance(b[0], LoggedIn) for b in batches)
    assert isinstance(flat[-1], Disconnected)


async def test_a_failing_consumer_is_logged_and_the_others_and_later_batches_still_go(caplog):
    directory = Directory.generate("3001-3002")
    got: list[Event] = []
    calls = [0]

    def bad(evs: list[Event]) -> None:
        calls[0] += 1
        raise RuntimeError("consumer bug")

    async with Emulator(directory, port=0) as emu:
        c = Client("127.0.0.1", emu.port, heartbeat=5, auto_reconnect=0)
        c.add_batch_consumer(bad)
        c.add_batch_consumer(got.extend)
        await c.login("07012343001", "secret-3001")
        _burst(emu, "3001", 300)
        await until(lambda: sum(isinstance(e, PeerMessageEvent) for e in got) == 300, timeout=60)
        c.remove_batch_consumer(bad)
        failures = calls[0]
        assert failures >= 2 and c.callback_errors == failures  # every failure counted
        _burst(emu, "3001", 10)
        await until(lambda: sum(isinstance(e, PeerMessageEvent) for e in got) == 310, timeout=60)
        assert calls[0] == failures  # removed: not called again
        await c.close()
    assert "consumer bug" in caplog.text
    assert [e.message for e in got if isinstance(e, PeerMessageEvent)][-10:] == [f"m{i}" for i in range(10)]


class _FlakyTracker(CallTracker):
    """A real tracker that fails on one event (a message ``boom``), as a tracker bug would."""

    def __init__(self) -> None:
        super().__init__()
        self.fed: list[Event] = []

    def feed(self, event: Event) -> list:
        if getattr(event, "message", None) == "boom":
            raise RuntimeError("tracker bug")
        self.fed.append(event)
        return super().feed(event)

    def feed_many(self, events) -> list:
        out: list = []
        for ev in events:  # consumes the iterator as the real one does, and stops where it fails
            out += self.feed(ev)
        return out


async def test_the_tracker_failing_on_one_event_loses_none_after_it(caplog):
    directory = Directory.generate("3001-3002")
    tracker = _FlakyTracker()
    caplog.set_level(logging.ERROR, "lguapi.monitor")
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory, tracker=tracker,
                           client_options={"heartbeat": 0, "auto_reconnect": 0}) as m:
            base = m.events_seen
            _burst(emu, "3001", 500, bad=250)
            await until(lambda: m.events_seen - base == 500, timeout=60)
            msgs = [ev.message for ev in tracker.fed if isinstance(ev, PeerMessageEvent)]
            assert msgs == [f"m{i}" for i in range(500) if i != 250]  # every other one, in order
            assert "tracker bug" in caplog.text and "PeerMessageEvent" in caplog.text
            _burst(emu, "3001", 5)  # and the connection goes on
            await until(lambda: m.events_seen - base == 505, timeout=60)
            assert m.line_state("3001") == "idle"


async def test_a_monitor_sees_every_event_of_a_flood_once_and_in_order():
    directory = Directory.generate("3001-3003")
    got: list[str] = []
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory,
                           client_options={"heartbeat": 0, "auto_reconnect": 0, "frames_per_turn": 16}) as m:
            m.add_event_hook(lambda ev: got.append(ev.message) if isinstance(ev, PeerMessageEvent) else None)
            _burst(emu, "3001", N)
            await until(lambda: len(got) == N, timeout=60)
            assert got == [f"m{i}" for i in range(N)]
            assert m.snapshot(calls=0)["extensions"]["3001"]["state"] == "idle"
    await asyncio.sleep(0)


async def _young_collections(gc_every: int, n: int) -> int:
    """Young collections while a monitor with ``gc_every`` takes ``n`` events."""
    import gc

    directory = Directory.generate("3001-3002")
    young = [0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 0:
            young[0] += 1

    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory, gc_every=gc_every,
                           client_options={"heartbeat": 0, "auto_reconnect": 0}) as m:
            base = m.events_seen
            gc.callbacks.append(on_gc)
            try:
                _burst(emu, "3001", n)
                await until(lambda: m.events_seen - base == n, timeout=60)
            finally:
                gc.callbacks.remove(on_gc)
    return young[0]


async def test_gc_every_collects_the_young_generation_every_so_many_events():
    import gc

    assert await _young_collections(100, 2000) >= 2000 // 100 - 1  # the last hundred may end past the burst
    gc.disable()
    try:  # an application that turned the collector off keeps it off
        assert await _young_collections(100, 2000) == 0
    finally:
        gc.enable()


def test_gc_every_must_be_a_count():
    for bad in (-1, 1.5, "10"):
        with pytest.raises(ValueError, match="gc_every"):
            Monitor("127.0.0.1", 8086, accounts=[("07012343001", "pw")], gc_every=bad)
    assert Monitor("127.0.0.1", 8086, accounts=[("07012343001", "pw")], gc_every=0) is not None


async def test_update_hooks_see_each_call_as_its_own_event_left_it():
    # a ring and its answer in one read: the "new" update's hook must not see the answer yet
    from test_sinks import INBOUND

    directory = Directory.generate("3321-3322")
    seen: list[tuple[str, str, bool]] = []
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory,
                           client_options={"heartbeat": 0, "auto_reconnect": 0}) as m:
            m.add_update_hook(lambda u: seen.append((u.kind, u.state, u.call.answer_at is not None)))
            for text in INBOUND:
                emu.deliver("3321", text)
            await until(lambda: any(kind == "ended" for kind, _, _ in seen) or m.tracker.ended, timeout=30)
            m.tracker.flush()
            await until(lambda: any(kind == "ended" for kind, _, _ in seen), timeout=30)
    new = [answered for kind, _, answered in seen if kind == "new"]
    assert new == [False]  # as the ring left it, although the answer came in the same read
    assert any(answered for kind, state, answered in seen if kind == "changed")


class _PerEventClient(Client):
    """A client the way a ``client_factory`` may make one: no batch hand-off, only ``on()``."""

    add_batch_consumer = None  # type: ignore[assignment]
    remove_batch_consumer = None  # type: ignore[assignment]


async def test_a_client_without_batches_is_followed_one_event_at_a_time():
    directory = Directory.generate("3001-3002")
    got: list[str] = []
    async with Emulator(directory, port=0) as emu:
        async with Monitor("127.0.0.1", emu.port, accounts=directory, client_factory=_PerEventClient,
                           client_options={"heartbeat": 0, "auto_reconnect": 0}) as m:
            m.add_event_hook(lambda ev: got.append(ev.message) if isinstance(ev, PeerMessageEvent) else None)
            assert m.snapshot(calls=0)["logins"]["online"] == 2
            _burst(emu, "3001", 300)
            await until(lambda: len(got) == 300, timeout=60)
            assert got == [f"m{i}" for i in range(300)]
            assert m.line_state("3001") == "idle"


def test_the_counted_ends_are_bounded_and_never_tracked_by_the_collector():
    import gc

    from lguapi._recent import RecentKeys

    r = RecentKeys(3)  # what the monitor counts ends with
    assert r.add("c1", 1.0) and not r.add("c1", 1.0)  # the same end once
    assert r.add("c1", 2.0) and not r.add("c1", 2.0) and not r.add("c1", 1.0)  # ended again: both kept
    assert r.add("c2", None) and not r.add("c2", None)
    for i in range(3, 9):
        assert r.add(f"c{i}", float(i))
    assert r.add("c2", None)  # two generations later: forgotten
    assert not r.add("c8", 8.0)  # the recent ones are not
    assert not gc.is_tracked(r.new) and not gc.is_tracked(r.old)
