"""``lguapi demo``: emulator + call traffic + monitor + sink in one process, then a summary.

The demo starts the emulator (:class:`lguapi.server.cli.EmulatorStack`) with generated
extensions, logs every extension in with a :class:`lguapi.Monitor` (one connection each,
recording to a JSONL sink), then starts the emulator's traffic generator. It shows the live
wallboard (or plain status lines without a terminal) until Ctrl-C / SIGTERM or
``--duration``, then stops the traffic, hangs up what is still going on, lets the monitor
see every call end, and checks the tracker's calls against the emulator's own history::

    demo summary
    duration: 30.0 s
    extensions: 300 (300 logged in in 1.9 s, 0 failed)
    calls seen: 112
    answered: 95
    missed: 13
    abandoned: 13
    events: 2208 (73.6 events/s)
    sink: demo-out/demo-20240101-120000.jsonl (2320 records)
    tracker matches emulator history: yes (112 calls)
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import time
from typing import Any

from .monitor import Monitor
from .runtime import EXIT_ERROR, EXIT_OK, EXIT_USAGE, remove_signal_handlers, stop_event, watch

__all__ = ["run_demo", "compare_history", "default_rate", "hang_up_everything", "SUMMARY_TITLE"]

log: logging.Logger = logging.getLogger("lguapi.demo")

SUMMARY_TITLE = "demo summary"
_DRAIN_SECONDS = 5.0


def default_rate(n_extensions: int) -> float:
    """Demo call arrivals per second: one per minute per extension, within 0.5..20."""
    return round(min(20.0, max(0.5, n_extensions / 60.0)), 2)


def _default_sink() -> str:
    return os.path.join("demo-out", time.strftime("demo-%Y%m%d-%H%M%S.jsonl"))


def hang_up_everything(pbx: Any, directory: Any) -> int:
    """End every call in the emulator's PBX (outside parties first, then every busy phone).

    Returns how many hang-ups were issued. Refusals (the call ended meanwhile) are ignored.
    """
    n = 0
    snap = pbx.snapshot()
    for c in snap.get("calls", ()):
        try:
            pbx.external_hangup(c["id"])
            n += 1
        except (KeyError, ValueError, LookupError):
            pass
    for u in directory.users():
        try:
            if pbx.phone_state(u.exten) != "idle":
                pbx.phone_hangup(u.exten)
                n += 1
        except (KeyError, ValueError, LookupError):
            pass
    return n


def _row_keys(row: dict[str, Any]) -> set[str]:
    """Every id a history row is known by: the call id and its legs' unique ids."""
    keys = set()
    if row.get("id"):
        keys.add(str(row["id"]).replace(",", "."))
    for leg in row.get("legs") or ():
        uid = leg.get("uniqueid") if isinstance(leg, dict) else None
        if uid:
            keys.add(str(uid).replace(",", "."))
    return keys


def _row_visible(row: dict[str, Any], monitored: set[str] | None) -> bool:
    """Did a monitored extension receive events of this call? Not when its only extensions
    were busy (an outside caller hearing busy sends nothing to anyone)."""
    extens = set(row.get("extensions") or ()) - set(row.get("busy") or ())
    if monitored is not None:
        extens &= monitored
    return bool(extens)


