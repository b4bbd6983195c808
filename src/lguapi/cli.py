"""The ``lguapi`` command: ``serve``, ``monitor``, ``events``, ``call`` and ``demo``.

    lguapi demo --extensions 3001-3300 --duration 60
    lguapi serve --extensions 3001-3010 --port 8086
    lguapi monitor --port 8086 --extensions 3001-3010
    LGUAPI_PASSWORD=secret-3001 lguapi events --port 8086 --id 07012343001 | jq .
    LGUAPI_PASSWORD=secret-3001 lguapi call --port 8086 --id 07012343001 --to 01012345678

Passwords are read from an environment variable (``--password-env``, default
``LGUAPI_PASSWORD``) or prompted for on a terminal — never taken from the command line,
where every user of the machine can see them. Phone numbers are masked in logs and in the
human-readable output (``LGUAPI_LOG_NUMBERS=1`` shows them). See docs/cli.md.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import signal
import sys
import time
from typing import Any, Callable

from ._log import mask_number

__all__ = ["main", "build_parser"]

log = logging.getLogger("lguapi.cli")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_ANSWERED = 3
RICH_MISSING = ("note: the live wallboard needs the optional 'rich' package "
                "(pip install 'lguapi[cli]'); printing plain status lines instead")


# -- helpers shared by the subcommands -------------------------------------------------------
def _run(coro_fn: Callable[[], Any], *, use_uvloop: bool = True) -> Any:
    """Run ``coro_fn()`` in a new event loop (uvloop's when installed)."""
    from .monitor import new_event_loop

    with asyncio.Runner(loop_factory=lambda: new_event_loop(use_uvloop)) as runner:
        return runner.run(coro_fn())


def _stop_event() -> asyncio.Event:
    """An Event set by SIGINT/SIGTERM (where the loop supports signal handlers)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - Windows / threads
            pass
    return stop


def _remove_signal_handlers() -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
            pass


async def _wait_stop(stop: asyncio.Event, duration: float | None) -> None:
    if duration is None:
        await stop.wait()
        return
    try:
        await asyncio.wait_for(stop.wait(), duration)
    except asyncio.TimeoutError:
        pass


def _password(args: argparse.Namespace) -> str:
    """The password from ``$<--password-env>``, else a prompt on a terminal."""
    var = args.password_env
    pwd = os.environ.get(var) if var else None
    if pwd:
        return pwd
    if sys.stdin.isatty():
        return getpass.getpass(f"password for {args.id}: ")
    raise SystemExit(f"lguapi: no password: set ${var} (see --password-env) or run on a terminal to be asked")


def _client_kwargs(args: argparse.Namespace) -> dict:
    kw: dict = {"cipher": args.cipher}
    if getattr(args, "byteorder", None):
        kw["byteorder"] = args.byteorder
    if getattr(args, "charset", None):
        kw["charset"] = args.charset
    if getattr(args, "auto_reconnect", None) is not None:
        kw["auto_reconnect"] = args.auto_reconnect
    return kw

async def _login_or_report(client, args, password: str, command: str) -> bool:
    """Log ``client`` in; on failure print why (never the password) and return False."""
    from .errors import LguapiError, LoginError

    try:
        await client.login(args.id, password)
        return True
    except LoginError as e:
        print(f"lguapi {command}: login refused: {e}", file=sys.stderr)
    except (OSError, asyncio.TimeoutError, LguapiError) as e:
        print(f"lguapi {command}: cannot connect to {args.host}:{args.port}: {e}", file=sys.stderr)
    return False


def _json_default(o: Any) -> Any:
    to_dict = getattr(o, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    return str(o)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=_json_default, separators=(",", ":"))


def _add_connection_args(p: argparse.ArgumentParser, *, login: bool) -> None:
    p.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8086, help="server port (default 8086)")
    p.add_argument("--cipher", choices=("seed", "basic", "none"), default="seed",
                   help="session cipher (default seed)")
    p.add_argument("--byteorder", choices=("big", "little"), default=None, help="frame byte order (default big)")
    p.add_argument("--charset", default=None, help="text charset (default cp949)")
    if login:
        p.add_argument("--id", required=True, help="login ID (e.g. 07012343001)")
        p.add_argument("--password-env", default="LGUAPI_PASSWORD", metavar="VAR",
                       help="environment variable holding the password (default LGUAPI_PASSWORD); "
                            "without it the password is prompted for on a terminal")


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.WARNING), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# -- serve ---------------------------------------------------------------------------------
def _configure_serve(p: argparse.ArgumentParser) -> None:
    try:
        from .server import cli as server_cli
    except ImportError as e:  # the emulator package is part of lguapi; this only guards a broken install
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=lambda a: _fail(f"the emulator is not available: {e}"))
        return
    server_cli.configure_parser(p)
    p.set_defaults(func=server_cli.run)


def _fail(msg: str) -> int:
    print(f"lguapi: {msg}", file=sys.stderr)
    return EXIT_ERROR


# -- events --------------------------------------------------------------------------------
def _cmd_events(args: argparse.Namespace) -> int:
    password = _password(args)
    only = {s.strip().lower() for s in args.only.split(",") if s.strip()} if args.only else None
    out = sys.stdout

    async def main() -> int:
        from .client import Client

        stop = _stop_event()
        client = Client(args.host, args.port, **_client_kwargs(args))
        stream = client.events()  # bounded: a slow pipe pauses reading instead of buffering without end
        printed = 0
        try:
            if not await _login_or_report(client, args, password, "events"):
                return EXIT_ERROR
            deadline = None if args.duration is None else time.monotonic() + args.duration
            stopper = asyncio.ensure_future(stop.wait())
            it = stream.__aiter__()
            try:
                while not stop.is_set():
                    timeout = None if deadline is None else deadline - time.monotonic()
                    if timeout is not None and timeout <= 0:
                        break
                    getter = asyncio.ensure_future(it.__anext__())
                    done, _ = await asyncio.wait({getter, stopper}, timeout=timeout,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if getter not in done:
                        getter.cancel()
                        await asyncio.gather(getter, return_exceptions=True)
                        break
                    try:
                        ev = getter.result()
                    except StopAsyncIteration:
                        break
                    if only and not only & {type(ev).__name__.lower(), (ev.name or ev.NAME or "").lower()}:
                        continue
                    out.write(_dumps(ev) + "\n")
                    out.flush()
                    printed += 1
                    if args.count and printed >= args.count:
                        break
            finally:
                stopper.cancel()
                await asyncio.gather(stopper, return_exceptions=True)
        finally:
            _remove_signal_handlers()
            await stream.aclose()
            await client.close()
        return EXIT_OK

    try:
        return _run(main, use_uvloop=not args.no_uvloop)
    except BrokenPipeError:  # `lguapi events | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:  # pragma: no cover
            pass
        return EXIT_OK


def _event_base():
    from .events import Event

    return Event


# -- call ----------------------------------------------------------------------------------
def _cmd_call(args: argparse.Namespace) -> int:
    password = _password(args)

    async def main() -> int:
        from .calls import CallTracker
        from .client import Client

        stop = _stop_event()
        client = Client(args.host, args.port, **_client_kwargs(args))
        tracker = CallTracker()
        changed = asyncio.Event()

        def on_event(ev):
            try:
                if tracker.feed(ev):
                    changed.set()
            except Exception:
                log.exception("call tracker failed on %s", type(ev).__name__)

        client.on(_event_base(), on_event)
        try:
            if not await _login_or_report(client, args, password, "call"):
                return EXIT_ERROR
            known = {c.id for c in tracker.calls(include_ended=True)}
            started = time.time()
            try:
                await client.click2call(args.to, cid=args.cid or "")
            except Exception as e:
                print(f"lguapi call: the call was refused: {e}", file=sys.stderr)
                return EXIT_ERROR
            print(f"calling {mask_number(args.to)} from {client.exten} ...", file=sys.stderr)
            call = await _follow_call(tracker, known, changed, stop, client, args, started)
        finally:
            _remove_signal_handlers()
            await client.close()
        return _call_summary(call, args)

    return _run(main, use_uvloop=not args.no_uvloop)


async def _follow_call(tracker, known, changed, stop, client, args, started):
    """Wait for our call to connect and end; hang up after --hangup-after, on timeout or Ctrl-C."""

    def ours():
        for c in tracker.calls(include_ended=True):
            if c.id not in known:
                return c
        return None

    connected_at = hangup_at = hung_up_at = None
    while True:
        changed.clear()
        call = ours()
        if call is not None and call.state == "ended":
            return call
        now = time.time()
        if call is not None and call.answer_at is not None and connected_at is None:
            connected_at = now
            print(f"connected: call {call.id}", file=sys.stderr)
            if args.hangup_after is not None:
                hangup_at = now + args.hangup_after
        if hung_up_at is None:
            due = (stop.is_set() or (connected_at is None and now >= started + args.timeout)
                   or (hangup_at is not None and now >= hangup_at))
            if due:
                hung_up_at = now
                try:
                    await client.hangup()
                except Exception as e:
                    print(f"lguapi call: hangup failed: {e}", file=sys.stderr)
                    return call
                continue
            nexts = [t for t in (hangup_at, None if connected_at else started + args.timeout) if t is not None]
            wait = max(0.01, min([0.5] + [t - now for t in nexts]))
            waiters = [asyncio.ensure_future(changed.wait()), asyncio.ensure_future(stop.wait())]
        else:
            if now >= hung_up_at + 10.0:
                print("lguapi call: the call did not end within 10 s of hanging up", file=sys.stderr)
                return call
            wait = 0.5
            waiters = [asyncio.ensure_future(changed.wait())]
        await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


def _call_summary(call, args) -> int:
    if call is None:
        print(f"call to {mask_number(args.to)}: no call was seen", file=sys.stderr)
        if args.json:
            print(_dumps({"to": mask_number(args.to), "state": None, "answered": False}))
        return EXIT_NOT_ANSWERED
    d = call.to_dict()
    answered = call.answer_at is not None
    if args.json:
        d = dict(d)
        for k in ("remote_number", "dialled_number", "caller", "callee"):
            if k in d:
                d[k] = mask_number(d[k])
        print(_dumps(d))
    else:
        from .tui import format_seconds

        print(f"call {call.id} to {mask_number(args.to)}: "
              f"{'answered' if answered else 'not answered'}, state {call.state}, "
              f"ring {format_seconds(call.ring_seconds)}, talk {format_seconds(call.talk_seconds)}, "
              f"end {call.end_reason or '-'}, cause {call.hangup_cause if call.hangup_cause is not None else '-'}")
    return EXIT_OK if answered else EXIT_NOT_ANSWERED


# -- monitor -------------------------------------------------------------------------------
def _accounts_from_args(args: argparse.Namespace):
    from .server.accounts import Directory

    if args.accounts:
        return Directory.from_toml(args.accounts)
    return Directory.generate(args.extensions, domain=args.domain)


def _want_tui(args: argparse.Namespace) -> bool:
    if args.no_tui:
        return False
    if not sys.stdout.isatty():
        return False
    from .tui import rich_available

    if not rich_available():
        print(RICH_MISSING, file=sys.stderr)
        return False
    return True


async def watch(monitor, *, stop: asyncio.Event, duration: float | None, tui: bool, interval: float,
                title: str, out=None) -> bool:
    """Show login progress, then the wallboard (rich Live) or plain lines, until ``stop`` is set
    or ``duration`` seconds pass. Returns False (at once) when every login failed."""
    out = out or sys.stdout
    deadline = None if duration is None else time.monotonic() + duration

    def remaining():
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def all_failed() -> bool:
        p = monitor.login_progress
        if monitor.logins_done and p.total and p.failed == p.total:
            first = next((e["error"] for e in monitor.snapshot(calls=0)["extensions"].values() if e["error"]), "")
            print(f"lguapi: every login failed ({p.failed}); first error: {first}", file=sys.stderr, flush=True)
            return True
        return False

    if tui:
        from rich.console import Console
        from rich.live import Live

        from .tui import render, render_progress

        console = Console(file=out)
        with Live(render_progress(*monitor.login_progress), console=console, refresh_per_second=8,
                  transient=False) as live:
            while not stop.is_set() and not monitor.logins_done:
                r = remaining()
                if r == 0:
                    break
                await _sleep_or_stop(stop, min(0.125, r) if r is not None else 0.125)
                live.update(render_progress(*monitor.login_progress))
            if all_failed():
                return False
            every = min(interval, 1.0)  # the wallboard redraws at least once a second
            while not stop.is_set():
                live.update(render(monitor.snapshot(calls=20), title=title))
                r = remaining()
                if r == 0:
                    break
                await _sleep_or_stop(stop, min(every, r) if r is not None else every)
            live.update(render(monitor.snapshot(calls=20), title=title))
        return True
    last_progress = None
    while not stop.is_set() and not monitor.logins_done:
        p = monitor.login_progress
        if p != last_progress:
            print(f"logging in: {p.done}/{p.total} ({p.failed} failed)", file=out, flush=True)
            last_progress = p
        r = remaining()
        if r == 0:
            break
        await _sleep_or_stop(stop, min(1.0, r) if r is not None else 1.0)
    if monitor.logins_done:
        p = monitor.login_progress
        print(f"logged in: {p.done - p.failed}/{p.total} ({p.failed} failed)", file=out, flush=True)
        if all_failed():
            return False
    from .tui import plain_line

    while not stop.is_set():
        r = remaining()
        if r == 0:
            break
        await _sleep_or_stop(stop, min(interval, r) if r is not None else interval)
        print(plain_line(monitor.snapshot(calls=0)), file=out, flush=True)
    return True


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass


def _cmd_monitor(args: argparse.Namespace) -> int:
    from .monitor import Monitor

    try:
        accounts = _accounts_from_args(args)
    except (OSError, ValueError) as e:
        return _fail(str(e))
    tui = _want_tui(args)

    async def main() -> int:
        stop = _stop_event()
        opts = _client_kwargs(args)
        cipher = opts.pop("cipher")
        monitor = Monitor(args.host, args.port, accounts=accounts, cipher=cipher, sink=args.sink,
                          login_concurrency=args.login_concurrency, client_options=opts, freeze_gc=True)
        try:
            await monitor.start(wait=False)
            ok = await watch(monitor, stop=stop, duration=args.duration, tui=tui, interval=args.interval,
                             title=f"lguapi monitor {args.host}:{args.port}")
        finally:
            _remove_signal_handlers()
            await monitor.close()
        snap = monitor.snapshot(calls=0)
        from .tui import plain_line

        print(plain_line(snap), file=sys.stderr)
        if args.snapshot:
            with open(args.snapshot, "w", encoding="utf-8") as f:
                json.dump(snap, f, ensure_ascii=False, default=_json_default)
        return EXIT_OK if ok else EXIT_ERROR

    return _run(main, use_uvloop=not args.no_uvloop)


# -- demo ----------------------------------------------------------------------------------
def _cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    tui = _want_tui(args)
    return _run(lambda: demo.run_demo(args, tui=tui), use_uvloop=not args.no_uvloop)


# -- parser --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``lguapi`` command (every subcommand)."""
    parser = argparse.ArgumentParser(
        prog="lguapi", description="LG U+ Centrex OpenAPI toolkit: emulator, monitor, events, click-to-call, demo.",
        epilog="Passwords come from an environment variable (--password-env) or a prompt, never from argv. "
               "See docs/cli.md.")
    parser.add_argument("--log-level", default=os.environ.get("LGUAPI_LOG_LEVEL", "warning"),
                        choices=("debug", "info", "warning", "error"), help="log level on stderr (default warning)")
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's event loop even if uvloop is installed")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("serve", help="run the emulator (a local LGUBaseOpenAPI server and PBX)",
                       description="Run the emulator: LGUBaseOpenAPI server, PBX, OAM and admin interface.")
    _configure_serve(p)

    p = sub.add_parser("monitor", help="live wallboard of many extensions",
                       description="Log in many extensions (one connection each) and show their states and "
                                   "call counters live. Generated accounts (--extensions) use the emulator's "
                                   "documented IDs and passwords (0701234<exten>, secret-<exten>).")
    _add_connection_args(p, login=False)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--accounts", metavar="FILE", help="accounts file (the emulator's TOML format)")
    g.add_argument("--extensions", metavar="RANGE", help="generated accounts, e.g. 3001-3300 or 3001-3010,4001")
    p.add_argument("--domain", default="ipcctest.com", help="domain of generated accounts (default ipcctest.com)")
    p.add_argument("--sink", metavar="PATH", help="record events and finished calls (file.jsonl or sqlite:///file.db)")
    p.add_argument("--no-tui", action="store_true", help="plain periodic status lines instead of the wallboard")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between plain status lines (default 2)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--login-concurrency", type=int, default=100, help="logins in flight at once (default 100)")
    p.add_argument("--auto-reconnect", type=float, default=5.0,
                   help="seconds between reconnect rounds after a lost connection (default 5; 0 = off)")
    p.add_argument("--snapshot", metavar="FILE", help="write the final snapshot as JSON to FILE")
    p.set_defaults(func=_cmd_monitor)

    p = sub.add_parser("events", help="print one extension's typed events as JSON lines",
                       description="Log in one extension and print every typed event (connection-state "
                                   "events included) as one JSON object per line on stdout, for piping.")
    _add_connection_args(p, login=True)
    p.add_argument("--only", metavar="NAMES", help="comma-separated event classes or wire names to keep "
                                                   "(e.g. RingEvent,CHANNELOUT)")
    p.add_argument("--count", type=int, default=0, help="stop after printing this many events")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--auto-reconnect", type=float, default=None, help="seconds between reconnect rounds")
    p.set_defaults(func=_cmd_events)

    p = sub.add_parser("call", help="click-to-call from the shell and wait for the call to end",
                       description="Place a click-to-call from one extension, wait for it to connect and "
                                   "end, and print a summary. Exit status 0 if answered, 3 if not.")
    _add_connection_args(p, login=True)
    p.add_argument("--to", required=True, help="number to call (external or an extension)")
    p.add_argument("--cid", default="", help="caller ID to show (default: the extension's)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for an answer (default 60)")
    p.add_argument("--hangup-after", type=float, default=None,
                   help="hang up this many seconds after the call connects (default: wait for the other side)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=_cmd_call)

    p = sub.add_parser("demo", help="emulator + traffic + monitor + sink in one command",
                       description="Start the emulator with generated extensions and call traffic, monitor "
                                   "every extension, record events to a JSONL sink, and print a summary "
                                   "(also checked against the emulator's own call history) on Ctrl-C or "
                                   "after --duration.")
    p.add_argument("--extensions", default="3001-3300", metavar="RANGE", help="extensions (default 3001-3300)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--traffic", type=float, default=None, metavar="CALLS_PER_SECOND",
                   help="call arrivals per second (default: about one per 30 extensions, at most 20)")
    p.add_argument("--seed", type=int, default=None, help="random seed of the traffic (default: random)")
    p.add_argument("--sink", metavar="PATH", default=None,
                   help="where to record events and calls (default demo-out/demo-<time>.jsonl)")
    p.add_argument("--host", default="127.0.0.1", help="address the emulator listens on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="emulator port (default 0: any free port)")
    p.add_argument("--admin-port", type=int, default=0, help="admin HTTP port (default 0: any free port)")
    p.add_argument("--cipher", choices=("seed", "basic", "none"), default="seed", help="cipher (default seed)")
    p.add_argument("--no-tui", action="store_true", help="plain periodic status lines instead of the wallboard")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between plain status lines (default 2)")
    p.add_argument("--login-concurrency", type=int, default=100, help="logins in flight at once (default 100)")
    p.set_defaults(func=_cmd_demo)

    from .gateway import cli as gateway_cli  # issue 11: the HTTP gateway (its own module)

    gateway_cli.add_parser(sub)
    from .cluster import sink_cli  # issue 12: lguapi sink --cluster URL --to sqlite:PATH

    sink_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lguapi`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        rc = func(args)
    except KeyboardInterrupt:
        print("lguapi: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
