"""CallTracker.feed_recorded: recorded events applied at their own times, in one call.

It must give exactly what feeding each event with a clock that reads the event's ``ts`` gives
(the way ``lguapi replay`` fed its tracker before): the same updates, in the same order, for
the same calls, on generated traffic with drift, duplicates, transfers and conferences.
Runs on whichever twin is selected (the CI runs it on both)."""
from __future__ import annotations

import dataclasses

import pytest

from lgucore import tokenize
from lguapi.calls import CallTracker
from lguapi.events import parse_event

from kit.clock import Clock
from test_calls_random import GRACE, generate


def _events(seed: int, calls: int) -> list:
    _, stream = generate(seed, calls=calls, window=80.0)
    return [parse_event(tokenize(text.encode()), exten=exten, ts=d) for d, exten, text in stream]


def _shape(updates) -> list[tuple]:
    return [(u.kind, u.call.id, u.state, u.event) for u in updates]


@pytest.mark.parametrize("seed", [5, 77])
@pytest.mark.parametrize("batch", [1, 64, 100_000])
def test_feed_recorded_is_feed_with_the_events_clock(seed, batch):
    evs = _events(seed, 150)
    clock = Clock(0.0)
    one = CallTracker(clock=clock, end_grace=GRACE)
    want = []
    for ev in evs:
        clock.t = ev.ts
        want += one.feed(ev)
    never = CallTracker(clock=Clock(0.0), end_grace=GRACE)  # a clock standing still: the events' times rule
    got = []
    for i in range(0, len(evs), batch):
        got += never.feed_recorded(evs[i:i + batch])
    assert _shape(got) == _shape(want) and any(u.kind == "ended" for u in got)
    assert [c.to_dict() for c in never.ended] == [c.to_dict() for c in one.ended]
    assert never.stats == one.stats


def test_feed_recorded_reads_no_clock():
    reads = []

    def clock() -> float:
        reads.append(1)
        return 0.0

    t = CallTracker(clock=clock, end_grace=GRACE)
    reads.clear()  # the tracker reads it once when it is made
    assert t.feed_recorded(_events(9, 40))
    assert reads == []


def test_an_event_without_a_time_is_refused_clearly():
    t = CallTracker(clock=Clock(0.0))
    ev = dataclasses.replace(_events(9, 1)[0], ts=None)
    with pytest.raises(TypeError):
        t.feed_recorded([ev])


def test_an_expiry_ahead_of_the_clock_counts_the_next_sweep_from_the_clock():
    clock = Clock(100.0)
    t = CallTracker(clock=clock)
    t.expire(now=10_000.0)  # far ahead: everything due by then is expired, ...
    dl = t._timers
    assert dl.next_sweep == pytest.approx(100.0 + dl.sweep_every)  # ... but sweeps go on from the clock
    t.expire()
    assert dl.next_sweep == pytest.approx(100.0 + dl.sweep_every)
    clock.t = 100.0 + dl.sweep_every
    t.expire()
    assert dl.next_sweep == pytest.approx(100.0 + 2 * dl.sweep_every)
