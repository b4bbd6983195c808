"""The commands' stop signals (lguapi.runtime.stop_event): the first SIGINT/SIGTERM asks for a
clean shutdown; a second one during that shutdown cancels it cleanly ("interrupted", 130).
Before, the shutdown ran with Python's own handler back in place, and the second signal raised
KeyboardInterrupt wherever the loop was: once, half-way through an asyncio callback, which left
`lguapi monitor` waiting for good (`timeout -s INT` sends its signal twice: to the command and to
its process group)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent("""
    import asyncio, os, signal, sys
    from lguapi.runtime import remove_signal_handlers, run, stop_event

    async def main():
        stop = stop_event()
        try:
            os.kill(os.getpid(), signal.{first})
            await stop.wait()
            print("stopping", flush=True)
            if {twice}:
                os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C during a slow shutdown
            await asyncio.sleep({shutdown})  # the shutdown
            print("stopped", flush=True)
            return 0
        finally:
            remove_signal_handlers()

    try:
        sys.exit(run(main, use_uvloop=False))
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
""")


def _run(first: str, twice: bool, shutdown: float) -> tuple[int, str, float]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(first=first, twice=twice, shutdown=shutdown)],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0


def test_one_signal_lets_the_shutdown_finish():
    for first in ("SIGINT", "SIGTERM"):
        rc, out, _ = _run(first, False, 0.3)
        assert (rc, out.split()) == (0, ["stopping", "stopped"]), out


def test_a_second_signal_cancels_the_shutdown_cleanly():
    rc, out, took = _run("SIGINT", True, 30.0)
    assert rc == 130 and out.split()[0] == "stopping" and "interrupted" in out, out
    assert "stopped" not in out and "Traceback" not in out, out
    assert took < 20  # not the 30 s shutdown
