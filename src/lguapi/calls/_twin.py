"""Pick the compiled twin of the tracker's hot modules (``lguapi.calls._c``) or the pure ones.

The rules of lgucore's twins: the pure modules are the reference; ``LGUCORE_NO_EXTENSIONS=1``
forces them; ``LGUCORE_REQUIRE_EXTENSIONS=1`` makes a missing compiled twin an ImportError.
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType

from lgucore import NO_EXTENSIONS

__all__ = ["HOT_MODULES", "COMPILED", "hot"]

#: the modules that have a compiled twin, in import order (setup.py's TRACKER_HOT_MODULES)
HOT_MODULES = ("state", "book", "handlers", "handlers_more")


def _load() -> tuple[dict[str, ModuleType], bool]:
    if not NO_EXTENSIONS:
        try:
            return {m: importlib.import_module(f"lguapi.calls._c.{m}") for m in HOT_MODULES}, True
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("lguapi.calls._c."):
                raise
            if os.environ.get("LGUCORE_REQUIRE_EXTENSIONS", "") not in ("", "0"):
                raise ImportError(f"the call tracker's compiled twin is missing ({exc.name}): run `make build`"
                                  " (or unset LGUCORE_REQUIRE_EXTENSIONS)") from exc
    return {m: importlib.import_module(f"lguapi.calls.{m}") for m in HOT_MODULES}, False


_MODULES, COMPILED = _load()
#: True when the compiled twin is in use


def hot(name: str) -> ModuleType:
    """The selected twin of hot module ``name`` (one of :data:`HOT_MODULES`)."""
    return _MODULES[name]
