"""Type checkers see the public names: ``mypy src`` is clean, a user's typo is caught, and
pyright's ``--verifytypes`` completeness of both packages stays at or above 90%."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # type checkers, not the twins: once per `make test`

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
MIN_COMPLETENESS = 0.90

USER_SCRIPT = '''\
import asyncio

import lguapi
from lguapi.events import ChannelOutEvent, RingEvent


def on_ring(ev: RingEvent) -> None:
    print(ev.caller_id)


async def main() -> None:
    client = lguapi.Client("127.0.0.1", 8086)
    reveal_type(client)
    reveal_type(lguapi.Monitor)
    reveal_type(lguapi.CallTracker().calls())
    client.on(RingEvent, on_ring)
    client.on(ChannelOutEvent, on_ring)       # the callback takes the wrong event
    await client.login("07012343001", "secret-3001")
    await client.clik2call("01012345678")     # misspelt: click2call
    async with lguapi.connect("127.0.0.1", user_id="x", password="y") as c2:
        reveal_type(c2)


asyncio.run(main())
'''


def tool(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed (it is in the 'test' extra: pip install -e '.[test]')")
    return found


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_mypy_src_is_clean():
    r = run([tool("mypy")], ROOT)  # files and settings from [tool.mypy] in pyproject.toml
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
    assert "Success: no issues found" in r.stdout


def test_mypy_catches_a_users_misspelt_method(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT, encoding="utf-8")
    r = run([tool("mypy"), "--cache-dir", str(tmp_path / "cache"), str(script)], tmp_path)
    out = r.stdout
    assert r.returncode == 1, out + r.stderr
    assert '"Client" has no attribute "clik2call"' in out
    assert 'Revealed type is "lguapi.client.Client"' in out
    assert 'def (' in out and "lguapi.monitor.Monitor" in out
    assert any("list[lguapi.calls" in x and "Call]" in x for x in out.splitlines())
    assert 'Argument 2 to "on" of "Client"' in out and "Callable[[ChannelOutEvent], Any]" in out  # wrong callback
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 2, out


@pytest.mark.parametrize("package", ["lguapi", "lgucore"])
def test_pyright_verifytypes_completeness(package, tmp_path):
    r = run([tool("basedpyright"), "--verifytypes", package, "--ignoreexternal", "--outputjson"], tmp_path)
    report = json.loads(r.stdout)
    score = report["typeCompleteness"]["completenessScore"]
    counts = report["typeCompleteness"]["exportedSymbolCounts"]
    assert score >= MIN_COMPLETENESS, f"{package}: {score:.1%} ({counts})"
