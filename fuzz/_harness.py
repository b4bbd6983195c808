"""Shared plumbing of the fuzz targets: atheris start-up, the two lgucore twins, outcomes to compare.

Each target is a script ``fuzz/fuzz_<name>.py`` with a ``test_one_input(data)`` function;
``run(test_one_input)`` hands it to atheris with the command-line arguments (libFuzzer's:
``-runs=N``, ``-seed=S``, corpus directories). The pure-Python modules are imported under
atheris' instrumentation so coverage guides the search; the compiled twins are checked
against them (differential) on every input.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable

import atheris

__all__ = ["run", "twins", "outcome", "instrumented"]

_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
if os.path.isdir(_SRC) and _SRC not in sys.path:
    sys.path.insert(0, _SRC)   # a checkout's sources win over an installed copy


def instrumented() -> Any:
    """A context manager: modules imported inside it are instrumented for coverage."""
    return atheris.instrument_imports(include=["lgucore", "lguapi"])


def twins() -> list:
    """The namespaces of the built lgucore twins, pure first (``lgucore.implementations()``)."""
    import lgucore

    impls = lgucore.implementations()
    return [impls[k] for k in ("py", "c") if k in impls]


def outcome(fn: Callable, *args: Any, **kw: Any) -> tuple:
    """``("ok", result)`` or ``("error", type name, message)`` of one call.

    Only ``ValueError``/``TypeError`` (lgucore's documented errors and their subclasses)
    are outcomes; anything else propagates and is a finding.
    """
    try:
        return ("ok", fn(*args, **kw))
    except (ValueError, TypeError) as exc:
        return ("error", type(exc).__name__, str(exc))


def run(test_one_input: Callable[[bytes], None]) -> None:
    """Fuzz ``test_one_input`` with the process's arguments (libFuzzer flags and corpora)."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
