"""The wallboard renderer is a pure function of a snapshot: render it into a string and read it."""
from __future__ import annotations

import io

from rich.console import Console

from lguapi import tui


def _snapshot(n_ext: int = 12, *, states=None) -> dict:
    states = states or {}
    exts = {}
    counts = dict.fromkeys(("offline", "idle", "ringing", "talking", "held"), 0)
    for i in range(n_ext):
        ext = str(3001 + i)
        st = states.get(ext, "idle")
        counts[st] += 1
        exts[ext] = {"state": st, "domain": "ipcctest.com" if i % 2 else "other.net", "id": "0701234" + ext,
                     "since": 0.0, "calls": [], "error": None}
    return {
        "ts": 100.0, "started_at": 40.0, "uptime": 60.0,
        "logins": {"total": n_ext, "done": n_ext, "failed": 1, "online": n_ext - counts["offline"], "seconds": 1.5},
        "states": counts,
        "extensions": exts,
        "counters": {
            "total": {"active": 3, "ringing": 1, "talking": 2, "ended": 40, "answered": 31, "missed": 6,
                      "abandoned": 3, "avg_ring_seconds": 4.25, "avg_talk_seconds": 75.0},
            "domains": {
                "ipcctest.com": {"active": 2, "ringing": 1, "talking": 1, "ended": 25, "answered": 20, "missed": 4,
                                 "abandoned": 1, "avg_ring_seconds": 4.0, "avg_talk_seconds": 70.0},
                "other.net": {"active": 1, "ringing": 0, "talking": 1, "ended": 15, "answered": 11, "missed": 2,
                              "abandoned": 2, "avg_ring_seconds": None, "avg_talk_seconds": None},
            },
        },
        "calls": [{"id": "1700000000.17", "direction": "inbound", "state": "connected", "exten": ["3002"],
                   "remote_number": "01012345678", "ring_at": 50.0, "answer_at": 52.0, "ring_seconds": 2.0,
                   "talk_seconds": None}],
        "events": {"total": 1234, "per_second": 20.6},
        "sink": {"path": "demo-out/x.jsonl", "written": 1200, "backlog": 0, "dropped": 0},
        "updates_dropped": 0,
    }


def _text(renderable, width=140) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False).print(renderable)
    return buf.getvalue()


def test_render_shows_counters_states_extensions_and_masks_numbers():
    snap = _snapshot(states={"3001": "ringing", "3002": "talking", "3003": "held", "3004": "offline"})
    out = _text(tui.render(snap, title="wallboard"))
    assert "wallboard" in out
    assert "online 11/12" in out and "failed logins 1" in out
    assert "events 1234 (20.6/s)" in out
    for ext in ("3001", "3002", "3012"):
        assert ext in out
    for label in ("ringing 1", "talking 1", "held 1", "offline 1", "idle 8"):
        assert label in out
    # per-domain rows and the total row with their numbers
    total_row = next(line for line in out.splitlines() if "TOTAL" in line)
    for value in ("31", "6", "3", "4.2s", "1m15s"):
        assert value in total_row
    assert any("other.net" in line and "11" in line for line in out.splitlines())
    assert "010****5678" in out and "01012345678" not in out
    call_row = next(line for line in out.splitlines() if "1700000000.17" in line)
    assert "2.0s" in call_row and "48.0s" in call_row  # talking for ts - answer_at
    assert "demo-out/x.jsonl" in out


def test_render_leaves_out_idle_extensions_above_the_cell_limit():
    snap = _snapshot(50, states={"3010": "talking", "3020": "ringing"})
    out = _text(tui.render(snap, max_cells=10))
    assert "3010" in out and "3020" in out
    assert "3001 " not in out
    assert "48 idle extension(s) not shown" in out


def test_render_progress_bar():
    out = _text(tui.render_progress(40, 300, 2))
    assert "Logging in: 40/300" in out and "(2 failed)" in out


def test_plain_line_has_every_counter():
    line = tui.plain_line(_snapshot(states={"3001": "ringing"}))
    assert "\n" not in line
    for part in ("online 12/12", "failed 1", "idle 11", "ringing 1", "calls active 3", "answered 31", "missed 6",
                 "abandoned 3", "avg ring 4.2s", "talk 1m15s", "events 1234 (20.6/s)"):
        assert part in line, part


def test_format_seconds():
    assert tui.format_seconds(None) == "-"
    assert tui.format_seconds(3.25) == "3.2s"
    assert tui.format_seconds(75) == "1m15s"
    assert tui.format_seconds(3 * 3600 + 120) == "3h02m"
