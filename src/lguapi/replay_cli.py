"""``lguapi replay``: rebuild a capture's events and calls offline into a sink."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys

from .runtime import EXIT_ERROR as EXIT_RUNTIME
from .runtime import EXIT_OK, EXIT_USAGE, at_least_one

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``lguapi replay`` on the top-level sub-parsers."""
    p = sub.add_parser(
        "replay", help="rebuild events and calls from capture files into a sink",
        description="Read capture files (written by `lguapi monitor --capture DIR`, Monitor(capture=...) "
                    "or Client(capture=...)), rebuild every event and call at batch speed through the "
                    "call tracker, and write them to a sink: the same records the live run wrote.")
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help="capture directories or segment files")
    p.add_argument("--sink", metavar="URL", default=None,
                   help="jsonl:PATH or sqlite:PATH (default: none, only count)")
    p.add_argument("--batch", type=at_least_one, default=None, metavar="EVENTS",
                   help="events rebuilt, tracked and written at a time (default 50,000; each holds about "
                        "1.1 KB of memory while its batch lives)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``lguapi replay``; returns the exit status."""
    from .capture import CaptureError, segments
    from .replay import replay

    try:  # a path that does not exist, or a directory without a segment: a usage error
        segments(args.captures)
    except CaptureError as e:
        print(f"lguapi replay: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.sink is not None:
        from .sinks import OPEN_ERRORS, open_sink

        try:
            sink = open_sink(args.sink)
        except OPEN_ERRORS as e:
            print(f"lguapi replay: bad --sink: {e}", file=sys.stderr)
            return EXIT_USAGE
    else:
        sink = None

    async def main() -> int:
        try:
            result = await replay(args.captures, sink=sink, **({} if args.batch is None else {"batch": args.batch}))
        except CaptureError as e:
            print(f"lguapi replay: {e}", file=sys.stderr)
            return EXIT_RUNTIME
        finally:
            if sink is not None:
                await sink.close()
        summary = {"segments": result.segments, "events": result.events, "calls": result.calls,
                   "connections": result.connections, "truncated_bytes": result.truncated,
                   "damaged_segments": result.damaged,
                   "seconds": round(result.seconds, 3), "events_per_second": round(result.events_per_second)}
        if args.json:
            print(json.dumps(summary))
        else:
            print(f"replayed {result.events} events and {result.calls} calls of {result.connections} "
                  f"connections from {result.segments} segment(s) in {result.seconds:.2f} s "
                  f"({result.events_per_second:,.0f} events/s)")
            if result.truncated:
                print(f"note: {result.truncated} bytes of partial records at segment ends were skipped")
            for name in result.damaged:
                print(f"note: {name} is damaged (cut short or corrupt); only its readable beginning was replayed")
        return EXIT_OK

    return asyncio.run(main())
