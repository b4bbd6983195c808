"""Every shell and Python block of README.md (and README.ko.md when it exists) runs as written.

The blocks run in order, in one scratch directory, against the emulator the README itself
starts; only the ports are changed (8086, 8087, 8090 and 9999 become free ones). A block runs to
completion (exit status 0, no traceback) unless an HTML comment on the line before it says
otherwise:

    <!-- readme-test: skip: REASON -->                  not run (REASON is required)
    <!-- readme-test: background until "TEXT" -->       started, TEXT awaited on its output,
                                                        stopped with SIGINT at the end (status 0)

A shell or Python block that is neither run nor marked, or a block in a language this test
does not know, fails the test: a new example cannot slip in untested.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
READMES = [p for p in (ROOT / "README.md", ROOT / "README.ko.md") if p.exists()]
RUNNABLE = {"sh": "sh", "bash": "sh", "shell": "sh", "python": "python", "py": "python"}
NOT_CODE = {"json", "text", "toml", "console-output"}
PORTS = ("8086", "8087", "9999", "8090")
MARK = re.compile(r'<!--\s*readme-test:\s*(skip:\s*(?P<reason>.+?)|background until "(?P<until>[^"]+)")\s*-->')
BLOCK_TIMEOUT = 120.0


@dataclass
class Block:
    source: str
    line: int
    lang: str
    code: str
    skip: str | None = None
    until: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file with the marker of the line before each."""
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        mark = MARK.search(prev)
        b = Block(path.name, start + 1, m.group(1).lower(), "\n".join(lines[start + 1:j]) + "\n")
        if mark:
            b.skip, b.until = mark.group("reason"), mark.group("until")
        out.append(b)
        i = j + 1
    return out


def free_ports(n: int) -> list[str]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [str(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def substitute(code: str, ports: dict[str, str]) -> str:
    return re.sub(r"(?<!\d)(8086|8087|8090|9999)(?!\d)", lambda m: ports[m.group(1)], code)


def tool_dir(tmp: Path) -> Path:
    """``lguapi`` and ``python3`` as a user has them after ``pip install``: this checkout's code."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    # wrappers, not symlinks: a symlinked venv python outside its venv is the base interpreter,
    # without the packages installed in the venv
    for name, body in (("python3", f'exec "{sys.executable}" "$@"'), ("lguapi", f'exec "{sys.executable}" -m lguapi "$@"')):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


class Background:
    """A block started in the background; its output is collected by a thread."""

    def __init__(self, block: Block, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.block = block
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.output: list[str] = []
        self.seen = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if self.block.until and self.block.until in line:
                self.seen.set()

    def wait_ready(self, timeout: float) -> None:
        if not self.seen.wait(timeout):
            self.stop()
            raise AssertionError(f"{self.block.where}: {self.block.until!r} never appeared:\n{''.join(self.output)}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # Ctrl-C, as the reader would
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            rc = self.proc.wait()
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return rc


def argv_of(block: Block, code: str, cwd: Path) -> list[str]:
    if RUNNABLE[block.lang] == "python":
        path = cwd / f"readme_block_{block.line}.py"
        path.write_text(code, encoding="utf-8")
        return [sys.executable, str(path)]
    return ["bash", "-e", "-c", code]


def ensure_curl() -> None:
    """The README uses curl; a clean CI machine may not have it (installed as root there)."""
    if shutil.which("curl"):
        return
    if os.geteuid() != 0:
        pytest.fail("curl is missing (apt-get install curl)")
    subprocess.run(["apt-get", "install", "-y", "-q", "curl"], check=True, capture_output=True)


@pytest.mark.parametrize("readme", READMES, ids=[p.name for p in READMES])
def test_every_block_is_run_or_marked(readme):
    found = blocks(readme)
    assert any(b.lang in RUNNABLE and not b.skip and not b.until for b in found), "nothing would run"
    for b in found:
        if b.lang in NOT_CODE:
            continue
        assert b.lang in RUNNABLE, f"{b.where}: a ```{b.lang or '(no language)'} block: name its language"
        if b.skip is not None:
            assert b.skip.strip(), f"{b.where}: a skip marker needs a reason"


@pytest.mark.slow  # the whole tour (~20 s): once per `make test`, on the compiled core
@pytest.mark.parametrize("readme", READMES, ids=[p.name for p in READMES])
def test_every_block_runs_as_written(readme, tmp_path):
    ensure_curl()
    ports = dict(zip(PORTS, free_ports(len(PORTS))))
    env = dict(os.environ)
    env["PATH"] = f"{tool_dir(tmp_path)}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("LGUAPI_PASSWORD", None)
    work = tmp_path / "work"
    work.mkdir()
    background: list[Background] = []
    ran = 0
    try:
        for b in blocks(readme):
            if b.lang not in RUNNABLE or b.skip is not None:
                continue
            code = substitute(b.code, ports)
            if b.until:
                bg = Background(b, argv_of(b, code, work), work, env)
                background.append(bg)
                bg.wait_ready(60)
                continue
            t0 = time.monotonic()
            r = subprocess.run(argv_of(b, code, work), cwd=work, env=env, capture_output=True, text=True,
                               timeout=BLOCK_TIMEOUT)
            shown = f"{b.where} ({time.monotonic() - t0:.1f} s):\n{code}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
            assert r.returncode == 0, shown
            for bad in ("Traceback", "BYE", "CmdError"):  # a crash, a session kicked, a refused command
                assert bad not in r.stderr + r.stdout, shown
            ran += 1
            if os.environ.get("README_TEST_SHOW"):
                print(shown)
    finally:
        codes = [(bg.block.where, bg.stop(), "".join(bg.output)) for bg in reversed(background)]
    for where, rc, output in codes:
        assert rc == 0, f"{where} (background) ended with {rc}:\n{output}"
        for bad in ("Traceback", "BYE", "kicked"):
            assert bad not in output, f"{where}:\n{output}"
    assert ran > 0
