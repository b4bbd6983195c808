"""A hand-driven clock: inject it where code reads the time, move ``t`` to make time pass."""
from __future__ import annotations


class Clock:
    """``clock()`` returns ``clock.t``; tests set or advance ``t`` (seconds)."""

    def __init__(self, t: float = 1_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` forward; returns the new time."""
        self.t += seconds
        return self.t
