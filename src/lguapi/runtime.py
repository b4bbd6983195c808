"""Running lguapi programs: exit codes, the event loop, stop signals, log filtering and the live watch.

The command line, the demo and the benchmarks share these; nothing here knows about a
subcommand. A program built on them looks like::

    def main() -> int:
        async def body() -> int:
            stop = stop_event()              # set by SIGINT / SIGTERM
            try:
                await sleep_or_stop(stop, 10.0)
            finally:
                remove_signal_handlers()
            return EXIT_OK
        return run(body)

    >>> run(lambda: asyncio.sleep(0, result=EXIT_OK), use_uvloop=False)
    0
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Coroutine, TextIO, TypeVar

if TYPE_CHECKING:
    from .monitor import Monitor

__all__ = [
    "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_LOGIN_REFUSED", "EXIT_CANNOT_CONNECT", "EXIT_BYE",
    "EXIT_NOT_ANSWERED", "EXIT_INTERRUPTED",
    "new_event_loop", "run", "stop_event", "remove_signal_handlers", "sleep_or_stop", "raise_nofile_limit",
    "OncePerCause", "watch", "count", "at_least_one",
]

log: logging.Logger = logging.getLogger("lguapi.runtime")

T = TypeVar("T")

#: the command finished as asked (or was stopped by Ctrl-C / SIGTERM)
EXIT_OK = 0
#: a runtime error: anything not covered by a more precise code
EXIT_ERROR = 1
#: bad arguments: one line on stderr, before anything starts
EXIT_USAGE = 2
#: the server refused the login (wrong ID or password, locked, ...)
EXIT_LOGIN_REFUSED = 3
#: the server could not be reached (or the connection was lost for good)
EXIT_CANNOT_CONNECT = 4
#: the server ended the session with BYE (for example: the same ID logged in elsewhere)
EXIT_BYE = 5
#: ``lguapi call`` only: the call was placed but nobody answered
EXIT_NOT_ANSWERED = 6
#: interrupted by Ctrl-C before a clean stop was possible (128 + SIGINT)
EXIT_INTERRUPTED = 130

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def count(text: str) -> int:
    """A command-line argument: a whole number >= 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, not {text!r}")
    return int(text)


