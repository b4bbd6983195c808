"""The tracker's deadline queue (lguapi.calls.timers): a FIFO for deadlines in order plus a heap for
the rest gives exactly the order one heap of ``(deadline, seq)`` gives, whatever the clock does.

The compiled twin runs the same source (its methods are C functions there, so this checks the
pure module; tests/test_calls_twin.py compares the twins' calls)."""
from __future__ import annotations

import heapq
import random

from lguapi.calls.timers import Deadlines


def test_due_ends_come_out_in_deadline_order_like_one_heap():
    rnd = random.Random(13)
    for _ in range(200):
        dl, ref = Deadlines(5.0, 0.0), []
        now, seq, got, expected = 0.0, 0, [], []
        for _ in range(150):
            now += rnd.uniform(-0.5, 1.0)  # a clock that sometimes goes back
            for _ in range(rnd.randint(0, 3)):
                deadline = now + rnd.choice([2.0, 2.0, 2.0, 1.0, 0.0, 3.5])  # mostly one grace
                seq += 1
                dl.push(deadline, f"c{seq}", seq)
                heapq.heappush(ref, (deadline, seq, f"c{seq}", seq))
            if rnd.random() < 0.3:
                t = now + rnd.uniform(-1.0, 2.0)
                got += dl.pop_due(t)
                while ref and ref[0][0] <= t:
                    entry = heapq.heappop(ref)
                    expected.append((entry[2], entry[3]))
                dl.rearm()
                assert dl.due == min([dl.next_sweep] + [e[0] for e in ref])
            assert len(dl) == len(ref)
        assert got == expected


def test_prune_keeps_only_active_calls():
    dl = Deadlines(5.0, 0.0)
    for i in range(3000):
        dl.push(float(i % 7 == 0 and 1 or i), f"c{i}", i)  # a few out of order: both queues used
    assert dl.heap and dl.fifo
    dl.prune({"c1", "c2", "c14"}, 3)
    assert sorted(cid for cid, _ in dl.pop_due(1e9)) == ["c1", "c14", "c2"]
    assert len(dl) == 0
