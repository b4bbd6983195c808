"""`lguapi sink --cluster` and `python -m lguapi.cluster.run`: usage errors are exit 2 with one
line at once, an unreachable Redis is exit 4; `lguapi gateway` offers `--cluster`."""
from __future__ import annotations

import subprocess
import sys

from kit.cluster import SRC
from kit.clients import dead_port


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})


def test_sink_usage_errors_and_unreachable_redis(tmp_path):
    p = run("-m", "lguapi", "sink", "--cluster", "redis://127.0.0.1:6379/0", "--to", "events.csv")
    assert p.returncode == 2 and "sqlite:PATH or jsonl:PATH" in p.stderr and len(p.stderr.splitlines()) == 1
    p = run("-m", "lguapi", "sink", "--cluster", "http://x", "--to", f"sqlite:{tmp_path}/a.db")
    assert p.returncode == 2 and "redis://" in p.stderr
    p = run("-m", "lguapi", "sink", "--cluster", f"redis://127.0.0.1:{dead_port()}/0", "--to",
            f"jsonl:{tmp_path}/a.jsonl")
    assert p.returncode == 4 and "cannot connect" in p.stderr
    p = run("-m", "lguapi", "sink", "--to", "sqlite:x.db")
    assert p.returncode == 2 and "--cluster" in p.stderr


def test_member_refuses_lease_settings_that_break_the_timing_argument(tmp_path):
    p = run("-m", "lguapi.cluster.run", "--cluster", "redis://127.0.0.1:1/0", "--accounts", "x.toml",
            "--lease-ttl", "2", "--renew-interval", "1")
    assert p.returncode == 2 and "lease_ttl too short" in p.stderr


def test_gateway_has_the_cluster_flag():
    p = run("-m", "lguapi", "gateway", "--help")
    assert p.returncode == 0 and "--cluster URL" in p.stdout
