"""The call tracker's deadlines: ends waiting for their grace (a queue) and the periodic sweep.

Cheap by design: one entry per scheduled end, no cancellation (a stale entry is recognised by
its token and skipped), one number (:attr:`Deadlines.due`) compared per event. Ends are
scheduled with one grace on a clock that moves forward, so their deadlines come in order:
those go to a FIFO (no comparisons); only a deadline earlier than the last queued one (a
shorter grace, a clock set back) goes to a heap, and :meth:`Deadlines.pop_due` merges the two.
"""
from __future__ import annotations

from collections import deque
from heapq import heapify, heappop, heappush
from typing import Any, Container

__all__ = ["Deadlines"]


class Deadlines:
    """Ends to confirm ``(deadline, seq, call id, token, state)`` and the next expiry sweep.

    The entry carries the call's state for :func:`lguapi.calls.hints.warm`, which prefetches
    the memory of the calls that end next; ``warm_far``/``warm_mid``/``warm_near`` are the
    sequence numbers its three steps have reached."""

    __slots__ = ("fifo", "heap", "sweep_every", "next_sweep", "due", "_seq", "warm_far", "warm_mid", "warm_near")

    def __init__(self, sweep_every: float, now: float):
        self.fifo: deque[tuple[float, int, str, int, Any]] = deque()  # deadlines in order
        self.heap: list[tuple[float, int, str, int, Any]] = []  # the ones that came out of order
        self.sweep_every = sweep_every
        self.next_sweep = now + sweep_every
        self.due = self.next_sweep  #: the earliest deadline of any kind
        self._seq = 0
        self.warm_far = self.warm_mid = self.warm_near = 0

    def __len__(self) -> int:
        return len(self.fifo) + len(self.heap)

    def token(self) -> int:
        """A fresh token for a pending end (a later one makes the earlier stale)."""
        self._seq += 1
        return self._seq

    def push(self, deadline: float, call_id: str, token: int, state: Any = None) -> None:
        self._seq += 1
        entry = (deadline, self._seq, call_id, token, state)
        fifo = self.fifo
        if not fifo or fifo[-1][0] <= deadline:
            fifo.append(entry)
        else:
            heappush(self.heap, entry)
        if deadline < self.due:
            self.due = deadline

    def pop_due(self, now: float) -> list[tuple[str, int]]:
        """``(call id, token)`` of every end whose deadline passed, earliest first (taken off the queue)."""
        return [(entry[2], entry[3]) for entry in self.pop_due_entries(now)]

    def pop_due_entries(self, now: float) -> list[tuple[float, int, str, int, Any]]:
        """:meth:`pop_due` as the whole entries, the call's state last (the book confirms with
        it: no look-up of the call id in a table of every active call)."""
        fifo, heap = self.fifo, self.heap
        due: list[tuple[float, int, str, int, Any]] = []
        while fifo and fifo[0][0] <= now:
            if heap and heap[0] < fifo[0]:
                due.append(heappop(heap))
            else:
                due.append(fifo.popleft())
        while heap and heap[0][0] <= now:
            due.append(heappop(heap))
        return due

    def pop_next(self) -> tuple[float, int, str, int, Any] | None:
        """The earliest entry, due or not, taken off the queue (None when it is empty): a bound
        on the calls in progress confirms the ends waiting longest before their grace is over."""
        fifo, heap = self.fifo, self.heap
        if heap and (not fifo or heap[0] < fifo[0]):
            return heappop(heap)
        return fifo.popleft() if fifo else None

    def sweep_due(self, now: float) -> bool:
        return now >= self.next_sweep

    def swept(self, now: float) -> None:
        self.next_sweep = now + self.sweep_every

    def rearm(self) -> None:
        due = self.next_sweep
        if self.fifo and self.fifo[0][0] < due:
            due = self.fifo[0][0]
        if self.heap and self.heap[0][0] < due:
            due = self.heap[0][0]
        self.due = due

    def prune(self, active: Container[str], live: int) -> None:
        """Drop entries of calls no longer active once they outnumber the live ones."""
        if len(self) > 2 * live + 1024:
            self.fifo = deque([t for t in self.fifo if t[2] in active])
            self.heap = [t for t in self.heap if t[2] in active]
            heapify(self.heap)
