"""The terminal wallboard: pure functions from a :meth:`Monitor.snapshot` to what is shown.

:func:`render` builds a rich renderable (needs the optional ``rich`` package, ``pip install
'lguapi[cli]'``); :func:`plain_line` builds the one-line text used without a terminal or
without rich. Neither touches a terminal, so both are tested by rendering into a string:

>>> from rich.console import Console                                   # doctest: +SKIP
>>> console = Console(file=io.StringIO(), width=100); console.print(render(snapshot))  # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any

from ._log import mask_number

__all__ = ["render", "render_progress", "plain_line", "STATE_STYLES", "rich_available", "format_seconds"]

#: rich style of each extension state
STATE_STYLES = {
    "offline": "bold white on red",
    "kicked": "bold yellow on red",  # offline after BYE (the same ID logged in elsewhere)
    "idle": "green",
    "ringing": "bold black on yellow",
    "talking": "bold white on blue",
    "held": "bold white on magenta",
}
_COLUMNS = (("active", "Active"), ("ringing", "Ringing"), ("talking", "Talking"), ("answered", "Answered"),
            ("missed", "Missed"), ("abandoned", "Abandoned"))


def rich_available() -> bool:
    """Is the optional ``rich`` package importable?"""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def format_seconds(v: float | None) -> str:
    """``None`` -> ``-``; ``3.25`` -> ``3.2s``; ``75`` -> ``1m15s``."""
    if v is None:
        return "-"
    if v < 60:
        return f"{v:.1f}s"
    m, s = divmod(int(round(v)), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def plain_line(snap: dict[str, Any]) -> str:
    """One line of text summarising a snapshot (for ``--no-tui``, CI logs and pipes)."""
    st = snap.get("states", {})
    tot = snap.get("counters", {}).get("total", {})
    lg = snap.get("logins", {})
    ev = snap.get("events", {})
    states = " ".join(f"{k} {st.get(k, 0)}" for k in ("idle", "ringing", "talking", "held", "offline"))
    if lg.get("kicked"):
        states += f" (kicked {lg['kicked']})"
    return (f"[{format_seconds(snap.get('uptime'))}] online {lg.get('online', 0)}/{lg.get('total', 0)}"
            f"{' failed ' + str(lg['failed']) if lg.get('failed') else ''} | {states} | "
            f"calls active {tot.get('active', 0)} ringing {tot.get('ringing', 0)} | "
            f"answered {tot.get('answered', 0)} missed {tot.get('missed', 0)} abandoned {tot.get('abandoned', 0)} | "
            f"avg ring {format_seconds(tot.get('avg_ring_seconds'))} talk {format_seconds(tot.get('avg_talk_seconds'))} | "
            f"events {ev.get('total', 0)} ({ev.get('per_second', 0)}/s)")


def _counters_table(snap: dict[str, Any]):
    from rich.table import Table

    table = Table(title="Calls", expand=False, show_edge=True, header_style="bold")
    table.add_column("Domain", no_wrap=True)
    table.add_column("Online", justify="right")
    for _, title in _COLUMNS:
        table.add_column(title, justify="right")
    table.add_column("Avg ring", justify="right")
    table.add_column("Avg talk", justify="right")
    per_domain_online: dict[str, list[int]] = {}
    for ext in snap.get("extensions", {}).values():
        d = per_domain_online.setdefault(ext.get("domain", "default"), [0, 0])
        d[1] += 1
        if ext.get("state") != "offline":
            d[0] += 1
    counters = snap.get("counters", {})
    for dom, c in counters.get("domains", {}).items():
        on, n = per_domain_online.get(dom, (0, 0))
        table.add_row(dom, f"{on}/{n}", *(str(c.get(k, 0)) for k, _ in _COLUMNS),
                      format_seconds(c.get("avg_ring_seconds")), format_seconds(c.get("avg_talk_seconds")))
    tot = counters.get("total", {})
    on = sum(v[0] for v in per_domain_online.values())
    n = sum(v[1] for v in per_domain_online.values())
    table.add_row("TOTAL", f"{on}/{n}", *(str(tot.get(k, 0)) for k, _ in _COLUMNS),
                  format_seconds(tot.get("avg_ring_seconds")), format_seconds(tot.get("avg_talk_seconds")),
                  style="bold")
    return table


def _grid(snap: dict[str, Any], max_cells: int):
    from rich.text import Text

    exts = snap.get("extensions", {})
    shown = list(exts.items())
    note = ""
    if len(shown) > max_cells:
        busy = [(k, v) for k, v in shown if v.get("state") != "idle"]
        hidden = len(shown) - len(busy)
        shown = busy[:max_cells]
        note = f"  ({hidden} idle extension(s) not shown"
        if len(busy) > max_cells:
            note += f", {len(busy) - max_cells} more busy"
        note += ")"
    width = max((len(k) for k, _ in shown), default=4)
    text = Text()
    for k, v in shown:
        state = "kicked" if v.get("kicked") else v.get("state", "")
        text.append(k.ljust(width), style=STATE_STYLES.get(state, ""))
        text.append(" ")
    if note:
        text.append(note, style="dim")
    return text


def _legend(snap: dict[str, Any]):
    from rich.text import Text

    st = dict(snap.get("states", {}))
    st["kicked"] = snap.get("logins", {}).get("kicked", 0)  # offline ones the server said BYE to
    t = Text()
    for state, style in STATE_STYLES.items():
        t.append(f" {state} {st.get(state, 0)} ", style=style)
        t.append(" ")
    return t


def _live_calls(snap: dict[str, Any], limit: int):
    from rich.table import Table

    calls = snap.get("calls", [])[:limit]
    now = snap.get("ts")
    table = Table(title=f"Live calls ({len(snap.get('calls', []))})", header_style="bold", expand=False)
    for col in ("Call", "Direction", "State", "Extension", "Remote", "Ring", "Talk"):
        table.add_column(col, no_wrap=True)
    for c in calls:
        ext = c.get("exten") or ()
        if isinstance(ext, (list, tuple)):
            ext = ",".join(str(e) for e in ext)
        ring, talk = c.get("ring_seconds"), c.get("talk_seconds")
        if now is not None:  # live durations of a call in progress
            if ring is None and c.get("ring_at") is not None:
                ring = max(0.0, now - c["ring_at"])
            if talk is None and c.get("answer_at") is not None:
                talk = max(0.0, now - c["answer_at"])
        table.add_row(str(c.get("id", ""))[-14:], str(c.get("direction") or ""), str(c.get("state") or ""),
                      str(ext), str(mask_number(c.get("remote_number")) or ""),
                      format_seconds(ring), format_seconds(talk))
    return table


def render(snap: dict[str, Any], *, title: str = "lguapi monitor", max_cells: int = 600, max_calls: int = 8) -> Any:
    """The wallboard for one snapshot as a rich renderable (a ``Group``).

    Shows a header (uptime, logins, events/s), the state legend with counts, a grid of
    extensions coloured by state (idle ones are left out above ``max_cells``), the call
    counters per domain and in total, and up to ``max_calls`` live calls (numbers masked).
    """
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    lg = snap.get("logins", {})
    ev = snap.get("events", {})
    head = Text()
    head.append(f"{title}", style="bold")
    head.append(f"   up {format_seconds(snap.get('uptime'))}   online {lg.get('online', 0)}/{lg.get('total', 0)}")
    if lg.get("failed"):
        head.append(f"   failed logins {lg['failed']}", style="bold red")
    head.append(f"   events {ev.get('total', 0)} ({ev.get('per_second', 0)}/s)")
    sink = snap.get("sink") or {}
    if sink.get("path"):
        head.append(f"   sink {sink['path']} ({sink.get('written', 0)} written)", style="dim")
    parts = [head, _legend(snap), Panel(_grid(snap, max_cells), title="Extensions", expand=True),
             _counters_table(snap)]
    if max_calls and snap.get("calls"):
        parts.append(_live_calls(snap, max_calls))
    return Group(*parts)


def render_progress(done: int, total: int, failed: int, *, title: str = "Logging in") -> Any:
    """A login progress bar as a rich renderable."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.text import Text

    t = Text(f"{title}: {done}/{total}")
    if failed:
        t.append(f"  ({failed} failed)", style="bold red")
    return Group(t, ProgressBar(total=max(total, 1), completed=done, width=60))
