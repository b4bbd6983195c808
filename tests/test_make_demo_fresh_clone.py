"""`make demo` from a fresh clone: the README's first command, on nothing but a clone.

The clone gets its own virtualenv and its own build of the extensions (so this is slow:
about a minute on the 2-core CI machine); the demo is left running until its status line
shows answered calls, interrupted with SIGINT like Ctrl-C, and its summary is checked. Then
`make -n` shows that running it again would install and build nothing.
"""
from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import time
from pathlib import Path

import pytest

from test_demo import parse_summary

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT = 900  # venv + installs + Cython build, generous for a loaded CI machine
ANSWERED = 2  # the demo runs until its status line counts this many answered calls
RUN_AT_MOST = 120.0  # ... which takes a few seconds: the bound only catches a demo without calls


@pytest.mark.slow
def test_make_demo_from_a_fresh_clone(tmp_path):
    clone = tmp_path / "lguapi"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "LGUCORE_NO_EXTENSIONS", "MAKEFLAGS", "MAKELEVEL")}
    env["DEMO_ARGS"] = "--extensions 3001-3060 --no-tui --interval 1"
    proc = subprocess.Popen(["make", "demo"], cwd=clone, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    out: list[str] = []
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    started = None
    answered = 0
    deadline = time.monotonic() + BUILD_TIMEOUT
    try:
        # wait until the demo reports status lines, then until they count answered calls
        while time.monotonic() < deadline and answered < ANSWERED:
            if started is not None and time.monotonic() - started > RUN_AT_MOST:
                break
            if not sel.select(timeout=1.0):
                if proc.poll() is not None:
                    break
                continue
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line.decode(errors="replace"))
            if "] online " in out[-1]:
                started = started or time.monotonic()
                m = re.search(r"\banswered (\d+)", out[-1])
                answered = int(m.group(1)) if m else 0
        assert started is not None, "make demo never reported status:\n" + "".join(out)[-4000:]
        assert answered >= ANSWERED, "no answered calls in the demo's status:\n" + "".join(out)[-4000:]
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches make and the demo, as in a terminal
        rest, _ = proc.communicate(timeout=120)
        out.append(rest.decode(errors="replace"))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    text = "".join(out)
    fields = parse_summary(text)
    assert fields["extensions"].startswith("60 (60 logged in"), fields
    assert int(fields["calls seen"]) > 0 and int(fields["answered"]) >= ANSWERED, fields
    assert fields["tracker matches emulator history"].startswith("yes"), fields
    assert (clone / ".venv" / "bin" / "lguapi").exists()

    # nothing changed: a second `make demo` / `make test` neither reinstalls nor rebuilds
    for target in ("demo", "test"):
        dry = subprocess.run(["make", "-n", target], cwd=clone, env=env, capture_output=True, text=True, timeout=60)
        assert dry.returncode == 0, dry.stderr
        steps = [line for line in dry.stdout.splitlines() if "pip install" in line or "build_ext" in line
                 or "-m venv" in line]
        assert steps == [], steps  # (`make test` still installs the test extras once: not a rebuild)
    dry = subprocess.run(["make", "-q", ".venv/.built", ".venv/.installed"], cwd=clone, env=env, timeout=60)
    assert dry.returncode == 0, "make -q: the build stamps are not up to date after make demo"
