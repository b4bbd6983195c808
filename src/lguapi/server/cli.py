"""``lguapi serve``: the emulator, its admin and OAM endpoints, traffic and firehose, in one process.

    lguapi serve --extensions 3001-3999 --port 8086 --admin-port 8087 --oam-port 9999 \\
                 --traffic 5 --seed 1 --auto-answer 3

prints exactly one line on stdout once everything listens (ports given as 0 print the real
ones) and runs until SIGINT or SIGTERM (exit status 0)::

    lguapi-emulator ready port=8086 admin=8087 oam=9999

Logs go to stderr. In-process users (``lguapi demo``, tests) use :class:`EmulatorStack` or
:func:`run_all`:

>>> async with EmulatorStack(Directory.generate("3001-3010"), port=0, admin_port=0,   # doctest: +SKIP
...                          oam_port=0, oam_tls=False) as stack:
...     print(stack.ready_line())
"""
from __future__ import annotations

import argparse
import asyncio
import codecs
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
from typing import Any, Callable

from lgucore import CIPHERS

from .accounts import DEFAULT_DOMAIN, Directory
from .oam import HostPort, OamServer, parse_hostport
from .tlscert import DEFAULT_HOSTS, server_context, write_self_signed

__all__ = ["EmulatorStack", "run_all", "configure_parser", "run", "main", "READY_PREFIX"]

log: logging.Logger = logging.getLogger("lguapi.server")

READY_PREFIX = "lguapi-emulator ready"
_WILDCARD = ("", "0.0.0.0", "::")


