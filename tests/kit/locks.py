"""Locks between test processes (pytest-xdist workers): a test that builds in the checkout
itself (an sdist) writes ``src/*.egg-info`` there, so it takes turns with the others; tests
that build a wheel build it in a :func:`source_copy`, taken under the same lock."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
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


#: what a build needs from the checkout, besides ``src/``
BUILD_FILES = ("setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in")
_NOT_SOURCES = ("build", "dist", ".venv", "site", "__pycache__", ".git", "_build_fallback.txt")


def source_copy(dest: Path, extra: tuple[str, ...] = ()) -> Path:
    """The checkout's sources in ``dest`` without build outputs (a fresh clone, but with the
    generated C kept so that cythonize has nothing to redo), plus the ``extra`` files and
    folders (paths relative to the checkout). A build there leaves the checkout alone."""
    def ignore(_dir: str, names: list[str]) -> set[str]:
        return {n for n in names if n.endswith((".so", ".pyd")) or n in _NOT_SOURCES}

    with source_tree_lock():  # not while another test builds in the checkout
        for item in (*BUILD_FILES, *extra):
            (dest / item).parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / item).is_dir():
                shutil.copytree(ROOT / item, dest / item, ignore=ignore)
            else:
                shutil.copy2(ROOT / item, dest / item)
        shutil.copytree(ROOT / "src", dest / "src", ignore=ignore)
    return dest
