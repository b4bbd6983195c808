"""The few names of Cython's pure-Python ``cython`` module the tracker's sources use, as no-ops:
imported in its place when Cython is not installed (a pure install runs the same sources)."""
from __future__ import annotations

from typing import TypeVar

__all__ = ["compiled", "cclass", "final", "no_gc"]

T = TypeVar("T")
compiled = False


def _same(obj: T) -> T:
    return obj


cclass = final = no_gc = _same