class EmulatorStack:
    """Emulator + admin + OAM (+ optional traffic generator and firehose), started together.

    ``traffic`` is a :class:`~lguapi.server.traffic.TrafficConfig` (or None); ``firehose``
    a total events/s rate (or None). ``seed`` makes the PBX, traffic and firehose
    deterministic. ``tls`` serves the emulator's TCP port over TLS; ``oam_tls`` (default)
    serves OAM over HTTPS. Both use ``cert_file``/``key_file`` when given, else one
    self-signed certificate generated into ``state_dir`` (a temporary directory removed on
    close when not given); :attr:`ca_file` is the file clients should trust.
    ``emulator_options`` go to :class:`~lguapi.server.emulator.Emulator` as they are.
    """

    def __init__(self, directory: Directory, *, host: str = "127.0.0.1", port: int = 8086,
                 admin_host: str = "127.0.0.1", admin_port: int = 8087,
                 oam_host: str | None = None, oam_port: int = 9999, oam_tls: bool = True,
                 oam_primary: HostPort | None = None, oam_backup: HostPort | None = None,
                 oam_backup2: HostPort | None = None, tls: bool = False,
                 cert_file: str | None = None, key_file: str | None = None, state_dir: str | None = None,
                 traffic: Any = None, firehose: float | None = None, firehose_options: dict[str, Any] | None = None,
                 seed: int | None = None, emulator_options: dict[str, Any] | None = None) -> None:
        if (cert_file is None) != (key_file is None):
            raise ValueError("give both cert_file and key_file, or neither")
        if firehose is not None and firehose < 0:
            raise ValueError("firehose rate must be >= 0 events/s")
        self.directory = directory
        self.host = host
        self._port = port
        self.admin_host = admin_host
        self._admin_port = admin_port
        self.oam_host: str = host if oam_host is None else oam_host
        self._oam_port = oam_port
        self.oam_tls = oam_tls
        self.oam_addresses: tuple[HostPort | None, HostPort | None, HostPort | None] = (oam_primary, oam_backup, oam_backup2)
        self.tls = tls
        self.cert_file = cert_file
        self.key_file = key_file
        self.ca_file: str | None = cert_file
        self.state_dir = state_dir
        self.traffic_config = traffic
        #: a :class:`~lguapi.server.playback.CapturePlayback` started with the stack by ``lguapi serve --replay``
        self.playback: Any = None
        self.firehose_rate = firehose
        self.firehose_options: dict[str, Any] = dict(firehose_options or {})
        self.seed = seed
        self.emulator_options: dict[str, Any] = dict(emulator_options or {})
        self.emulator: Any = None
        self.admin: Any = None
        self.oam: OamServer | None = None
        self.traffic: Any = None
        self.firehose: Any = None
        self._own_dir: str | None = None
        self._started = False

    # --- ports and the ready line -------------------------------------------------------

    @property
    def port(self) -> int:
        return self.emulator.port if self.emulator is not None else self._port

    @property
    def admin_port(self) -> int:
        return self.admin.port if self.admin is not None else self._admin_port

    @property
    def oam_port(self) -> int:
        return self.oam.port if self.oam is not None else self._oam_port

    @property
    def pbx(self) -> Any:
        return self.emulator.pbx

    def ready_line(self) -> str:
        """``lguapi-emulator ready port=<p> admin=<a> oam=<o>`` with the bound ports."""
        return f"{READY_PREFIX} port={self.port} admin={self.admin_port} oam={self.oam_port}"

    def _rng(self, purpose: str) -> random.Random | None:
        return None if self.seed is None else random.Random(f"lguapi-{purpose}:{self.seed}")

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start everything; on failure, whatever started is closed again and the error raised."""
        if self._started:
            raise RuntimeError("already started")
        self._started = True
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise

    async def _start(self) -> None:
        from .admin import AdminServer
        from .emulator import Emulator

        if (self.tls or self.oam_tls) and self.cert_file is None:
            directory = self.state_dir
            if directory is None:
                directory = self._own_dir = tempfile.mkdtemp(prefix="lguapi-emulator-")
            hosts = list(DEFAULT_HOSTS) + [h for h in (self.host, self.oam_host) if h not in _WILDCARD]
            files = await asyncio.to_thread(write_self_signed, directory, hosts)
            self.cert_file, self.key_file, self.ca_file = files.cert, files.key, files.ca
        ssl_ctx = None
        if self.tls:
            if self.cert_file is None or self.key_file is None:
                raise ValueError("TLS needs a certificate and its key")
            ssl_ctx = server_context(self.cert_file, self.key_file)
        options = dict(self.emulator_options)
        if self.seed is not None:
            options.setdefault("rng", self._rng("pbx"))
        self.emulator = Emulator(self.directory, host=self.host, port=self._port, ssl=ssl_ctx, **options)
        await self.emulator.start()
        primary, backup, backup2 = self.oam_addresses
        self.oam = OamServer(self.directory, host=self.oam_host, port=self._oam_port, emulator_host=self.host,
                             emulator_port=lambda: self.emulator.port, primary=primary, backup=backup,
                             backup2=backup2, tls=self.oam_tls, cert_file=self.cert_file if self.oam_tls else None,
                             key_file=self.key_file if self.oam_tls else None,
                             ca_file=self.ca_file if self.oam_tls else None)
        await self.oam.start()
        stats: dict[str, Callable[[], dict[str, Any]]] = {}
        self.admin = AdminServer(self.emulator, host=self.admin_host, port=self._admin_port, stats=stats)
        await self.admin.start()
        if self.traffic_config is not None and self.traffic_config.rate > 0:
            from .traffic import TrafficGenerator

            self.traffic = TrafficGenerator(self.emulator.pbx, self.directory, self.traffic_config,
                                            rng=self._rng("traffic"))
            self.traffic.start()
            stats["traffic"] = self.traffic.stats
        if self.firehose_rate:
            from .firehose import Firehose

            self.firehose = Firehose(self.emulator, self.firehose_rate, rng=self._rng("firehose"),
                                     **self.firehose_options)
            self.firehose.start()
            stats["firehose"] = self.firehose.stats
        if self.ca_file and (self.tls or self.oam_tls):
            log.info("TLS certificate to trust: %s", self.ca_file)

    async def close(self) -> None:
        """Stop traffic and firehose, then admin, OAM and the emulator (idempotent)."""
        if self.firehose is not None:
            self.firehose.close()
        if self.traffic is not None:
            self.traffic.close()
        for server in (self.admin, self.oam, self.emulator):
            if server is not None:
                try:
                    await server.close()
                except Exception:  # close the rest anyway
                    log.exception("closing %r failed", server)
        self.admin = self.oam = None
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    async def __aenter__(self) -> EmulatorStack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def run_all(directory: Directory, *, stop: asyncio.Event | None = None,
                  on_ready: Callable[[EmulatorStack], None] | None = None, **options: Any) -> None:
    """Run an :class:`EmulatorStack` (``options`` are its keywords) until ``stop`` is set.

    ``on_ready(stack)`` is called once everything listens. Without ``stop`` it runs until
    cancelled.
    """
    stop = stop or asyncio.Event()
    async with EmulatorStack(directory, **options) as stack:
        if on_ready is not None:
            on_ready(stack)
        await stop.wait()


# --- command line -----------------------------------------------------------------------

def _hostport(text: str) -> HostPort:
    try:
        return parse_hostport(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _number(text: str, *, strict: bool) -> float:
    """A number >= 0 (> 0 when ``strict``; NaN never), infinity allowed ("never", "no limit")."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not (v > 0 if strict else v >= 0):
        raise argparse.ArgumentTypeError(f"expected a number {'>' if strict else '>='} 0, not {text!r}")
    return v


