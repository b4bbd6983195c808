"""lguapi.server: a local LGUBaseOpenApi server and PBX that behaves like the real one.

>>> from lguapi.server import Emulator, Directory
>>> emu = Emulator(Directory.generate("3001-3010"), port=0)   # doctest: +SKIP
>>> await emu.start(); print(emu.port)                        # doctest: +SKIP

``Pbx`` and ``PbxCommandError`` (the PBX model) and ``run_all`` (everything behind
``lguapi serve``) load on first use.
"""
from __future__ import annotations

from typing import Any

from .accounts import Directory, User, generated_id, generated_password
from .emulator import Emulator, LoginGuard
from .session import Command, CommandSyntaxError, Session, parse_command

__all__ = [
    "Emulator", "Directory", "User", "Session", "LoginGuard", "Command", "CommandSyntaxError", "parse_command",
    "generated_id", "generated_password", "Pbx", "PbxCommandError", "run_all",
]


def __getattr__(name: str) -> Any:
    if name in ("Pbx", "PbxCommandError"):
        from . import pbx

        return getattr(pbx, name)
    if name == "run_all":
        from . import cli

        return cli.run_all
    raise AttributeError(f"module 'lguapi.server' has no attribute {name!r}")
