"""``lguapi demo`` as a subprocess (no terminal: plain status lines): a bounded run with the
Makefile's own arguments, and a run interrupted with SIGINT; the summary is checked."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import sys
from pathlib import Path

from lguapi.demo import compare_history, default_rate

ROOT = Path(__file__).resolve().parents[1]


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def makefile_demo_args() -> list[str]:
    """The arguments ``make demo`` gives ``lguapi demo`` (without $(DEMO_ARGS))."""
    text = (ROOT / "Makefile").read_text()
    recipe = text.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "$(BUILT)" in recipe.splitlines()[0], "make demo must build the core (and install the package)"
    install = text.split("\n$(INSTALLED):", 1)[1].split("\n\n", 1)[0]
    assert '-e ".[cli,gateway]"' in install, "make demo must install the cli (rich) and gateway extras"
    (line,) = [x for x in recipe.splitlines() if "lguapi demo" in x]
    assert line.strip().startswith("$(VENV)/bin/lguapi demo")
    args = shlex.split(line.split("lguapi demo", 1)[1])
    assert args[-1] == "$(DEMO_ARGS)"
    return args[:-1]


def parse_summary(out: str) -> dict:
    assert "demo summary" in out, out[-3000:]
    summary = out.split("demo summary", 1)[1]
    fields = {}
    for line in summary.strip().splitlines():
        key, sep, value = line.partition(": ")
        if sep and not line.startswith(" "):
            fields[key] = value
    return fields


async def run_demo(*args: str, interrupt_when=None, timeout: float = 60.0) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lguapi", "demo", *args, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=child_env(), cwd=str(ROOT))
    lines: list[str] = []
    try:
        if interrupt_when is not None:
            while True:
                raw = await asyncio.wait_for(proc.stdout.readline(), timeout)
                assert raw, "demo ended before it was interrupted: " + "".join(lines)[-2000:]
                lines.append(raw.decode())
                if interrupt_when(lines[-1]):
                    break
            proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except BaseException:
        proc.kill()
        await proc.communicate()
        raise
    return proc.returncode, "".join(lines) + out.decode(), err.decode()


def check_summary(fields: dict, sink: Path, n_ext: int) -> None:
    assert fields["extensions"].startswith(f"{n_ext} ({n_ext} logged in"), fields
    assert fields["extensions"].endswith(", 0 failed)")
    calls = int(fields["calls seen"])
    answered, missed, abandoned = (int(fields[k]) for k in ("answered", "missed", "abandoned"))
    assert calls > 0 and answered > 0
    assert answered + missed + abandoned <= calls
    assert fields["tracker matches emulator history"] == f"yes ({calls} calls)"
    m = re.fullmatch(r"(\d+) \(([\d.]+) events/s\)", fields["events"])
    assert m and int(m.group(1)) > 0 and float(m.group(2)) > 0
    m = re.fullmatch(re.escape(str(sink)) + r" \((\d+) records\)", fields["sink"])
    assert m, fields["sink"]
    records = [json.loads(x) for x in sink.read_text(encoding="utf-8").splitlines()]
    assert len(records) == int(m.group(1))
    assert sum(1 for r in records if r["kind"] == "call") == calls
    assert not any("secret-" in json.dumps(r) for r in records[:50])


async def test_make_demo_command_line_with_a_short_duration(tmp_path):
    args = makefile_demo_args()
    assert args == ["--extensions", "3001-3300"]
    sink = tmp_path / "make-demo.jsonl"
    rc, out, err = await run_demo(*args, "--duration", "8", "--sink", str(sink), "--interval", "1",
                                  "--traffic", "8", timeout=90)
    assert rc == 0, err[-3000:]
    # no terminal: plain periodic lines, then the summary
    assert "logged in: 300/300 (0 failed)" in out
    assert re.search(r"^\[[\d.]+s\] online 300/300 \| idle \d+", out, re.M)
    fields = parse_summary(out)
    check_summary(fields, sink, 300)
    # --duration is honoured (it ran at least that long and stopped by itself; the upper
    # bound only catches a demo that does not stop, not a slow machine)
    assert 8.0 <= float(fields["duration"].split()[0]) < 120
    assert "Traceback" not in err


async def test_demo_left_running_then_interrupted_with_sigint(tmp_path):
    sink = tmp_path / "demo.jsonl"

    def some_calls_answered(line: str) -> bool:
        m = re.search(r"answered (\d+)", line)
        return bool(m and int(m.group(1)) >= 3)

    rc, out, err = await run_demo("--extensions", "3001-3040", "--sink", str(sink), "--interval", "0.5",
                                  "--traffic", "10", "--seed", "11", interrupt_when=some_calls_answered)
    assert rc == 0, err[-3000:]
    fields = parse_summary(out)
    check_summary(fields, sink, 40)
    assert int(fields["answered"]) >= 3
    assert "Traceback" not in err and "secret-" not in out + err


async def test_demo_rejects_a_bad_range():
    rc, out, err = await run_demo("--extensions", "9-1", "--duration", "1")
    assert rc == 2 and "ends before it starts" in err


def test_default_rate_and_history_comparison():
    assert default_rate(300) == 5.0 and default_rate(3) == 0.5 and default_rate(100_000) == 20.0

    class C:
        def __init__(self, id, answered, uids=()):
            self.id, self.answer_at, self.unique_ids, self.ring_at, self.direction = (
                id, 1.0 if answered else None, uids, 10.0, "inbound")

    rows = [
        {"id": "1.1", "answered": True, "extensions": ["3001"], "busy": [], "legs": [], "start": 10.0},
        {"id": "1.5", "answered": False, "extensions": ["3002"], "busy": [], "legs": [{"uniqueid": "1.6"}],
         "start": 10.0},
        {"id": "1.9", "answered": False, "extensions": ["3003"], "busy": ["3003"], "legs": [], "start": 10.0},
    ]
    ok = compare_history(rows, [C("1.1", True), C("x", False, ("1.6",))])
    assert ok["ok"] and ok["matched"] == 2 and ok["skipped"] == 1
    bad = compare_history(rows, [C("1.1", False), C("2.2", True)])
    assert not bad["ok"] and (bad["missing"], bad["extra"], bad["differ"]) == (1, 1, 1)
    assert any("tracker says unanswered" in d for d in bad["details"])
