"""The call tracker's compiled twin (``lguapi.calls._c``) follows lgucore's twin rules: built by
setup.py from the pure sources (joined into one module), selected at import, ``LGUCORE_NO_EXTENSIONS=1`` forces the pure
modules, ``LGUCORE_REQUIRE_EXTENSIONS=1`` makes a missing twin an error, and both twins turn
the same events into the same calls."""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from lguapi.calls import _twin

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# Feeds the manual's traces and generated inbound flows (answered, missed) of many extensions
# to one tracker whose clock follows the events; prints every update and the stats as JSON.
SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from lgucore import tokenize
from lguapi.calls import CallTracker, _twin
from lguapi.events import parse_event
from kit.manual import M51, M52, M53_3321, M53_3322

now = [0.0]
t = CallTracker(clock=lambda: now[0])
texts = [("3321", x) for x in M51 + M52 + M53_3321] + [("3322", x) for x in M53_3322]
for k in range(300):
    e = str(4000 + k % 7)
    u = lambda i: f"1700000000.{3 * k + i}"
    ring, conn, trunk = f"SIP/{e}-{k:08x}", f"SIP/{e}-{k + 1:08x}", f"SIP/gw2.eicn-{k:08x}"
    texts.append((e, f"RINGEVENT|ISDIAL:0|CHANNEL:{ring}|RECHANNEL:{trunk}|INEXTEN:null|AGENT:{e}"
                     f"|CALLERID:010{k:08d}|UNIQUEID:{u(0)}"))
    if k % 3 == 2:
        texts.append((e, f"CHANNELOUT|CHANNEL:{ring}|RECHANNEL:{trunk}|UNIQUEID:{u(1)}|SRCUNIQUEID:{u(0)}|HCAUSE:19"))
    else:
        texts.append((e, f"CHANNELLIST|CHANNEL1:{trunk}|CHANNEL2:{conn}|CALLER1ID:010{k:08d}|CALLER2ID:{e}"
                         f"|INEXTEN:0701234{e}|UNIQUEID1:{u(0)}|UNIQUEID2:{u(2)}"))
        texts.append((e, f"CHANNELOUT|CHANNEL:{conn}|RECHANNEL:{trunk}|UNIQUEID:{u(2)}|SRCUNIQUEID:{u(0)}|HCAUSE:16"))
out = []
for i, (e, x) in enumerate(texts):
    now[0] = 1000.0 + 0.05 * i
    ev = parse_event(tokenize(x.encode()), exten=e, ts=now[0])
    out += [[u.kind, u.state, u.call.to_dict()] for u in t.feed(ev)]
out += [[u.kind, u.state, u.call.to_dict()] for u in t.flush()]
print(json.dumps({"compiled": _twin.COMPILED, "updates": out, "stats": t.stats}))
"""


def _env(**kw: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LGUCORE_NO_EXTENSIONS", "LGUCORE_REQUIRE_EXTENSIONS")}
    env.update(kw)
    return env


def _run(code: str, pythonpath: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, str(ROOT / "tests")], capture_output=True, text=True,
                          timeout=120, env=_env(PYTHONPATH=pythonpath, **env), cwd=ROOT)


def _setup_tuple(name: str) -> tuple:
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    (value,) = [ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)]
    return tuple(value)


def _part_sources() -> list[Path]:
    """Every part's .py and, when it has one, its augmenting .pxd; the C headers they include."""
    paths = [(SRC / Path(*m.split("."))).with_suffix(suffix) for m in _twin.PARTS for suffix in (".py", ".pxd")]
    return [p for p in paths if p.is_file()] + sorted((SRC / "lguapi" / "calls").glob("*.h"))


def test_setup_builds_the_modules_the_selector_loads():
    assert _setup_tuple("TRACKER_HOT_MODULES") == _twin.HOT_MODULES
    assert _setup_tuple("TRACKER_PARTS") == _twin.PARTS
    assert all((SRC / Path(*m.split("."))).with_suffix(".py").is_file() for m in _twin.PARTS)


def test_a_built_twin_is_not_older_than_its_sources():
    """A stale .so would run yesterday's tracker: `make build` rebuilds when a part (.py or .pxd) or a
    header changes."""
    # the modules the selector loads (a .so of an older layout left in a working tree is never imported)
    built = [lib for m in _twin.HOT_MODULES for lib in (SRC / "lguapi" / "calls" / "_c").glob(f"{m}.*.so")]
    sources = _part_sources()
    assert len(sources) >= len(_twin.PARTS)
    for lib in built:
        for source in sources:
            assert lib.stat().st_mtime >= source.stat().st_mtime, f"{lib.name} is older than {source.name}: run `make build`"


def test_both_twins_turn_the_same_events_into_the_same_calls():
    pure = _run(SCRIPT, str(SRC), LGUCORE_NO_EXTENSIONS="1")
    default = _run(SCRIPT, str(SRC))
    assert pure.returncode == 0 and default.returncode == 0, pure.stderr + default.stderr
    a, b = json.loads(pure.stdout), json.loads(default.stdout)
    built = importlib.util.find_spec("lguapi.calls._c.core") is not None
    assert a["compiled"] is False and b["compiled"] is built
    assert a["stats"]["calls"] >= 300 and len(a["updates"]) > 600
    assert a["updates"] == b["updates"] and a["stats"] == b["stats"]


def test_a_missing_twin_falls_back_or_fails_as_asked(tmp_path):
    # a copy of lguapi without any compiled file: what an install without a compiler holds
    shutil.copytree(SRC / "lguapi", tmp_path / "lguapi",
                    ignore=lambda _d, names: {n for n in names if n.endswith((".so", ".pyd")) or n == "__pycache__"})
    path = os.pathsep.join([str(tmp_path), str(SRC)])
    code = "from lguapi.calls import _twin; print(_twin.COMPILED, _twin.hot('book').__name__)"
    r = _run(code, path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "lguapi.calls.book"]
    r = _run(code, path, LGUCORE_REQUIRE_EXTENSIONS="1")
    assert r.returncode != 0
    assert "ImportError: the call tracker's compiled twin is missing (lguapi.calls._c.core)" in r.stderr
    r = _run(code, str(SRC), LGUCORE_NO_EXTENSIONS="1")
    assert r.returncode == 0 and r.stdout.split() == ["False", "lguapi.calls.book"], r.stderr
