"""``lguapi gateway --config gateway.toml [--host H] [--port P]``: run the gateway until SIGINT/SIGTERM.

Once it listens it prints one line on stdout (flushed), with the real port when 0 was asked::

    lguapi-gateway ready url=http://127.0.0.1:8090 extensions=300

Exit status (the CLI's contract): 0 stopped by a signal, 1 runtime error (the port is in
use, an unreadable TLS file), 2 bad arguments or configuration (one line on stderr),
3 every login refused, 4 the server could not be reached for any login.
``lguapi gateway --hash-token`` reads a token on stdin and prints its SHA-256, the form the
configuration file keeps (``sha256 = "..."``).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

__all__ = ["add_parser", "run", "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_REFUSED", "EXIT_NO_CONNECT"]

log: logging.Logger = logging.getLogger("lguapi.gateway.cli")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_REFUSED, EXIT_NO_CONNECT = 0, 1, 2, 3, 4


def add_parser(subparsers: Any) -> None:
    """Add the ``gateway`` subcommand to the ``lguapi`` parser."""
    p = subparsers.add_parser(
        "gateway", help="HTTP gateway: REST commands, live feed, webhooks, metrics, web wallboard",
        description="Log in the configured extensions and serve them over HTTP: REST under /v1, a live "
                    "feed (SSE /v1/events, WebSocket /v1/ws), signed webhooks, /metrics and a wallboard at /. "
                    "See docs/gateway.md and examples/gateway.toml.")
    p.add_argument("--config", metavar="FILE", help="the gateway's TOML file (required unless --hash-token)")
    p.add_argument("--host", default=None, help="address to listen on (default: the file's, else 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port to listen on (default: the file's, else 8090)")
    p.add_argument("--hash-token", action="store_true",
                   help="read a token on stdin, print its SHA-256 for the config file, and exit")
    from ..cluster.gateway import add_arguments as add_cluster_arguments  # --cluster URL (docs/cluster.md)

    add_cluster_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit status."""
    if args.hash_token:
        from .config import hash_token

        token = sys.stdin.readline().strip()
        if not token:
            print("lguapi gateway: no token on stdin", file=sys.stderr)
            return EXIT_USAGE
        print(hash_token(token))
        return EXIT_OK
    try:
        config = _config(args)
    except ValueError as e:  # ConfigError included
        print(f"lguapi gateway: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        import aiohttp  # noqa: F401
        import prometheus_client  # noqa: F401
    except ImportError as e:
        print(f"lguapi gateway: needs the gateway extra (pip install 'lguapi[gateway]'): {e}", file=sys.stderr)
        return EXIT_ERROR
    from ..monitor import new_event_loop

    with asyncio.Runner(loop_factory=lambda: new_event_loop(not getattr(args, "no_uvloop", False))) as runner:
        return runner.run(_serve(config, getattr(args, "cluster", None)))


def _config(args: argparse.Namespace):
    from .config import load_config

    if not args.config:
        raise ValueError("--config FILE is required (see examples/gateway.toml)")
    if args.port is not None and not 0 <= args.port < 65536:
        raise ValueError(f"--port must be 0-65535, not {args.port}")
    try:
        config = load_config(args.config)
    except OSError as e:
        raise ValueError(f"cannot read {args.config}: {e.strerror or e}") from None
    changes = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    return config.replace(**changes) if changes else config


async def _serve(config, cluster: str | None = None) -> int:
    from .app import Gateway, make_monitor
    from ..cluster.gateway import cluster_gateway

    # a process of its own: keep thousands of long-lived connections out of full GC runs
    gateway = cluster_gateway(config, cluster, freeze_gc=True) if cluster else \
        Gateway(config, wait_logins=False, monitor_factory=lambda c: make_monitor(c, freeze_gc=True))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - Windows
            pass
    try:
        try:
            await gateway.start()
        except OSError as e:
            print(f"lguapi gateway: cannot listen on {config.host}:{config.port}: {e.strerror or e}", file=sys.stderr)
            return EXIT_ERROR
        for warning in config.exposure_warnings():
            print(f"lguapi gateway: warning: {warning}", file=sys.stderr)
        n = gateway.monitor.login_progress.total
        print(f"lguapi-gateway ready url={gateway.url} extensions={n}", flush=True)
        rc = await _watch_logins(gateway, stop)
        if rc == EXIT_OK:
            await stop.wait()
        return rc
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
                pass
        await gateway.close()


async def _watch_logins(gateway, stop: asyncio.Event) -> int:
    """Wait for the initial logins (or a signal); 3/4 when not one login succeeded."""
    waiter = asyncio.ensure_future(gateway.monitor.wait_logged_in())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not waiter.done():
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        return EXIT_OK
    p = waiter.result()
    if p.total and p.failed == p.total:
        errors = [e["error"] or "" for e in gateway.monitor.snapshot(calls=0)["extensions"].values()]
        refused = all(err.startswith("login refused") for err in errors)
        print(f"lguapi gateway: no extension could log in ({errors[0] if errors else 'no error'})", file=sys.stderr)
        return EXIT_REFUSED if refused else EXIT_NO_CONNECT
    if p.failed:
        print(f"lguapi gateway: {p.failed} of {p.total} logins failed (see the log)", file=sys.stderr)
    return EXIT_OK


async def start_demo_gateway(monitor: Any, extensions: str, out: Any, *, port: int = 8090) -> Any:
    """For ``lguapi demo``: a gateway serving ``monitor`` (not started yet) on 127.0.0.1, anonymous
    read and command (loopback only), on ``port`` or any free port when it is taken. Prints the
    wallboard's URL on ``out``; returns the started gateway, or ``None`` (with a note) when the
    gateway extra is not installed."""
    try:
        from .app import Gateway
        from .config import GatewayConfig
    except ImportError as e:
        print(f"note: no wallboard: the gateway needs the gateway extra (pip install 'lguapi[gateway]'): {e}",
              file=out, flush=True)
        return None
    config = GatewayConfig(extensions=extensions, host="127.0.0.1", port=port,
                           anonymous=frozenset({"read", "command"}))
    gateway = Gateway(config, monitor=monitor)
    try:
        await gateway.start()
    except OSError:  # the port is taken: any free one
        await gateway.close()
        gateway = Gateway(config.replace(port=0), monitor=monitor)
        await gateway.start()
    print(f"wallboard: {gateway.url}/  (REST {gateway.url}/v1, feed {gateway.url}/v1/events, "
          f"metrics {gateway.url}/metrics)", file=out, flush=True)
    return gateway
