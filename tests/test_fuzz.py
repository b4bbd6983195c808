"""A short bounded run of every coverage-guided fuzz target in ``fuzz/`` (docs/core.md "Fuzzing").

Each target runs as its own process (``python fuzz/fuzz_<name>.py -runs=N``) from the
checked-in seed corpus; any crash, disagreement between the twins or broken invariant is a
non-zero exit and fails the test with the fuzzer's report. ``LGUAPI_FUZZ_RUNS`` sets N
(default 3000); ``make fuzz`` runs the same targets for longer.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FUZZ = os.path.join(ROOT, "fuzz")
TARGETS = ["frames", "tokens", "batch", "cipher", "events", "tracker", "session", "capture"]
RUNS = int(os.environ.get("LGUAPI_FUZZ_RUNS", "3000"))
RUN_SLACK = 64  # how far past -runs a bounded run may count before it stops


def test_every_target_has_a_seed_corpus():
    found = sorted(f[5:-3] for f in os.listdir(FUZZ) if f.startswith("fuzz_") and f.endswith(".py"))
    assert found == sorted(TARGETS)
    for t in TARGETS:
        assert os.listdir(os.path.join(FUZZ, "corpus", t)), t


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_bounded_run(target, tmp_path):
    cmd = [sys.executable, os.path.join(FUZZ, f"fuzz_{target}.py"), f"-runs={RUNS}", "-seed=1", "-max_len=2048",
           f"-artifact_prefix={tmp_path}/", str(tmp_path), os.path.join(FUZZ, "corpus", target)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    report = proc.stderr[-4000:]
    assert proc.returncode == 0, f"fuzz_{target} found a problem:\n{report}"
    # libFuzzer checks its -runs budget between rounds of mutations, not after every input, so
    # the final count may pass it by a few (CI has printed "Done 3001" and "Done 3002 runs").
    # What matters is that the run stopped by itself near the budget, not the exact figure.
    done = re.search(r"^Done (\d+) runs", proc.stderr, re.M)
    assert done and RUNS <= int(done.group(1)) <= RUNS + RUN_SLACK, report
