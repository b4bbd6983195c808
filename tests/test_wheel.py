"""`make wheel`: a repaired manylinux wheel, small, without generated C or debug symbols, whose
core tests pass against the installed wheel in a clean virtualenv (about a minute). It runs in
a copy of the sources, so the other tests need not wait for it to leave the checkout."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kit.locks import source_copy
from lguapi.calls import _twin

ROOT = Path(__file__).resolve().parents[1]
# about 1.0 MB today (2026-12: the six stripped extension modules 0.57 MB of it, the call
# tracker's 0.23); the unstripped wheel with its .c files was 2.7 MB
MAX_WHEEL_BYTES = 1_250_000


@pytest.mark.slow
def test_make_wheel(tmp_path):
    if sys.platform != "linux":
        pytest.fail("make wheel repairs with auditwheel: Linux only (cibuildwheel covers the other OSes)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LGUCORE_NO_EXTENSIONS", "MAKEFLAGS")}
    dist = tmp_path / "dist"
    tree = source_copy(tmp_path / "tree", extra=("Makefile", "tests/core", "tests/conftest.py"))
    # this interpreter's environment has the build tools; the recipe makes its own clean venv
    r = subprocess.run(["make", "-s", "wheel", f"PY={sys.executable}", "TEST_INSTALLED=",
                        f"WHEEL_DIR={dist / 'wheel'}"], cwd=tree, env=env, capture_output=True, text=True,
                       timeout=1200)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    (wheel,) = (dist / "wheel").glob("lguapi-*.whl")
    assert re.search(r"-cp3\d+-cp3\d+-manylinux[\w.]*_x86_64\.whl$|manylinux[\w.]*_aarch64\.whl$", wheel.name), wheel
    assert wheel.stat().st_size < MAX_WHEEL_BYTES, wheel.stat().st_size
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert not [n for n in names if n.endswith((".c", ".pyx")) or n.startswith("lgucore/") and n.endswith(".html")], names
        libs = [n for n in names if n.endswith(".so")]
        # one per Cython module: lgucore's .pyx, and the call tracker's compiled twin (setup.py)
        tracker = [n for n in libs if n.startswith("lguapi/calls/_c/")]
        assert len(libs) - len(tracker) == len(list((ROOT / "src" / "lgucore").glob("*.pyx"))), libs
        assert len(tracker) == len(_twin.HOT_MODULES), libs
        for lib in libs:
            assert b".debug_info" not in z.read(lib), f"{lib} carries debug symbols"
        assert "lgucore/_frames_c.pyi" in names and "lguapi/py.typed" in names
        assert any(n.endswith("licenses/LICENSE") for n in names)
    assert "installed: " in out and "/dist/wheel-venv/" in out
    passed = re.search(r"(\d+) passed", out)
    assert passed and int(passed.group(1)) > 500 and " failed" not in out