def compare_history(history: list[dict[str, Any]], calls: list[Any], *, since: float | None = None,
                    monitored: set[str] | None = None) -> dict[str, Any]:
    """Match the emulator's finished calls with the tracker's, call for call.

    A history row (``Pbx.snapshot()["history"]``) and a tracked call match when they share
    an id: the PBX's call id or a unique id of one of its legs. Left out: rows that started
    before ``since`` and rows no monitored extension saw (see :func:`_row_visible`).
    Answers ``{"matched", "missing", "extra", "differ", "skipped", "ok", "details"}``:
    ``missing`` rows the tracker does not have, ``extra`` tracked calls the emulator does
    not, ``differ`` matched pairs that disagree on whether the call was answered.
    """
    rows, skipped = [], 0
    for r in history:
        start = r.get("start")
        if since is not None and start is not None and start < since - 0.5:
            skipped += 1
        elif not _row_visible(r, monitored):
            skipped += 1
        else:
            rows.append(r)
    index: dict[str, Any] = {}
    for call in calls:
        for k in {str(call.id)} | {str(u).replace(",", ".") for u in (getattr(call, "unique_ids", ()) or ())}:
            index.setdefault(k, call)
    used: set[int] = set()
    matched = missing = differ = 0
    details: list[str] = []
    for r in rows:
        call = None
        for k in _row_keys(r):
            call = index.get(k)
            if call is not None:
                break
        if call is None:
            missing += 1
            if len(details) < 10:
                details.append(f"emulator call {r.get('id')} ({r.get('direction')}) not tracked")
            continue
        if id(call) in used:  # two history rows for one tracked call
            continue
        used.add(id(call))
        matched += 1
        answered_h = bool(r.get("answered") or r.get("answered_by") or r.get("answer"))
        answered_t = getattr(call, "answer_at", None) is not None
        if answered_h != answered_t:
            differ += 1
            if len(details) < 10:
                details.append(f"call {call.id}: emulator says {'answered' if answered_h else 'unanswered'}, "
                               f"tracker says {'answered' if answered_t else 'unanswered'}")
    extra_calls = [c for c in calls if id(c) not in used
                   and (since is None or (getattr(c, "ring_at", None) or since) >= since - 0.5)]
    extra = len(extra_calls)
    for c in extra_calls[: max(0, 10 - len(details))]:
        details.append(f"tracked call {c.id} ({getattr(c, 'direction', '?')}) not in the emulator's history")
    return {"matched": matched, "missing": missing, "extra": extra, "differ": differ, "skipped": skipped,
            "ok": missing == 0 and extra == 0 and differ == 0, "details": details}