def _nonneg(text: str) -> float:
    return _number(text, strict=False)


def _positive(text: str) -> float:
    return _number(text, strict=True)


def _probability(text: str) -> float:
    v = _nonneg(text)
    if v > 1:
        raise argparse.ArgumentTypeError(f"expected a probability within 0..1, not {text!r}")
    return v


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0..65535 (0: any free port), not {text!r}")
    return int(text)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``lguapi serve`` to ``parser`` (the lead's ``serve`` subparser)."""
    from .traffic import DEFAULT_MIX, TrafficConfig

    d = TrafficConfig(rate=0)
    parser.description = parser.description or "Run the emulator: LGUBaseOpenAPI server, PBX, OAM and admin."
    parser.epilog = ("Generated accounts (--extensions): login ID and 070 caller ID 0701234<exten> "
                     "(4-digit extensions, zero-padded), password secret-<exten>. Prints "
                     f"'{READY_PREFIX} port=P admin=A oam=O' on stdout once listening; stops on SIGINT/SIGTERM. "
                     "See docs/emulator-admin.md.")
    g = parser.add_argument_group("listening")
    g.add_argument("--host", default="127.0.0.1", help="address of the API server and OAM (default 127.0.0.1)")
    g.add_argument("--port", type=_port, default=8086, help="API server port (default 8086; 0: any free port)")
    g.add_argument("--admin-host", default="127.0.0.1", help="admin interface address (default 127.0.0.1, loopback)")
    g.add_argument("--admin-port", type=_port, default=8087, help="admin HTTP port (default 8087)")
    g.add_argument("--oam-host", default=None, help="OAM address (default: --host)")
    g.add_argument("--oam-port", type=_port, default=9999, help="OAM discovery port (default 9999)")
    g = parser.add_argument_group("accounts")
    a = g.add_mutually_exclusive_group()
    a.add_argument("--accounts", metavar="FILE", help="accounts TOML file ([[domain]] / [[domain.user]])")
    a.add_argument("--extensions", metavar="RANGE", help="generated accounts, e.g. 3001-3999 or 3001-3010,4001")
    g.add_argument("--domain", default=DEFAULT_DOMAIN, help=f"domain of generated accounts (default {DEFAULT_DOMAIN})")
    g = parser.add_argument_group("protocol")
    g.add_argument("--byteorder", choices=("big", "little"), default="big", help="frame header byte order")
    g.add_argument("--ciphers", default="none,basic,seed",
                   help="ciphers LOGIN may use, comma-separated (default none,basic,seed)")
    g.add_argument("--charset", default="cp949", help="text charset (default cp949)")
    g.add_argument("--idle-timeout", type=_positive, default=90.0, help="close silent connections after (s, default 90)")
    g.add_argument("--max-send-buffer", type=int, default=4 << 20,
                   help="bytes queued for a client that does not read before it is closed (default 4 MiB)")
    g.add_argument("--frame-timeout", type=_positive, default=30.0,
                   help="close a connection whose frame is not complete this long after its first byte (s, default 30)")
    g.add_argument("--max-connections", type=_count, default=20000,
                   help="open connections in all; more are refused (default 20000)")
    g.add_argument("--max-connections-per-address", type=_count, default=10000,
                   help="open connections from one IP address; more are refused (default 10000)")
    g.add_argument("--max-frames-per-turn", type=_count, default=200,
                   help="frames of one connection handled per event-loop turn (default 200)")
    g = parser.add_argument_group("PBX")
    g.add_argument("--auto-answer", type=_nonneg, default=None, metavar="SECONDS",
                   help="external numbers answer after SECONDS (default: they ring until told, via the admin API)")
    g.add_argument("--ring-timeout", type=_nonneg, default=60.0, help="unanswered rings end with cause 19 after (s)")
    g.add_argument("--seed", type=int, default=None, help="random seed: deterministic PBX ids, traffic and firehose")
    g.add_argument("--max-userinfo-bytes", type=_count, default=64 * 1024,
                   help="bytes SETUSERINFO may store per extension (default 65536)")
    g.add_argument("--max-addressbook", type=_count, default=5000,
                   help="MAGADDRLIST entries per domain (default 5000)")
    g = parser.add_argument_group("TLS and OAM")
    g.add_argument("--tls", action="store_true", help="serve the API port over TLS too")
    g.add_argument("--oam-http", action="store_true", help="serve OAM over plain HTTP instead of HTTPS")
    g.add_argument("--cert", metavar="FILE", help="certificate (PEM) for HTTPS/TLS (default: self-signed, generated)")
    g.add_argument("--key", metavar="FILE", help="private key (PEM) of --cert")
    g.add_argument("--state-dir", metavar="DIR",
                   help="where the generated certificate goes (oam-ca.pem is the file to trust; default: a temporary "
                        "directory removed at exit)")
    g.add_argument("--oam-addr", type=_hostport, metavar="HOST:PORT", help="primary address OAM answers "
                   "(default: this emulator)")
    g.add_argument("--oam-backup", type=_hostport, metavar="HOST:PORT", help="backup address (default: the primary)")
    g.add_argument("--oam-backup2", type=_hostport, metavar="HOST:PORT",
                   help="second backup address (default: the backup)")
    g = parser.add_argument_group("traffic generator")
    g.add_argument("--traffic", type=_nonneg, default=None, metavar="CALLS_PER_SECOND",
                   help="Poisson call arrivals per second (inbound, click-to-call, internal)")
    g.add_argument("--traffic-mix", default=",".join(f"{k}={v:g}" for k, v in DEFAULT_MIX.items()),
                   help="shares of call kinds (default %(default)s)")
    g.add_argument("--ring-time", type=_nonneg, default=d.ring_mean, metavar="SECONDS",
                   help="mean ring time, exponential (default %(default)s)")
    g.add_argument("--talk-time", type=_nonneg, default=d.talk_mean, metavar="SECONDS",
                   help="mean talk time, lognormal (default %(default)s)")
    g.add_argument("--unanswered", type=_probability, default=d.unanswered, metavar="P",
                   help="share of calls the caller abandons while ringing (default %(default)s)")
    g.add_argument("--hold", type=_probability, default=d.hold, metavar="P",
                   help="probability a connected call is put on hold once (default %(default)s)")
    g.add_argument("--transfer", type=_probability, default=d.transfer, metavar="P",
                   help="probability a connected call is blind-transferred (default %(default)s)")
    g.add_argument("--traffic-calls", type=int, default=None, metavar="N", help="stop after N calls (default: no limit)")
    g = parser.add_argument_group("capture playback")
    g.add_argument("--replay", metavar="CAPTURE", action="append",
                   help="play a capture back: each login found in it receives its recorded frames after it "
                        "logs in (repeatable; accounts come from the capture unless --accounts/--extensions)")
    g.add_argument("--speed", type=_positive, default=1.0, help="--replay: divide the recorded spacing by this")
    g.add_argument("--replay-password", default="replay", metavar="PASSWORD",
                   help="--replay: the password of the accounts taken from the capture (default 'replay')")
    g = parser.add_argument_group("firehose")
    g.add_argument("--firehose", type=_nonneg, default=None, metavar="EVENTS_PER_SECOND",
                   help="replay generated call events to every logged-in session at this total rate")


def _build_stack(args: argparse.Namespace) -> EmulatorStack:
    from .traffic import TrafficConfig, parse_mix

    playback = None
    if getattr(args, "replay", None):
        from ..capture import CaptureError
        from .playback import CapturePlayback

        try:
            playback = CapturePlayback(None, args.replay, speed=args.speed)
        except CaptureError as e:
            raise ValueError(f"--replay: {e}") from None
        if not playback.timelines:
            raise ValueError("--replay: the capture holds no login with received frames")
    if args.accounts:
        directory = Directory.from_toml(args.accounts)
    elif args.extensions:
        directory = Directory.generate(args.extensions, domain=args.domain)
    elif playback is not None:
        directory = playback.directory(args.replay_password)
    else:
        raise ValueError("give --accounts FILE, --extensions RANGE or --replay CAPTURE")
    traffic = None
    if args.traffic:
        traffic = TrafficConfig(rate=args.traffic, mix=parse_mix(args.traffic_mix), ring_mean=args.ring_time,
                                talk_mean=args.talk_time, unanswered=args.unanswered, hold=args.hold,
                                transfer=args.transfer, max_calls=args.traffic_calls)
        traffic.validate()
    ciphers = tuple(c.strip() for c in args.ciphers.split(",") if c.strip())
    if not ciphers or any(c not in CIPHERS for c in ciphers):
        raise ValueError(f"--ciphers takes a comma-separated subset of {','.join(CIPHERS)}, not {args.ciphers!r}")
    try:
        codecs.lookup(args.charset)
    except LookupError:
        raise ValueError(f"unknown --charset {args.charset!r}") from None
    if args.max_send_buffer < 1024:
        raise ValueError("--max-send-buffer must be at least 1024 bytes")
    options = dict(byteorder=args.byteorder, ciphers=ciphers, charset=args.charset,
                   idle_timeout=args.idle_timeout, max_send_buffer=args.max_send_buffer,
                   ring_timeout=args.ring_timeout, auto_answer=args.auto_answer, frame_timeout=args.frame_timeout,
                   max_connections=args.max_connections,
                   max_connections_per_address=args.max_connections_per_address,
                   max_frames_per_turn=args.max_frames_per_turn,
                   max_userinfo_bytes=args.max_userinfo_bytes, max_addressbook=args.max_addressbook)
    stack = EmulatorStack(directory, host=args.host, port=args.port, admin_host=args.admin_host,
                         admin_port=args.admin_port, oam_host=args.oam_host, oam_port=args.oam_port,
                         oam_tls=not args.oam_http, oam_primary=args.oam_addr, oam_backup=args.oam_backup,
                         oam_backup2=args.oam_backup2, tls=args.tls, cert_file=args.cert, key_file=args.key,
                         state_dir=args.state_dir, traffic=traffic, firehose=args.firehose, seed=args.seed,
                         emulator_options=options)
    stack.playback = playback
    return stack


def run(args: argparse.Namespace) -> int:
    """Run ``lguapi serve`` with parsed ``args``; 0 after SIGINT/SIGTERM, 1 on a start failure,
    2 on bad options."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=getattr(logging, str(getattr(args, "log_level", "info")).upper(), logging.INFO),
                            stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (args.cert is None) != (args.key is None):
        print("lguapi serve: error: give both --cert and --key, or neither", file=sys.stderr)
        return 2
    try:
        stack = _build_stack(args)
    except (OSError, ValueError) as e:
        print(f"lguapi serve: error: {e}", file=sys.stderr)
        return 2

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        handled = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
                handled.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - Windows
                pass
        try:
            try:
                await stack.start()
            except (OSError, ValueError) as e:
                print(f"lguapi serve: cannot start: {e}", file=sys.stderr)
                return 1
            playback = stack.playback
            if playback is not None:
                playback.emulator = stack.emulator
                playback.start()
                print(f"lguapi serve: replaying {len(playback.timelines)} login(s) at {playback.speed:g}x",
                      file=sys.stderr, flush=True)
            print(stack.ready_line(), flush=True)
            if stack.oam is not None and stack.oam.ca_file:
                # on stderr whatever the log level: the client needs this path to verify OAM
                print(f"lguapi serve: OAM discovery at {stack.oam.url}; CA file to trust: {stack.oam.ca_file}",
                      file=sys.stderr, flush=True)
            await stop.wait()
            log.info("stopping")
            return 0
        finally:
            if stack.playback is not None:
                await stack.playback.close()
            await stack.close()
            for sig in handled:
                loop.remove_signal_handler(sig)

    use_uvloop = not getattr(args, "no_uvloop", True)
    try:
        return _run_loop(main, use_uvloop)
    except KeyboardInterrupt:  # pragma: no cover - signal handlers unavailable
        return 0


def _run_loop(main: Callable, use_uvloop: bool) -> int:
    loop = None
    if use_uvloop:
        try:
            import uvloop

            loop = uvloop.new_event_loop()
        except ImportError:
            pass
    loop = loop or asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main())
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m lguapi.server.cli``: the same as ``lguapi serve``."""
    parser = argparse.ArgumentParser(prog="lguapi serve")
    parser.add_argument("--log-level", default=os.environ.get("LGUAPI_LOG_LEVEL", "info"),
                        choices=("debug", "info", "warning", "error"), help="log level on stderr (default info)")
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's event loop even if uvloop is installed")
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
