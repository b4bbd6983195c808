"""Helpers for the cluster tests and bench: accounts files, member processes (real OS processes
of ``python -m lguapi.cluster.run``), and ownership checks against the emulator's sessions."""
from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lguapi

from kit import wait

SRC = str(Path(lguapi.__file__).resolve().parent.parent)

#: lease timing for tests: TTL 5 s > emulator idle_timeout 3 s + renew 0.5 s (docs/cluster.md);
#: 5/1.01 - 1.5 = 3.45 s >= 2 x 0.5 + redis_timeout 1.5 (one renewal may fail)
TEST_LEASES = ["--shards", "32", "--lease-ttl", "5", "--renew-interval", "0.5", "--member-ttl", "2",
               "--fence-margin", "1.5", "--settle", "1"]
EMULATOR_IDLE = 3.0


def write_accounts(directory, path: Path) -> Path:
    """The accounts TOML file of ``directory`` (the emulator's format)."""
    out = []
    for dom in directory.domains():
        out.append(f'[[domain]]\nname = "{dom}"\n')
        for u in directory.in_domain(dom):
            out.append(f'[[domain.user]]\nid = "{u.id}"\npassword = "{u.password}"\nexten = "{u.exten}"\n')
    path.write_text("\n".join(out), encoding="utf-8")
    return path


class Member:
    """One ``lguapi.cluster.run`` process with a JSON status file."""

    def __init__(self, name: str, workdir: Path, redis_url: str, port: int, accounts: Path,
                 extra: list[str] | None = None) -> None:
        self.name = name
        self.status_path = workdir / f"{name}.status.json"
        self.log_path = workdir / f"{name}.log"
        args = [sys.executable, "-m", "lguapi.cluster.run", "--cluster", redis_url, "--accounts", str(accounts),
                "--port", str(port), "--status", str(self.status_path), "--status-interval", "0.3",
                *(extra if extra is not None else TEST_LEASES)]
        env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   LGUAPI_LOG=os.environ.get("LGUAPI_TEST_CLUSTER_LOG", "WARNING"))
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env)

    def status(self) -> dict:
        try:
            return json.loads(self.status_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def stop(self, timeout: float = 40.0) -> int:
        """SIGTERM and wait (the member hands its shards over, then exits)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.proc.poll() is None and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-n:]
        except OSError:
            return ""


class Rig:
    """Generated extensions 3001..., their accounts file, and the members started for them
    (with ``member_args``, default :data:`TEST_LEASES`)."""

    def __init__(self, tmp_path: Path, redis_url: str, n_ext: int, *, member_args: list[str] | None = None) -> None:
        from lguapi.server import Directory

        self.member_args = TEST_LEASES if member_args is None else member_args
        self.tmp_path = tmp_path
        self.redis_url = redis_url
        self.directory = Directory.generate(f"3001-{3000 + n_ext}")
        self.ids = [u.id for u in self.directory.users()]
        self.accounts = write_accounts(self.directory, tmp_path / "accounts.toml")
        self.members: list[Member] = []

    def spawn(self, name: str, port: int) -> Member:
        """Start one more member against the emulator on ``port``."""
        m = Member(name, self.tmp_path, self.redis_url, port, self.accounts, extra=self.member_args)
        self.members.append(m)
        return m


def session_counts(emu) -> collections.Counter:
    """How many logged-in sessions the emulator has per login id."""
    return collections.Counter(s.user.id for s in emu.sessions())


def owned_once(emu, ids) -> bool:
    """Is every login id logged in by exactly one session?"""
    c = session_counts(emu)
    return all(c.get(i, 0) == 1 for i in ids) and sum(c.values()) == len(ids)


async def until(cond, timeout: float = 60.0, what: str = "condition", interval: float = 0.05) -> float:
    """:func:`kit.wait.until` with the cluster's long default timeout (a failover takes seconds)
    and its positional order; returns the seconds waited."""
    t0 = time.monotonic()
    await wait.until(cond, what, timeout=timeout, every=interval)
    return time.monotonic() - t0