async def run_demo(args: argparse.Namespace, *, tui: bool, out: Any = None) -> int:
    """Run the demo described in the module docstring; returns the exit status (0)."""
    from .accounts import Directory
    from .server.cli import EmulatorStack
    from .server.traffic import TrafficConfig, TrafficGenerator

    out = out or sys.stdout
    try:
        directory = Directory.generate(args.extensions)
    except ValueError as e:
        print(f"lguapi demo: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    n = len(directory)
    rate = args.traffic if args.traffic is not None else default_rate(n)
    sink_path = args.sink or _default_sink()
    parent = os.path.dirname(sink_path)
    if parent and "://" not in sink_path:
        os.makedirs(parent, exist_ok=True)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    stop = stop_event()
    t0 = time.time()
    stack = EmulatorStack(directory, host=args.host, port=args.port, admin_port=args.admin_port, oam_port=0,
                          oam_tls=False, seed=seed)
    monitor: Monitor | None = None
    gateway: Any = None
    traffic = None
    traffic_started_at: float | None = None
    result: dict[str, Any] | None = None
    try:
        try:
            await stack.start()
        except OSError as e:
            print(f"lguapi demo: cannot start the emulator: {e}", file=sys.stderr)
            return EXIT_ERROR
        print(f"emulator: {args.host}:{stack.port} ({n} extensions; admin http://{stack.admin_host}:"
              f"{stack.admin_port}/state), traffic {rate:g} calls/s, seed {seed}, sink {sink_path}",
              file=out, flush=True)
        monitor = Monitor(args.host, stack.port, accounts=directory, cipher=args.cipher, sink=sink_path,
                          login_concurrency=args.login_concurrency,
                          client_options={"auto_reconnect": 1.0}, freeze_gc=True)
        ended = _EndedCalls()
        monitor.add_update_hook(ended)
        from .gateway.cli import start_demo_gateway  # the HTTP gateway and its wallboard (docs/gateway.md)

        gateway = await start_demo_gateway(monitor, args.extensions, out)
        await monitor.start(wait=False)
        config = TrafficConfig(rate=rate, ring_mean=4.0, talk_mean=15.0)

        async def start_traffic() -> None:
            nonlocal traffic, traffic_started_at
            await monitor.wait_logged_in()
            if rate > 0 and not stop.is_set():
                traffic = TrafficGenerator(stack.pbx, directory, config, rng=random.Random(seed))
                traffic_started_at = time.time()
                traffic.start()

        starter = asyncio.create_task(start_traffic(), name="lguapi-demo-traffic")
        try:
            remaining = None if args.duration is None else max(0.0, args.duration - (time.time() - t0))
            await watch(monitor, stop=stop, duration=remaining, tui=tui, interval=args.interval,
                        title=f"lguapi demo: {n} extensions, {rate:g} calls/s", out=out)
        finally:
            starter.cancel()
            await asyncio.gather(starter, return_exceptions=True)
        # wind down: no new calls, end the ones in progress, let the monitor see them end
        if traffic is not None:
            traffic.close()
        hang_up_everything(stack.pbx, directory)
        await _drain(monitor)
        elapsed = time.time() - t0
        history = stack.pbx.snapshot().get("history", [])
        result = compare_history(history, list(ended.calls.values()), since=traffic_started_at,
                                 monitored={u.exten for u in directory.users()})
        snap = monitor.snapshot(calls=0)
    finally:
        try:
            if gateway is not None:
                await gateway.close()
            if monitor is not None:
                await monitor.close()
            await stack.close()
        finally:  # a second signal meanwhile cancels the shutdown cleanly (stop_event)
            remove_signal_handlers()
    snap["sink"] = monitor.snapshot(calls=0)["sink"]
    _print_summary(out, snap, result, elapsed=elapsed, n=n, sink_path=sink_path)
    return EXIT_OK


class _EndedCalls:
    """Every call the monitor saw end (merged ones withdrawn), for the history check."""

    def __init__(self, limit: int = 500_000) -> None:
        self.calls: dict[str, Any] = {}
        self.limit = limit

    def __call__(self, update) -> None:
        if update.kind != "ended":
            return
        call = update.call
        if getattr(call, "end_reason", None) == "merged":
            self.calls.pop(call.id, None)
        elif len(self.calls) < self.limit:
            self.calls[call.id] = call


async def _drain(monitor: Monitor) -> None:
    """Wait (at most a few seconds) until the tracker has no live call left."""
    deadline = time.monotonic() + _DRAIN_SECONDS
    while time.monotonic() < deadline:
        if not monitor.tracker.active:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # the last CDREVENTs


def _print_summary(out, snap: dict[str, Any], result: dict[str, Any] | None, *, elapsed: float, n: int, sink_path: str) -> None:
    tot = snap["counters"]["total"]
    lg = snap["logins"]
    events = snap["events"]["total"]
    secs = f"{lg['seconds']:.1f} s" if lg.get("seconds") is not None else "-"
    lines = [
        SUMMARY_TITLE,
        f"duration: {elapsed:.1f} s",
        f"extensions: {n} ({lg['done'] - lg['failed']} logged in in {secs}, {lg['failed']} failed)",
        f"calls seen: {tot['ended'] + tot['active']}",
        f"answered: {tot['answered']}",
        f"missed: {tot['missed']}",
        f"abandoned: {tot['abandoned']}",
        f"events: {events} ({events / elapsed if elapsed > 0 else 0.0:.1f} events/s)",
        f"sink: {sink_path} ({snap['sink']['written']} records)",
    ]
    if result is None:
        lines.append("tracker matches emulator history: unknown (the demo stopped early)")
    elif result["ok"]:
        lines.append(f"tracker matches emulator history: yes ({result['matched']} calls)")
    else:
        lines.append(f"tracker matches emulator history: no ({result['matched']} matched, {result['missing']} "
                     f"missing, {result['extra']} extra, {result['differ']} differ)")
        lines.extend("  " + d for d in result["details"])
    print("\n".join(lines), file=out, flush=True)
