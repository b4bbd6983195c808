"""The ``lguapi`` command: ``serve``, ``monitor``, ``events``, ``call`` and ``demo``.

    lguapi demo --extensions 3001-3300 --duration 60
    lguapi serve --extensions 3001-3010 --port 8086
    lguapi monitor --port 8086 --extensions 3001-3010
    LGUAPI_PASSWORD=secret-3001 lguapi events --port 8086 --id 07012343001 | jq .
    LGUAPI_PASSWORD=secret-3001 lguapi call --port 8086 --id 07012343001 --to 01012345678

Passwords are read from an environment variable (``--password-env``, default
``LGUAPI_PASSWORD``) or prompted for on a terminal — never taken from the command line,
where every user of the machine can see them. Phone numbers are masked in logs; data the
user asked for (``events``, ``call --json``) carries them in full unless ``--mask`` is given.
Every subcommand exits with the codes of :mod:`lguapi.runtime` (0 ok, 1 runtime error,
2 usage, 3 login refused, 4 cannot connect, 5 BYE). See docs/cli.md.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import re
import sys
import time
from typing import TYPE_CHECKING, Any, NoReturn

from ._log import mask_number
from ._version import __version__
from .runtime import at_least_one, count  # argument types, shared with the other commands' modules
from .runtime import (EXIT_BYE, EXIT_CANNOT_CONNECT, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_LOGIN_REFUSED,
                      EXIT_NOT_ANSWERED, EXIT_OK, EXIT_USAGE, OncePerCause, remove_signal_handlers, run,
                      stop_event, watch)

if TYPE_CHECKING:
    from .accounts import Directory
    from .calls import Call, CallTracker
    from .client import Client
    from .events import Disconnected

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_LOGIN_REFUSED",
           "EXIT_CANNOT_CONNECT", "EXIT_BYE", "EXIT_NOT_ANSWERED"]

log: logging.Logger = logging.getLogger("lguapi.cli")

RICH_MISSING = ("note: the live wallboard needs the optional 'rich' package "
                "(pip install 'lguapi[cli]'); printing plain status lines instead")


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """A bad argument found after parsing (a missing password, ...): one line, exit status 2."""


# -- argument types: every bad value is a usage error before anything starts -----------------
def port(text: str) -> int:
    """A port to connect to: 1..65535."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 1..65535, not {text!r}")
    return int(text)


