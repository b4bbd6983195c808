"""Locks between test processes (pytest-xdist workers): tests that build from the checkout
itself (``make wheel``, an sdist, a wheel from the sources) write ``build/`` and
``src/*.egg-info`` there, so they take turns."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def source_tree_lock() -> Iterator[None]:
    """Hold the checkout's build lock (a file lock in the system temp dir, one per checkout)."""
    name = hashlib.sha1(str(ROOT).encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"lguapi-tree-{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
