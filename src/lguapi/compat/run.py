"""``python -m lguapi.compat.run PROGRAM [ARGS...]``: run a program written for win32com and the vendor's control, unchanged.

It installs the stand-in ``win32com``, ``win32com.client``, ``pythoncom`` (and
``pywintypes``, ``win32api``, ``win32gui``, ``win32con``) modules, then runs PROGRAM as
``__main__`` with ``sys.argv = [PROGRAM, *ARGS]`` and PROGRAM's directory first on
``sys.path``, as ``python PROGRAM ARGS...`` would. The OAM address and CA come from
``LGUAPI_OAM`` (``host:port``) and ``LGUAPI_OAM_CA``.

Options (before PROGRAM only; everything after it belongs to the program):
``--events thread`` delivers events on a background thread instead of the creating
thread's message pump (sets ``LGUAPI_COMPAT_EVENTS``).

Exit status: the program's own; 2 for a usage error (no PROGRAM, a PROGRAM that is not a
file, an unknown option); 1 and the traceback when the program raises.
"""
from __future__ import annotations

import os
import runpy
import sys

from .com import EVENTS_ENV
from .standins import install

__all__ = ["main", "USAGE"]

USAGE = "usage: python -m lguapi.compat.run [--events pump|thread] PROGRAM [ARGS...]"


def main(argv: list[str] | None = None) -> int:
    """Run PROGRAM from ``argv`` (default ``sys.argv[1:]``); returns the exit status for usage errors."""
    args = list(sys.argv[1:] if argv is None else argv)
    events = None
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt in ("-h", "--help"):
            print(USAGE)
            print(__doc__.split("\n\n", 1)[1].strip())
            return 0
        if opt == "--events" and args and args[0] in ("pump", "thread"):
            events = args.pop(0)
        elif opt.startswith("--events=") and opt.split("=", 1)[1] in ("pump", "thread"):
            events = opt.split("=", 1)[1]
        else:
            return _usage(f"unknown option or value: {opt}")
    if not args:
        return _usage("no PROGRAM given")
    program = args[0]
    if not os.path.isfile(program):
        return _usage(f"PROGRAM is not a file: {program}")
    if events is not None:
        os.environ[EVENTS_ENV] = events
    install()
    sys.argv = [program, *args[1:]]
    sys.path[0] = os.path.dirname(os.path.abspath(program))
    runpy.run_path(program, run_name="__main__")
    return 0


def _usage(message: str) -> int:
    print(f"lguapi.compat.run: {message}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
