"""Importing the SDK, a client, a monitor or the CLI does not import numpy.

numpy (about 60 ms and a pool of BLAS threads per process) serves only the batch decoder,
which ``lgucore`` imports on first use: a ``lguapi`` command that never decodes a batch
starts without it. Runs on whichever twin is selected.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lgucore

SRC = str(Path(__file__).resolve().parents[1] / "src")

MODULES = ("lguapi", "lguapi.client", "lguapi.monitor", "lguapi.calls", "lguapi.cli", "lguapi.sinks",
           "lguapi.server.emulator", "lguapi.gateway")


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}).stdout
    return set(out.split())


def test_the_sdk_and_its_commands_start_without_numpy():
    loaded = _loaded_after("\n".join(f"import {m}" for m in MODULES))
    assert set(MODULES) <= loaded
    assert "numpy" not in loaded and "lgucore.batch" not in loaded


def test_the_batch_decoder_loads_on_first_use():
    loaded = _loaded_after("import lgucore\nlgucore.decode_batch(b'')")
    assert {"numpy", "lgucore.batch"} <= loaded


def test_the_batch_names_are_the_selected_twins():
    twin = lgucore.batch.c if lgucore.HAS_EXTENSIONS else lgucore.batch.py
    for name in ("FrameBatch", "TokenBatch", "decode_batch", "tokenize_batch"):
        assert getattr(lgucore, name) is getattr(twin, name)
        assert name in dir(lgucore) and name in lgucore.__all__
    from lgucore import tokenize_batch  # the `from` form goes through the same lazy lookup

    assert tokenize_batch is twin.tokenize_batch
