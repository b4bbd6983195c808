"""The ``>>>`` examples in the modules' docstrings run, as written (``make test`` runs them)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lguapi
import lgucore

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def modules() -> list[str]:
    names = []
    for pkg in (lgucore, lguapi):
        names.append(pkg.__name__)
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            names.append(info.name)
    return sorted(names)


MODULES = modules()


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, report=True, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (see the output above)"


def test_the_examples_are_many():
    attempted = sum(doctest.testmod(importlib.import_module(n), optionflags=FLAGS, report=False).attempted
                    for n in MODULES)
    assert attempted >= 30, attempted
