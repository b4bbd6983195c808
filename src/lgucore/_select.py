"""Pick the compiled twin of a module unless LGUCORE_NO_EXTENSIONS is set or it is not built."""
from __future__ import annotations

import importlib
from types import ModuleType

from ._env import NO_EXTENSIONS


def compiled(name: str) -> ModuleType | None:
    """Return ``lgucore.<name>`` (a compiled module) or ``None``; never hides other errors."""
    if NO_EXTENSIONS:
        return None
    try:
        return importlib.import_module(f"lgucore.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"lgucore.{name}":
            raise
        return None
