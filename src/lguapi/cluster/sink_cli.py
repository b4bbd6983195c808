"""``lguapi sink --cluster URL --to sqlite:PATH|jsonl:PATH``: run a sink as a consumer-group worker of the cluster's streams.

Exit codes: 0 stopped by SIGINT/SIGTERM, 2 bad arguments, 4 cannot connect to Redis, 1 other errors.
With ``--status FILE`` the worker rewrites FILE (JSON counters, pending and lag) every second.
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
from .node import DEFAULT_STREAMS
from .sinkworker import DEFAULT_GROUP, SinkWorker

__all__ = ["add_parser", "run"]

log: logging.Logger = logging.getLogger("lguapi.cluster.sink")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CONNECT = 0, 1, 2, 4


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``lguapi sink``."""
    p = subparsers.add_parser("sink", help="store the cluster's events and calls (Redis consumer-group worker)",
                              description="Read the cluster's Redis Streams as a consumer group and write every "
                                          "event and finished call to SQLite or JSON Lines: at least once, "
                                          "stored once (idempotency keys). See docs/cluster.md.")
    p.add_argument("--cluster", required=True, metavar="URL", help="redis://HOST:PORT/DB")
    p.add_argument("--to", required=True, metavar="SINK", help="sqlite:PATH or jsonl:PATH")
    p.add_argument("--group", default=DEFAULT_GROUP, help=f"consumer group (default {DEFAULT_GROUP})")
    p.add_argument("--consumer", default=None, help="consumer name (default: the host name; keep it across "
                                                     "restarts so pending entries are read again at once)")
    p.add_argument("--prefix", default="lguapi:cluster", help="Redis key prefix (default lguapi:cluster)")
    p.add_argument("--streams", type=int, default=DEFAULT_STREAMS, help=f"streams (default {DEFAULT_STREAMS})")
    p.add_argument("--batch", type=int, default=500, help="entries per read (default 500)")
    p.add_argument("--merge-window", type=float, default=3.0,
                   help="seconds a finished call waits for other members' views of it (default 3)")
    p.add_argument("--claim-idle", type=float, default=30.0,
                   help="take over other consumers' entries pending this long (default 30)")
    p.add_argument("--status", metavar="FILE", default=None, help="JSON status file, rewritten every second")
    p.set_defaults(func=run)


def _open(spec: str):
    from ..sinks import open_sink

    if not spec.startswith(("sqlite:", "jsonl:")):
        raise ValueError(f"--to must be sqlite:PATH or jsonl:PATH, not {spec!r}")
    return open_sink(spec)


def run(args: argparse.Namespace) -> int:
    """Run the worker until SIGINT/SIGTERM."""
    if args.streams < 1 or args.batch < 1 or args.merge_window < 0 or args.claim_idle <= 0:
        print("lguapi sink: --streams and --batch must be >= 1, --merge-window >= 0, --claim-idle > 0",
              file=sys.stderr)
        return EXIT_USAGE
    if not args.cluster.startswith(("redis://", "rediss://", "unix://")):
        print(f"lguapi sink: --cluster must be a redis:// URL, not {args.cluster!r}", file=sys.stderr)
        return EXIT_USAGE
    from ..sinks import OPEN_ERRORS

    try:
        sink = _open(args.to)
    except OPEN_ERRORS as e:
        print(f"lguapi sink: {e}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_main(args, sink))


async def _main(args: argparse.Namespace, sink) -> int:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from .node import connect

    redis = connect(args.cluster, timeout=5.0)  # above the 1 s blocking read
    worker = SinkWorker(redis, sink, prefix=args.prefix, streams=args.streams, group=args.group,
                        consumer=args.consumer, batch=args.batch, merge_window=args.merge_window,
                        claim_idle=args.claim_idle)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    status = asyncio.create_task(_status_loop(worker, args.status, stop)) if args.status else None
    try:
        await redis.ping()
        await _work(worker, stop)
    except (RedisConnectionError, OSError) as e:
        print(f"lguapi sink: cannot connect to {args.cluster}: {e}", file=sys.stderr)
        return EXIT_CONNECT
    finally:
        stop.set()
        if status is not None:
            await asyncio.gather(status, return_exceptions=True)
        await sink.close()
        await redis.aclose()
    return EXIT_OK


async def _work(worker: SinkWorker, stop: asyncio.Event) -> None:
    """Run the worker; a Redis outage after the start is waited out, not fatal."""
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

    while not stop.is_set():
        try:
            await worker.run(stop)
        except (RedisConnectionError, RedisTimeoutError, OSError) as e:
            log.warning("lguapi sink: Redis unreachable (%s); retrying", e)
            await wait_event(stop, 1.0)


async def _status_loop(worker: SinkWorker, path: str, stop: asyncio.Event) -> None:
    while True:
        try:
            data = await worker.info()
        except Exception as e:  # Redis down: counters only
            data = {**worker.stats, "error": str(e)}
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
        if stop.is_set():
            return
        await wait_event(stop, 1.0)