def listen_port(text: str) -> int:
    """A port to listen on: 0..65535 (0: any free port)."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0..65535 (0: any free port), not {text!r}")
    return int(text)


def _number(text: str, *, minimum: float, strict: bool) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not (v > minimum if strict else v >= minimum) or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number {'>' if strict else '>='} {minimum:g}, not {text!r}")
    return v


def positive(text: str) -> float:
    """A finite number > 0 (seconds, intervals)."""
    return _number(text, minimum=0, strict=True)


def nonnegative(text: str) -> float:
    """A finite number >= 0."""
    return _number(text, minimum=0, strict=False)


def extension_range(text: str) -> str:
    """An extension range (``3001-3300``, ``3001-3010,4001``), checked now, returned as given."""
    from .accounts import Directory

    try:
        Directory.generate(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def accounts_file(text: str) -> Directory:
    """An accounts TOML file, read now: a missing or bad file is a usage error."""
    from .accounts import Directory

    try:
        return Directory.from_toml(text)
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: {e.strerror or e}") from None
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _scheme_path(text: str) -> str:
    """The file a sink name (``x.jsonl``, ``sqlite:///x.db``, ``jsonl:///x``) writes to."""
    for scheme in ("sqlite:", "jsonl:"):
        if text.startswith(scheme):
            rest = text[len(scheme):]
            return rest[3:] if rest.startswith("///") else rest[2:] if rest.startswith("//") else rest
    return text


def output_dir(text: str) -> str:
    """A directory to write into (a capture): it exists, or its parent does; returned as given."""
    if not text:
        raise argparse.ArgumentTypeError("an empty directory name")
    path = os.path.abspath(text)
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory")
    if not os.path.isdir(path) and not os.path.isdir(os.path.dirname(path.rstrip(os.sep))):
        raise argparse.ArgumentTypeError(f"neither {text!r} nor its parent directory exists")
    return text


def output_file(text: str) -> str:
    """A file to write (a sink or a snapshot): its directory must exist; returned as given."""
    path = _scheme_path(text)
    if not path or path.endswith(os.sep):
        raise argparse.ArgumentTypeError(f"no file name in {text!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"the directory of {text!r} does not exist ({folder})")
    return text


# -- helpers shared by the subcommands -------------------------------------------------------
def _password(args: argparse.Namespace) -> str:
    """The password from ``$<--password-env>``, else a prompt on a terminal."""
    var = args.password_env
    pwd = os.environ.get(var) if var else None
    if pwd:
        return pwd
    if sys.stdin.isatty():
        return getpass.getpass(f"password for {args.id}: ")
    raise UsageError(f"no password: set ${var} (see --password-env) or run on a terminal to be asked")


def _client(args: argparse.Namespace) -> Client:
    from .client import Client

    kw: dict[str, Any] = {"cipher": args.cipher}
    for name in ("byteorder", "charset", "auto_reconnect"):
        if getattr(args, name, None) is not None:
            kw[name] = getattr(args, name)
    return Client(args.host, args.port, **kw)


async def _login(client: Client, args: argparse.Namespace, password: str) -> int:
    """Log ``client`` in; on failure say why on stderr (never the password). Returns an exit status."""
    from .errors import LguapiError, LoginError

    try:
        await client.login(args.id, password)
        return EXIT_OK
    except LoginError as e:
        print(f"lguapi {args.command}: login refused: {e}", file=sys.stderr)
        return EXIT_LOGIN_REFUSED
    except (OSError, asyncio.TimeoutError, LguapiError) as e:
        print(f"lguapi {args.command}: cannot connect to {args.host}:{args.port}: {e}", file=sys.stderr)
        return EXIT_CANNOT_CONNECT


def _lost_for_good(ev: Disconnected) -> int | None:
    """The exit status a lost session means (5 for BYE, 4 otherwise), or None while it will resume."""
    if ev.deliberate or ev.will_reconnect:
        return None
    return EXIT_BYE if (ev.reason or "").startswith("BYE") else EXIT_CANNOT_CONNECT


def _json_default(o: Any) -> Any:
    to_dict = getattr(o, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    return str(o)


_PHONE = re.compile(r"(?<![0-9])(0\d{2})(\d{1,5})(\d{4})(?![0-9])")


def mask_numbers(text: str) -> str:
    """Mask every phone number (8 to 12 digits starting with 0) in ``text``, whatever the log setting.

    >>> mask_numbers('{"caller_id":"01012345678","exten":"3001"}')
    '{"caller_id":"010****5678","exten":"3001"}'
    """
    return _PHONE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


def _dumps(obj: Any, *, mask: bool = False) -> str:
    text = json.dumps(obj, ensure_ascii=False, default=_json_default, separators=(",", ":"))
    return mask_numbers(text) if mask else text


def _add_connection_args(p: argparse.ArgumentParser, *, login: bool) -> None:
    p.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=8086, help="server port (default 8086)")
    p.add_argument("--cipher", choices=("seed", "basic", "none"), default="seed",
                   help="session cipher (default seed)")
    p.add_argument("--byteorder", choices=("big", "little"), default=None, help="frame byte order (default big)")
    p.add_argument("--charset", default=None, help="text charset (default cp949)")
    if login:
        p.add_argument("--id", required=True, help="login ID (e.g. 07012343001)")
        p.add_argument("--password-env", default="LGUAPI_PASSWORD", metavar="VAR",
                       help="environment variable holding the password (default LGUAPI_PASSWORD); "
                            "without it the password is prompted for on a terminal")
        p.add_argument("--mask", action="store_true", help="mask phone numbers in the output data too")


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(OncePerCause())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.WARNING))


