"""The call state's mirrors of its call (``c_state``, ``c_direction``, ``c_remote``): the tracker
reads and compares these instead of the call's attributes, and writes the call only when one
changes, so after every event they must equal what the call shows.

Checked on the generated traffic of tests/test_calls_random.py (every kind of call, connections
drifting apart, duplicates) and on both twins: the default import gives the compiled one when
it is built, and the CI's pure pass runs this file on the pure one."""
from __future__ import annotations

import pytest

from lgucore import tokenize
from lguapi.calls import CallTracker
from lguapi.events import parse_event

from kit.clock import Clock
from test_calls_random import GRACE, generate


def _mirrors_match(tracker: CallTracker) -> None:
    for st in tracker._book.states.values():
        call = st.call
        assert (st.c_state, st.c_direction, st.c_remote) == (call.state, call.direction, call.remote_number), call


@pytest.mark.parametrize("seed", [3, 17, 12345])
def test_mirrors_equal_the_call_after_every_event(seed):
    pbx, stream = generate(seed, calls=120, window=60.0)
    clock = Clock(0.0)
    tracker = CallTracker(clock=clock, end_grace=GRACE)
    changed = 0
    for d, exten, text in stream:
        clock.t = d
        for u in tracker.feed(parse_event(tokenize(text.encode()), exten=exten, ts=d)):
            changed += u.kind == "changed"
        _mirrors_match(tracker)
    assert changed > 100  # change detection ran on the mirrors, many times
    clock.t += 60
    for u in tracker.expire():
        assert u.call.state == "ended"
    assert not tracker.active
