"""Pick the compiled twin of the tracker's hot modules (``lguapi.calls._c.core``) or the pure ones.

The rules of lgucore's twins: the pure modules are the reference; ``LGUCORE_NO_EXTENSIONS=1``
forces them; ``LGUCORE_REQUIRE_EXTENSIONS=1`` makes a missing compiled twin an ImportError.
The compiled twin is the pure modules of :data:`PARTS` joined into one module (setup.py), so
every call between them is a C call; :func:`hot` gives that one module for each of them.
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType

from lgucore import NO_EXTENSIONS

__all__ = ["PARTS", "HOT_MODULES", "COMPILED", "hot"]

#: the pure modules the compiled twin holds, in the order they are joined (setup.py's TRACKER_PARTS)
PARTS = ("lguapi.channels", "lguapi.calls.index", "lguapi.calls.timers", "lguapi.calls.state",
         "lguapi.calls.hints",
         "lguapi.calls.book", "lguapi.calls.handlers", "lguapi.calls.handlers_more",
         "lguapi.calls.feed")
#: the compiled twin's modules, under ``lguapi.calls._c`` (setup.py's TRACKER_HOT_MODULES); the
#: pure ``lguapi.calls.core`` re-exports the parts
HOT_MODULES = ("core",)


def _load() -> tuple[ModuleType | None, bool]:
    if not NO_EXTENSIONS:
        try:
            return importlib.import_module("lguapi.calls._c.core"), True
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("lguapi.calls._c."):
                raise
            if os.environ.get("LGUCORE_REQUIRE_EXTENSIONS", "") not in ("", "0"):
                raise ImportError(f"the call tracker's compiled twin is missing ({exc.name}): run `make build`"
                                  " (or unset LGUCORE_REQUIRE_EXTENSIONS)") from exc
    return None, False


_CORE, COMPILED = _load()
#: True when the compiled twin is in use


def hot(name: str) -> ModuleType:
    """The selected twin of ``lguapi.calls.<name>``: ``"core"`` or one of the :data:`PARTS` of
    the package. Compiled, always the one core module (it holds every part's names); pure,
    the module itself (``lguapi.calls.core`` re-exports the parts)."""
    if name not in HOT_MODULES and f"lguapi.calls.{name}" not in PARTS:
        raise KeyError(name)
    return _CORE if _CORE is not None else importlib.import_module(f"lguapi.calls.{name}")
