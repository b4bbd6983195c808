"""The call tracker's deadlines: ends waiting for their grace (a heap) and the periodic sweep.

Cheap by design: one heap entry per scheduled end, no cancellation (a stale entry is
recognised by its token and skipped), one number (:attr:`Deadlines.due`) compared per event.
"""
from __future__ import annotations

import heapq
from typing import Container

__all__ = ["Deadlines"]


class Deadlines:
    """Ends to confirm ``(deadline, seq, call id, token)`` and the next expiry sweep."""

    __slots__ = ("heap", "sweep_every", "next_sweep", "due", "_seq")

    def __init__(self, sweep_every: float, now: float):
        self.heap: list[tuple[float, int, str, int]] = []
        self.sweep_every = sweep_every
        self.next_sweep = now + sweep_every
        self.due = self.next_sweep  #: the earliest deadline of any kind
        self._seq = 0

    def __len__(self) -> int:
        return len(self.heap)

    def token(self) -> int:
        """A fresh token for a pending end (a later one makes the earlier stale)."""
        self._seq += 1
        return self._seq

    def push(self, deadline: float, call_id: str, token: int) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (deadline, self._seq, call_id, token))
        if deadline < self.due:
            self.due = deadline

    def pop_due(self, now: float) -> list[tuple[str, int]]:
        """``(call id, token)`` of every end whose deadline passed, earliest first (taken off the heap)."""
        heap = self.heap
        due: list[tuple[str, int]] = []
        while heap and heap[0][0] <= now:
            _, _, cid, token = heapq.heappop(heap)
            due.append((cid, token))
        return due

    def sweep_due(self, now: float) -> bool:
        return now >= self.next_sweep

    def swept(self, now: float) -> None:
        self.next_sweep = now + self.sweep_every

    def rearm(self) -> None:
        heap = self.heap
        self.due = min(heap[0][0], self.next_sweep) if heap else self.next_sweep

    def prune(self, active: Container[str], live: int) -> None:
        """Drop entries of calls no longer active once they outnumber the live ones."""
        if len(self.heap) > 2 * live + 1024:
            self.heap = [t for t in self.heap if t[2] in active]
            heapq.heapify(self.heap)
