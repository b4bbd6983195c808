"""A bounded memory of recently seen keys, in two generations of dicts the collector never tracks.

Used against counting or recording one thing twice: the Monitor's counted call ends and the
JSON Lines sink's record keys. ``RecentKeys(half)`` remembers the last ``half`` to
``2 * half`` keys: when the newer generation holds ``half`` keys it becomes the older one and
the older one is forgotten, all at once. Keys are strings and values strings, numbers or None,
so neither dict is ever tracked by the cyclic garbage collector (a ``set`` plus a ``deque`` of
the same keys would be, and every full collection would walk all of them).

>>> r = RecentKeys(2)
>>> r.add("a"), r.add("a"), r.add("b"), r.add("c"), "a" in r, r.add("d"), "a" in r
(True, False, True, True, True, True, False)
"""
from __future__ import annotations

from typing import Any

__all__ = ["RecentKeys", "hashed_dict"]

_UNSEEN = object()


def hashed_dict() -> dict:
    """An empty dict that stores each key's hash beside it.

    A dict whose keys have only ever been ``str`` uses CPython's compact string layout, which
    keeps no hashes: every occupied slot a lookup probes sends it to the key object itself to
    compare hashes, a cache miss per probe in a table of 100,000 keys that nobody else touches.
    One non-string key, put in and taken out, switches the table to the general layout for
    good (resizes keep it); a key that is absent -- nearly every key asked for here -- is then
    turned away by the hashes in the table alone. In the 5,000-connection Monitor with a
    JSONL sink that is 0.7 µs per event (bench/bench_ingest.py); the call tracker's index,
    tombstones and call tables use it too (docs/calls.md)."""
    d: dict = {0: None}
    del d[0]
    return d


class RecentKeys:
    """The keys (with a value each) added last; see the module's docstring for the bound."""

    __slots__ = ("half", "new", "old")

    def __init__(self, half: int) -> None:
        self.half = max(1, half)
        self.new: dict[str, Any] = hashed_dict()
        self.old: dict[str, Any] = hashed_dict()

    def __contains__(self, key: str) -> bool:
        return key in self.new or key in self.old

    def __len__(self) -> int:
        return len(self.new) + len(self.old)

    def fresh(self, key: str) -> bool:
        """:meth:`add` for a key alone (no value), in fewer steps: False when it is remembered."""
        new = self.new
        if key in new or key in self.old:
            return False
        new[key] = None
        if len(new) >= self.half:
            self.old, self.new = new, hashed_dict()
        return True

    def add(self, key: str, value: Any = None) -> bool:
        """Remember ``key`` with ``value``; False when this key with an equal value is
        remembered already. A key seen again with another value (a call that ended again at
        another time) is remembered under both values."""
        new = self.new
        seen = new.get(key, _UNSEEN)
        if seen is _UNSEEN:
            seen = self.old.get(key, _UNSEEN)
        if seen is _UNSEEN:
            new[key] = value
        elif seen == value:
            return False
        else:  # rare: the second value under a key of its own
            again = f"{key}\x1f{value!r}"
            if again in new or again in self.old:
                return False
            new[again] = None
        if len(new) >= self.half:
            self.old, self.new = new, hashed_dict()
        return True