# -- events --------------------------------------------------------------------------------
def _cmd_events(args: argparse.Namespace) -> int:
    password = _password(args)
    only = {s.strip().lower() for s in args.only.split(",") if s.strip()} if args.only else None

    async def main() -> int:
        stop = stop_event()
        client = _client(args)
        stream = client.events()  # bounded: a slow pipe pauses reading instead of buffering without end
        try:
            rc = await _login(client, args, password)
            if rc != EXIT_OK:
                return rc
            return await _print_events(stream, stop, args, only)
        finally:
            try:
                await stream.aclose()
                await client.close()
            finally:  # a second signal meanwhile cancels the shutdown cleanly (stop_event)
                remove_signal_handlers()

    try:
        return run(main, use_uvloop=not args.no_uvloop)
    except BrokenPipeError:  # `lguapi events | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:  # pragma: no cover
            pass
        return EXIT_OK


async def _print_events(stream: Any, stop: asyncio.Event, args: argparse.Namespace, only: set[str] | None) -> int:
    """Print events until --count, --duration, a signal, or the session ending for good."""
    from .events import Disconnected

    deadline = None if args.duration is None else time.monotonic() + args.duration
    printed = 0
    stopper = asyncio.ensure_future(stop.wait())
    it = stream.__aiter__()
    try:
        while not stop.is_set():
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                break
            getter = asyncio.ensure_future(it.__anext__())
            done, _ = await asyncio.wait({getter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                await asyncio.gather(getter, return_exceptions=True)
                break
            try:
                ev = getter.result()
            except StopAsyncIteration:
                break
            if not only or only & {type(ev).__name__.lower(), (ev.name or ev.NAME or "").lower()}:
                sys.stdout.write(_dumps(ev, mask=args.mask) + "\n")
                sys.stdout.flush()
                printed += 1
            if isinstance(ev, Disconnected) and (rc := _lost_for_good(ev)) is not None:
                print(f"lguapi events: the session ended: {ev.reason}", file=sys.stderr)
                return rc
            if args.count and printed >= args.count:
                break
    finally:
        stopper.cancel()
        await asyncio.gather(stopper, return_exceptions=True)
    return EXIT_OK


# -- call ----------------------------------------------------------------------------------
def _cmd_call(args: argparse.Namespace) -> int:
    password = _password(args)

    async def main() -> int:
        from .calls import CallTracker
        from .events import Disconnected, Event

        stop = stop_event()
        client = _client(args)
        tracker = CallTracker()
        changed = asyncio.Event()
        lost: list[int] = []

        def on_event(ev: Event) -> None:
            if isinstance(ev, Disconnected) and (rc := _lost_for_good(ev)) is not None:
                lost.append(rc)
                changed.set()
            try:
                if tracker.feed(ev):
                    changed.set()
            except Exception:
                log.exception("call tracker failed on %s", type(ev).__name__)

        client.on(Event, on_event)
        try:
            rc = await _login(client, args, password)
            if rc != EXIT_OK:
                return rc
            known = {c.id for c in tracker.calls(include_ended=True)}
            started = time.time()
            try:
                await client.click2call(args.to, cid=args.cid or "")
            except Exception as e:
                print(f"lguapi call: the call was refused: {e}", file=sys.stderr)
                return EXIT_ERROR
            print(f"calling {mask_number(args.to)} from {client.exten} ...", file=sys.stderr)
            call = await _follow_call(tracker, known, changed, stop, client, args, started, lost)
        finally:
            try:
                await client.close()
            finally:
                remove_signal_handlers()
        if lost:
            print("lguapi call: the session ended before the call did", file=sys.stderr)
        summary = _call_summary(call, args)
        return lost[0] if lost else summary

    return run(main, use_uvloop=not args.no_uvloop)


async def _follow_call(tracker: CallTracker, known: set[str], changed: asyncio.Event, stop: asyncio.Event,
                       client: Client, args: argparse.Namespace, started: float, lost: list[int]) -> Call | None:
    """Wait for our call to connect and end; hang up after --hangup-after, on timeout or Ctrl-C."""

    def ours() -> Call | None:
        for c in tracker.calls(include_ended=True):
            if c.id not in known:
                return c
        return None

    connected_at = hangup_at = hung_up_at = None
    while True:
        changed.clear()
        call = ours()
        if lost or (call is not None and call.state == "ended"):
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


def _call_summary(call: Call | None, args: argparse.Namespace) -> int:
    if call is None:
        print(f"call to {mask_number(args.to)}: no call was seen", file=sys.stderr)
        if args.json:
            print(_dumps({"to": args.to, "state": None, "answered": False}, mask=args.mask))
        return EXIT_NOT_ANSWERED
    answered = call.answer_at is not None
    if args.json:
        print(_dumps(call.to_dict(), mask=args.mask))
    else:
        from .tui import format_seconds

        print(f"call {call.id} to {mask_numbers(args.to) if args.mask else args.to}: "
              f"{'answered' if answered else 'not answered'}, state {call.state}, "
              f"ring {format_seconds(call.ring_seconds)}, talk {format_seconds(call.talk_seconds)}, "
              f"end {call.end_reason or '-'}, cause {call.hangup_cause if call.hangup_cause is not None else '-'}")
    return EXIT_OK if answered else EXIT_NOT_ANSWERED


# -- monitor -------------------------------------------------------------------------------
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


def _cmd_monitor(args: argparse.Namespace) -> int:
    from .accounts import Directory
    from .monitor import Monitor

    accounts = args.accounts if args.accounts is not None else Directory.generate(args.extensions, domain=args.domain)
    tui = _want_tui(args)

    async def main() -> int:
        stop = stop_event()
        kw: dict[str, Any] = {"auto_reconnect": args.auto_reconnect}
        for name in ("byteorder", "charset"):
            if getattr(args, name, None) is not None:
                kw[name] = getattr(args, name)
        capture = None
        if args.capture is not None:  # the CLI's own writer (its bounds), closed after the monitor
            from .capture import CaptureWriter

            capture = CaptureWriter(args.capture, max_segment_bytes=args.capture_segment_mb << 20,
                                    max_segments=args.capture_max_segments)
        try:
            monitor = Monitor(args.host, args.port, accounts=accounts, cipher=args.cipher, sink=args.sink,
                              capture=capture,
                              login_concurrency=args.login_concurrency, client_options=kw, freeze_gc=True)
            try:
                await monitor.start(wait=False)
                ok = await watch(monitor, stop=stop, duration=args.duration, tui=tui, interval=args.interval,
                                 title=f"lguapi monitor {args.host}:{args.port}")
            finally:
                try:
                    await monitor.close()
                finally:
                    remove_signal_handlers()
        finally:
            if capture is not None:
                capture.close()
        snap = monitor.snapshot(calls=0)
        from .tui import plain_line

        print(plain_line(snap), file=sys.stderr)
        _print_kicked(snap)
        if args.snapshot:
            with open(args.snapshot, "w", encoding="utf-8") as f:
                json.dump(snap, f, ensure_ascii=False, default=_json_default)
        return EXIT_OK if ok else _failed_logins_status(snap)

    return run(main, use_uvloop=not args.no_uvloop)


def _print_kicked(snap: dict[str, Any]) -> None:
    kicked = sorted(e for e, x in snap["extensions"].items() if x.get("kicked"))
    if kicked:
        shown = ", ".join(kicked[:20]) + (f" and {len(kicked) - 20} more" if len(kicked) > 20 else "")
        print(f"kicked by a duplicate login (BYE): {len(kicked)} extension(s): {shown}", file=sys.stderr)


def _failed_logins_status(snap: dict[str, Any]) -> int:
    """Every login failed: 3 when they were all refused, 4 when none could connect, else 1."""
    errors = [x["error"] or "" for x in snap["extensions"].values()]
    if errors and all(e.startswith("login refused") for e in errors):
        return EXIT_LOGIN_REFUSED
    if errors and not any(e.startswith("login refused") for e in errors):
        return EXIT_CANNOT_CONNECT
    return EXIT_ERROR


# -- demo ----------------------------------------------------------------------------------
def _cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    tui = _want_tui(args)
    return run(lambda: demo.run_demo(args, tui=tui), use_uvloop=not args.no_uvloop)


# -- parser --------------------------------------------------------------------------------
def _add_serve(sub: Any) -> None:
    from .server import cli as server_cli

    p = sub.add_parser("serve", help="run the emulator (a local LGUBaseOpenAPI server and PBX)",
                       description="Run the emulator: LGUBaseOpenAPI server, PBX, OAM and admin interface.")
    server_cli.configure_parser(p)
    p.set_defaults(func=server_cli.run)


def _add_monitor(sub: Any) -> None:
    p = sub.add_parser("monitor", help="live wallboard of many extensions",
                       description="Log in many extensions (one connection each) and show their states and "
                                   "call counters live. Generated accounts (--extensions) use the emulator's "
                                   "documented IDs and passwords (0701234<exten>, secret-<exten>).")
    _add_connection_args(p, login=False)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--accounts", metavar="FILE", type=accounts_file, help="accounts file (TOML, see docs/cli.md)")
    g.add_argument("--extensions", metavar="RANGE", type=extension_range,
                   help="generated accounts, e.g. 3001-3300 or 3001-3010,4001")
    p.add_argument("--domain", default="ipcctest.com", help="domain of generated accounts (default ipcctest.com)")
    p.add_argument("--sink", metavar="PATH", type=output_file,
                   help="record events and finished calls (file.jsonl or sqlite:///file.db)")
    p.add_argument("--no-tui", action="store_true", help="plain periodic status lines instead of the wallboard")
    p.add_argument("--interval", type=positive, default=2.0, help="seconds between plain status lines (default 2)")
    p.add_argument("--duration", type=nonnegative, default=None, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--login-concurrency", type=at_least_one, default=100,
                   help="logins in flight at once (default 100)")
    p.add_argument("--auto-reconnect", type=nonnegative, default=5.0,
                   help="seconds between reconnect rounds after a lost connection (default 5; 0 = off)")
    p.add_argument("--snapshot", metavar="FILE", type=output_file, help="write the final snapshot as JSON to FILE")
    p.add_argument("--capture", metavar="DIR", type=output_dir,
                   help="record every frame of every connection in DIR (docs/capture.md; `lguapi replay DIR`)")
    p.add_argument("--capture-segment-mb", metavar="MB", type=at_least_one, default=64,
                   help="close a capture segment at this size and start the next; closed ones are "
                        "gzip-compressed (default 64)")
    p.add_argument("--capture-max-segments", metavar="N", type=at_least_one, default=None,
                   help="keep only the newest N closed segments, deleting older ones (default: keep all)")
    p.set_defaults(func=_cmd_monitor)


def _add_events(sub: Any) -> None:
    p = sub.add_parser("events", help="print one extension's typed events as JSON lines",
                       description="Log in one extension and print every typed event (connection-state "
                                   "events included) as one JSON object per line on stdout, for piping. "
                                   "Ends with status 5 when the server ends the session (BYE).")
    _add_connection_args(p, login=True)
    p.add_argument("--only", metavar="NAMES", help="comma-separated event classes or wire names to keep "
                                                   "(e.g. RingEvent,CHANNELOUT)")
    p.add_argument("--count", type=count, default=0, help="stop after printing this many events")
    p.add_argument("--duration", type=nonnegative, default=None, help="stop after this many seconds")
    p.add_argument("--auto-reconnect", type=nonnegative, default=None, help="seconds between reconnect rounds")
    p.set_defaults(func=_cmd_events)


def _add_call(sub: Any) -> None:
    p = sub.add_parser("call", help="click-to-call from the shell and wait for the call to end",
                       description="Place a click-to-call from one extension, wait for it to connect and "
                                   f"end, and print a summary. Exit status 0 if answered, {EXIT_NOT_ANSWERED} "
                                   "if not.")
    _add_connection_args(p, login=True)
    p.add_argument("--to", required=True, help="number to call (external or an extension)")
    p.add_argument("--cid", default="", help="caller ID to show (default: the extension's)")
    p.add_argument("--timeout", type=positive, default=60.0, help="seconds to wait for an answer (default 60)")
    p.add_argument("--hangup-after", type=nonnegative, default=None,
                   help="hang up this many seconds after the call connects (default: wait for the other side)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=_cmd_call)


def _add_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="emulator + traffic + monitor + sink in one command",
                       description="Start the emulator with generated extensions and call traffic, monitor "
                                   "every extension, record events to a JSONL sink, and print a summary "
                                   "(also checked against the emulator's own call history) on Ctrl-C or "
                                   "after --duration.")
    p.add_argument("--extensions", default="3001-3300", metavar="RANGE", type=extension_range,
                   help="extensions (default 3001-3300)")
    p.add_argument("--duration", type=nonnegative, default=None, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--traffic", type=nonnegative, default=None, metavar="CALLS_PER_SECOND",
                   help="call arrivals per second (default: about one per 30 extensions, at most 20)")
    p.add_argument("--seed", type=int, default=None, help="random seed of the traffic (default: random)")
    p.add_argument("--sink", metavar="PATH", default=None,
                   help="where to record events and calls (default demo-out/demo-<time>.jsonl)")
    p.add_argument("--host", default="127.0.0.1", help="address the emulator listens on (default 127.0.0.1)")
    p.add_argument("--port", type=listen_port, default=0, help="emulator port (default 0: any free port)")
    p.add_argument("--admin-port", type=listen_port, default=0, help="admin HTTP port (default 0: any free port)")
    p.add_argument("--cipher", choices=("seed", "basic", "none"), default="seed", help="cipher (default seed)")
    p.add_argument("--no-tui", action="store_true", help="plain periodic status lines instead of the wallboard")
    p.add_argument("--interval", type=positive, default=2.0, help="seconds between plain status lines (default 2)")
    p.add_argument("--login-concurrency", type=at_least_one, default=100,
                   help="logins in flight at once (default 100)")
    p.set_defaults(func=_cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``lguapi`` command (every subcommand)."""
    parser = Parser(
        prog="lguapi", description="LG U+ Centrex OpenAPI toolkit: emulator, monitor, events, click-to-call, demo.",
        epilog="Exit status: 0 ok, 1 runtime error, 2 usage, 3 login refused, 4 cannot connect, "
               "5 session ended by the server (BYE). Passwords come from an environment variable "
               "(--password-env) or a prompt, never from argv. See docs/cli.md.")
    parser.add_argument("--version", action="version", version=f"lguapi {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("LGUAPI_LOG_LEVEL", "warning"),
                        choices=("debug", "info", "warning", "error"), help="log level on stderr (default warning)")
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's event loop even if uvloop is installed")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # every subcommand: a function (or a module's add_parser) that adds it and sets func=run(args) -> int
    from .replay_cli import add_parser as _add_replay

    for add in (_add_serve, _add_monitor, _add_events, _add_call, _add_demo, _add_replay):
        add(sub)
    from .gateway import cli as gateway_cli  # the HTTP gateway (its own module)

    gateway_cli.add_parser(sub)
    from .cluster import sink_cli  # lguapi sink --cluster URL --to sqlite:PATH (docs/cluster.md)

    sink_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lguapi`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _setup_logging(args.log_level)
    try:
        rc = func(args)
    except UsageError as e:
        print(f"lguapi {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("lguapi: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        if not _one_line(e):
            raise
        log.debug("lguapi %s failed", args.command, exc_info=True)
        print(f"lguapi {args.command}: error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_ERROR
    return int(rc or 0)


def _one_line(e: Exception) -> bool:
    """A runtime error a command reports in one line (the traceback at debug level): the OS's,
    a bad value, or a database's (a full disk under an SQLite sink). sqlite3 is looked up, not
    imported: when no sink imported it, no error can be one of its."""
    db = sys.modules.get("sqlite3")
    return isinstance(e, (OSError, ValueError, RuntimeError)) or (db is not None and isinstance(e, db.Error))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
