"""Run one headless cluster member: ``python -m lguapi.cluster.run --cluster URL --accounts FILE --port P``.

A Monitor with ``cluster=URL`` and no HTTP face, until SIGTERM/SIGINT (then it hands its shards
over and leaves). The tests and ``bench/bench_cluster.py`` start real OS processes with it; the
gateway's ``--cluster`` flag is the same Monitor behind HTTP. With ``--status FILE`` it rewrites
FILE (JSON: the monitor's ``cluster`` snapshot) every ``--status-interval`` seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from ._wait import wait_event
from .leases import LeaseConfig

__all__ = ["main", "build_parser", "lease_config_from_args", "add_lease_arguments"]


def add_lease_arguments(p: argparse.ArgumentParser) -> None:
    """The lease and stream options shared with ``lguapi gateway --cluster``."""
    d = LeaseConfig()
    p.add_argument("--shards", type=int, default=d.shards, help=f"shards (default {d.shards})")
    p.add_argument("--lease-ttl", type=float, default=d.lease_ttl, help=f"lease TTL seconds (default {d.lease_ttl})")
    p.add_argument("--renew-interval", type=float, default=d.renew_interval,
                   help=f"seconds between lease renewals (default {d.renew_interval})")
    p.add_argument("--member-ttl", type=float, default=d.member_ttl,
                   help=f"heartbeat TTL seconds (default {d.member_ttl})")
    p.add_argument("--fence-margin", type=float, default=d.fence_margin,
                   help=f"step down this long before a lease could expire (default {d.fence_margin})")
    p.add_argument("--settle", type=float, default=None, help="membership settle seconds (default: --member-ttl)")
    p.add_argument("--prefix", default=d.prefix, help=f"Redis key prefix (default {d.prefix})")
    p.add_argument("--stream-maxlen", type=int, default=100_000, help="MAXLEN ~ of each stream (default 100000)")


def lease_config_from_args(args: argparse.Namespace) -> LeaseConfig:
    """A validated LeaseConfig from :func:`add_lease_arguments`'s options (ValueError when inconsistent)."""
    cfg = LeaseConfig(shards=args.shards, lease_ttl=args.lease_ttl, renew_interval=args.renew_interval,
                      member_ttl=args.member_ttl, fence_margin=args.fence_margin, settle=args.settle,
                      prefix=args.prefix)
    cfg.validate()
    return cfg


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lguapi.cluster.run", description=__doc__.splitlines()[0])
    p.add_argument("--cluster", required=True, help="redis://HOST:PORT/DB")
    p.add_argument("--accounts", required=True, help="accounts TOML file (shared by every member)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8086)
    p.add_argument("--cipher", default="seed")
    p.add_argument("--login-concurrency", type=int, default=100)
    p.add_argument("--status", help="JSON status file, rewritten periodically")
    p.add_argument("--status-interval", type=float, default=0.5)
    p.add_argument("--heartbeat", type=float, default=20.0, help="client heartbeat seconds")
    add_lease_arguments(p)
    return p


async def _run(args: argparse.Namespace, cfg: LeaseConfig) -> int:
    from ..monitor import Monitor

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    m = Monitor(args.host, args.port, accounts=args.accounts, cipher=args.cipher,
                login_concurrency=args.login_concurrency, client_options={"heartbeat": args.heartbeat},
                cluster=args.cluster, cluster_options={"config": cfg, "maxlen": args.stream_maxlen})
    await m.start(wait=False)
    try:
        while not stop.is_set():
            if args.status:
                _write_status(args.status, m.snapshot(calls=0)["cluster"])
            await wait_event(stop, args.status_interval)
    finally:
        await m.close()
        if args.status:
            _write_status(args.status, {"closed": True})
    return 0


def _write_status(path: str, data: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = lease_config_from_args(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=os.environ.get("LGUAPI_LOG", "WARNING"),
                        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    return asyncio.run(_run(args, cfg))


if __name__ == "__main__":
    sys.exit(main())