def at_least_one(text: str) -> int:
    """A command-line argument: a whole number >= 1."""
    n = count(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return n


def new_event_loop(use_uvloop: bool = True) -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop's when installed and wanted, else asyncio's."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
    return asyncio.new_event_loop()


def run(coro_fn: Callable[[], Coroutine[Any, Any, T]], *, use_uvloop: bool = True) -> T:
    """Run ``coro_fn()`` to completion in a new event loop (uvloop's when installed).
    ``KeyboardInterrupt`` when a second stop signal cancelled it (:func:`stop_event`)."""
    with asyncio.Runner(loop_factory=lambda: new_event_loop(use_uvloop)) as runner:
        try:
            return runner.run(coro_fn())
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None


def stop_event() -> asyncio.Event:
    """An Event set by SIGINT/SIGTERM (where the running loop supports signal handlers).

    A second signal, while the handlers are still installed (remove them only once the
    shutdown is over), cancels the task that asked for the Event: the way out of a shutdown
    that takes too long. Python's own handler would raise ``KeyboardInterrupt`` wherever the
    loop happened to be, possibly half-way through one of asyncio's callbacks, and leave a
    task waiting for a result that never comes."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal() -> None:
        if not stop.is_set():
            stop.set()
        elif task is not None and not task.done():
            log.warning("a second stop signal: not waiting for the shutdown to finish")
            task.cancel()

    for sig in _STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - Windows / threads
            pass
    return stop


def remove_signal_handlers() -> None:
    """Undo :func:`stop_event`: SIGINT/SIGTERM act as before again."""
    loop = asyncio.get_running_loop()
    for sig in _STOP_SIGNALS:
        try:
            loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
            pass


async def sleep_or_stop(stop: asyncio.Event, seconds: float | None) -> None:
    """Wait ``seconds`` (forever when None), or less if ``stop`` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass


def raise_nofile_limit(needed: int = 0) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; warn when it is below ``needed``.

    Returns the new ``(soft, hard)``. A no-op where :mod:`resource` does not exist.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return (0, 0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as e:  # pragma: no cover - platform specific
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, e)
    if needed and soft < needed:
        log.warning("open-file limit %d is below the %d descriptors needed; logins will fail "
                    "(raise it with `ulimit -n`)", soft, needed)
    return (soft, hard)


class OncePerCause(logging.Filter):
    """Let one WARNING (or ERROR) through per cause; drop the repeats.

    The cause of a record is its last argument (the error). Two causes are the same when
    one ends with the other (``ConnectFailed: could not connect: [Errno 111] refused`` from
    the monitor and ``[Errno 111] refused`` from the client), so a refused connection
    reported by 300 extensions, by the client and by the monitor, on every attempt, is one
    line. Records below WARNING pass untouched (``--log-level debug`` still shows
    everything); at most ``limit`` causes are remembered.

        >>> f = OncePerCause()
        >>> rec = lambda *a: logging.LogRecord("x", logging.WARNING, "", 0, "login of %s failed: %s", a, None)
        >>> [f.filter(rec("3001", "[Errno 111] refused")), f.filter(rec("3002", "ConnectFailed: [Errno 111] refused"))]
        [True, False]
    """

    def __init__(self, *, limit: int = 1000) -> None:
        super().__init__()
        self.limit = limit
        self.suppressed: int = 0
        self._seen: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.args:
            return True
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        cause = str(args[-1])
        if len(cause) < 12:  # too short to tell causes apart by their ends: the whole message decides
            cause = f"{record.msg}\0{cause}"
        if any(cause.endswith(seen) or seen.endswith(cause) for seen in self._seen):
            self.suppressed += 1
            return False
        if len(self._seen) < self.limit:
            self._seen.append(cause)
        return True


async def watch(monitor: Monitor, *, stop: asyncio.Event, duration: float | None, tui: bool, interval: float,
                title: str, out: TextIO | None = None) -> bool:
    """Show login progress, then the wallboard (rich Live) or plain lines, until ``stop`` is set
    or ``duration`` seconds pass. Returns False (at once) when every login failed."""
    stream = out or sys.stdout
    deadline = None if duration is None else time.monotonic() + duration

    def step(seconds: float) -> float | None:
        """How long to sleep next: ``seconds`` capped by the deadline; None once it passed."""
        if deadline is None:
            return seconds
        left = deadline - time.monotonic()
        return None if left <= 0 else min(seconds, left)

    if tui:
        return await _watch_live(monitor, stop, step, interval, title, stream)
    return await _watch_plain(monitor, stop, step, interval, stream)


def _all_failed(monitor: Monitor) -> bool:
    """Did every login fail? Says so on stderr with the first error."""
    p = monitor.login_progress
    if monitor.logins_done and p.total and p.failed == p.total:
        first = next((e["error"] for e in monitor.snapshot(calls=0)["extensions"].values() if e["error"]), "")
        print(f"lguapi: every login failed ({p.failed}); first error: {first}", file=sys.stderr, flush=True)
        return True
    return False


async def _watch_live(monitor: Monitor, stop: asyncio.Event, step: Callable[[float], float | None],
                      interval: float, title: str, out: TextIO) -> bool:
    from rich.console import Console
    from rich.live import Live

    from .tui import render, render_progress

    console = Console(file=out)
    with Live(render_progress(*monitor.login_progress), console=console, refresh_per_second=8,
              transient=False) as live:
        while not stop.is_set() and not monitor.logins_done:
            pause = step(0.125)
            if pause is None:
                break
            await sleep_or_stop(stop, pause)
            live.update(render_progress(*monitor.login_progress))
        if _all_failed(monitor):
            return False
        every = min(interval, 1.0)  # the wallboard redraws at least once a second
        while not stop.is_set():
            live.update(render(monitor.snapshot(calls=20), title=title))
            pause = step(every)
            if pause is None:
                break
            await sleep_or_stop(stop, pause)
        live.update(render(monitor.snapshot(calls=20), title=title))
    return True


async def _watch_plain(monitor: Monitor, stop: asyncio.Event, step: Callable[[float], float | None],
                       interval: float, out: TextIO) -> bool:
    from .tui import plain_line

    last_progress = None
    while not stop.is_set() and not monitor.logins_done:
        p = monitor.login_progress
        if p != last_progress:
            print(f"logging in: {p.done}/{p.total} ({p.failed} failed)", file=out, flush=True)
            last_progress = p
        pause = step(1.0)
        if pause is None:
            break
        await sleep_or_stop(stop, pause)
    if monitor.logins_done:
        p = monitor.login_progress
        print(f"logged in: {p.done - p.failed}/{p.total} ({p.failed} failed)", file=out, flush=True)
        if _all_failed(monitor):
            return False
    while not stop.is_set():
        pause = step(interval)
        if pause is None:
            break
        await sleep_or_stop(stop, pause)
        print(plain_line(monitor.snapshot(calls=0)), file=out, flush=True)
    return True
