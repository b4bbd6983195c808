"""Argument reading and validation shared by the PBX's command handlers (each failure a PbxCommandError)."""
from __future__ import annotations

import re
from typing import Any, TYPE_CHECKING

from .pbx_model import PbxCommandError

if TYPE_CHECKING:  # pragma: no cover
    from .accounts import User

__all__ = ["arg", "required", "check_agent", "number", "peer_list", "room_name", "date_bound", "int_arg",
           "free_text", "MAX_TEXT", "MAX_PEERS"]

#: what a dialled number may look like: digits and the odd letter (extensions like ``101t4004``,
#: the manual's masked ``01923XXXXX``), ``*``, ``#``, a leading ``+``
_NUMBER = re.compile(r"\+?[0-9A-Za-z*#-]{1,32}\Z")
_ROOM = re.compile(r"[0-9A-Za-z_.@/-]{1,40}\Z")
_DIGITS = re.compile(r"\d+\Z")
#: longest SMS / peer-message text (manual §3.19, docs/protocol.md §4.3)
MAX_TEXT = 200
#: most entries of one list argument (so that any per-peer answer fits one frame)
MAX_PEERS = 500


def arg(args: dict[str, Any], key: str, default: str = "") -> str:
    """The value of ``key`` (``default`` when absent)."""
    v = args.get(key)
    return default if v is None else v


def required(args: dict[str, Any], key: str) -> str:
    """The value of ``key``; absent or empty is ``PbxCommandError("missing argument KEY")``."""
    v = args.get(key)
    if not v:
        raise PbxCommandError(f"missing argument {key}")
    return v


def check_agent(user: User, args: dict[str, Any]) -> None:
    """``AGENT``, when given, must be the logged-in extension."""
    agent = args.get("AGENT")
    if agent and agent != user.exten:
        raise PbxCommandError(f"AGENT={agent} is not the logged-in extension {user.exten}")


def number(value: str, key: str) -> str:
    if not _NUMBER.match(value):
        raise PbxCommandError(f"malformed argument {key} (expected a phone number or extension)")
    return value


def peer_list(value: str, key: str = "PEERS") -> list[str]:
    """A comma-separated list, each entry a number; duplicates dropped, order kept; at most 500."""
    if not value:
        raise PbxCommandError(f"missing argument {key}")
    parts = value.split(",")
    if len(parts) > MAX_PEERS:
        raise PbxCommandError(f"{key} lists more than {MAX_PEERS} entries")
    out: dict[str, None] = {}
    for p in parts:
        p = p.strip()
        if not p:
            continue
        out[number(p, key)] = None
    if not out:
        raise PbxCommandError(f"missing argument {key}")
    return list(out)


def room_name(args: dict[str, Any]) -> str:
    room = required(args, "ROOM")
    if not _ROOM.match(room):
        raise PbxCommandError("malformed argument ROOM")
    return room


def int_arg(args: dict[str, Any], key: str, default: int | None = None, allowed=None) -> int:
    v = args.get(key, "")
    if v == "":
        if default is None:
            raise PbxCommandError(f"missing argument {key}")
        return default
    if not _DIGITS.match(v):
        raise PbxCommandError(f"malformed argument {key} (expected a number)")
    n = int(v)
    if allowed is not None and n not in allowed:
        raise PbxCommandError(f"malformed argument {key} (expected one of {', '.join(map(str, allowed))})")
    return n


def date_bound(args: dict[str, Any], key: str, *, end: bool) -> str:
    """A date/time bound as 14 digits (``""`` when absent), padded to the start or end of its unit.

    Accepts ``YYYYMMDD``, ``YYYYMMDDHH``, ``YYYYMMDDHHMM``, ``YYYYMMDDHHMMSS`` and the same
    with ``-``, ``:`` or ``T`` separators (``2011-09-02``, ``2011-09-02T10:00:00``).
    """
    v = args.get(key, "")
    if not v:
        return ""
    digits = v.replace("-", "").replace(":", "").replace("T", "")
    if not _DIGITS.match(digits) or len(digits) not in (8, 10, 12, 14):
        raise PbxCommandError(f"malformed argument {key} (expected YYYYMMDD[HH[MM[SS]]])")
    return digits.ljust(14, "9" if end else "0")


def free_text(args: dict[str, Any], key: str = "MSG") -> str:
    """SMS / peer-message text: present, at most 200 characters, no ``|``, CR or LF."""
    text = args.get(key)
    if not text:
        raise PbxCommandError(f"missing argument {key}")
    if len(text) > MAX_TEXT:
        raise PbxCommandError(f"{key} is longer than {MAX_TEXT} characters")
    if "|" in text or "\r" in text or "\n" in text:
        raise PbxCommandError(f"{key} must not contain a pipe, CR or LF (write line breaks as @@)")
    return text
