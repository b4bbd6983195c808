"""Typed results of the query commands (docs/protocol.md §4.3, §7), parsed from CMDRESULT events.

Per-peer answers (``CMDRESULT|CMD:GETPEERINFO|3456:OK:CONN|3457:OK:NOT``) become one
frozen dataclass per peer; row answers (split CMDRESULTs closed by CMDRESULTEND) become
one per row, fields separated by ``^``.

>>> from lgucore import tokenize
>>> from lguapi.events import parse_event
>>> ev = parse_event(tokenize(b"CMDRESULT|CMD:GETPEERINFO|3456:OK:CONN|3457:OK:NOT"))
>>> parse_peer_info(ev)["3456"].connected
True
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from .events import CommandResultEvent, opt, opt_int

__all__ = [
    "PeerInfo", "PeerStatus", "HistoryRow", "SmsRow", "QueueMember", "RecordRow", "ConfMember", "VarInfo",
    "ForwardResult", "rows_of", "parse_peer_info", "parse_status_peers", "parse_call_history",
    "parse_history_count", "parse_recv_sms_list", "parse_queue_status", "parse_record_list",
    "parse_conference_members", "parse_var_info", "parse_forward", "parse_delivery", "parse_time",
]

_NOT_PEER = frozenset({"RES", "MSG", "CMD"})
_ROW_SPLIT = re.compile(r"\r\n|\r|\n")


def parse_time(text: str | None) -> datetime | None:
    """``2011-11-12 20:39:19`` or ``20111112203919`` (also ``YYYYMMDD[HH[MM]]``) -> datetime, else None."""
    if not text:
        return None
    s = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d%H%M", "%Y%m%d%H",
                "%Y%m%d"):
        try:
            return datetime.strptime(s, fmt)
        except ValueError:
            continue
    return None


class _Timed:
    time: str

    @property
    def timestamp(self) -> datetime | None:
        """``time`` as a naive local :class:`datetime` (None when it does not parse)."""
        return parse_time(self.time)


@dataclass(frozen=True)
class PeerInfo:
    """GETPEERINFO of one extension: ``<peer>:<registration>:<api session>`` (``3456:OK:CONN``)."""

    peer: str
    registration: str | None
    session: str | None

    @property
    def registered(self) -> bool:
        """The phone is registered with the PBX (``OK``)."""
        return self.registration == "OK"

    @property
    def connected(self) -> bool:
        """An API client is logged in for the extension (``CONN``)."""
        return self.session == "CONN"


@dataclass(frozen=True)
class PeerStatus:
    """GETSTATUSPEERS of one extension: state (``Up``, ``Down``, ``Ring``, ``Ringing``...) and application."""

    peer: str
    state: str | None
    app: str | None

    def as_tuple(self) -> tuple[str, str | None, str | None]:
        """``(peer, state, app)``."""
        return (self.peer, self.state, self.app)


@dataclass(frozen=True)
class HistoryRow(_Timed):
    """One GETCALLHISTORY row: ``time^name(Base64)^exten^inbound|outbound^ring^talk^result^0^0``.

    ``name`` is decoded (session charset); ``name_b64`` keeps the wire text.
    """

    time: str
    name: str | None
    exten: str | None
    direction: str | None
    ring_seconds: int | None
    talk_seconds: int | None
    result: str | None
    name_b64: str = ""
    extra: tuple[str, ...] = ()
    raw: str = ""


@dataclass(frozen=True)
class SmsRow(_Timed):
    """One GETRECVSMSLIST row: ``time^from^type^delivery result^message``."""

    time: str
    sender: str | None
    type: str | None
    result: str | None
    message: str
    raw: str = ""


@dataclass(frozen=True)
class QueueMember:
    """GETQSTATUS of one member: ``<member>:<state>:<calls>``."""

    member: str
    state: str | None
    calls: int | None


@dataclass(frozen=True)
class RecordRow(_Timed):
    """One GETRECORDLIST row: ``time^exten^peer^seconds^file``."""

    time: str
    exten: str | None
    peer: str | None
    seconds: int | None
    file: str | None
    raw: str = ""


@dataclass(frozen=True)
class ConfMember:
    """GETLISTCONFMEMBER of one member: ``<member>:<channel>``."""

    member: str
    channel: str | None


@dataclass(frozen=True)
class VarInfo:
    """GETVARINFO: ``NAME:`` and ``VALUE:``."""

    name: str | None
    value: str | None


@dataclass(frozen=True)
class ForwardResult:
    """SETFORWARD: ``RES:IFW <detail>`` (forwarding set) or ``RES:DFW <detail>`` (cleared)."""

    code: str | None
    detail: str

    @property
    def enabled(self) -> bool:
        return self.code == "IFW"


# --- parsing ------------------------------------------------------------------------


def _peer_fields(ev: CommandResultEvent):
    for k, v in ev.fields:
        if k is None or k in _NOT_PEER:
            continue
        yield k, v


def rows_of(pieces: Iterable[CommandResultEvent]) -> list[str]:
    """The rows of a (split) result: every piece's RES joined, split at CR/LF, empty rows dropped."""
    text = "".join(p.res or "" for p in pieces)
    return [r for r in _ROW_SPLIT.split(text) if r.strip()]


def parse_peer_info(ev: CommandResultEvent) -> dict[str, PeerInfo]:
    """``{peer: PeerInfo}`` in wire order."""
    out: dict[str, PeerInfo] = {}
    for k, v in _peer_fields(ev):
        reg, _, sess = v.partition(":")
        out[k] = PeerInfo(k, opt(reg), opt(sess))
    return out


def parse_status_peers(ev: CommandResultEvent) -> list[PeerStatus]:
    """One :class:`PeerStatus` per ``<peer>:<state>:<app>`` field (the app keeps later colons)."""
    out = []
    for k, v in _peer_fields(ev):
        state, _, app = v.partition(":")
        out.append(PeerStatus(k, opt(state), opt(app)))
    return out


def _b64_name(s: str, charset: str) -> str | None:
    s = s.strip()
    if not s:
        return None
    try:
        raw = base64.b64decode(s + "=" * (-len(s) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.decode(charset, "replace")


def _field(parts: list[str], i: int) -> str | None:
    return opt(parts[i].strip()) if i < len(parts) else None


def parse_call_history(rows: Iterable[str], *, charset: str = "cp949") -> list[HistoryRow]:
    """Rows of GETCALLHISTORY; a row with a trailing ``^`` reads the same as without."""
    out = []
    for row in rows:
        parts = row.strip().split("^")
        while len(parts) > 7 and parts[-1] == "":
            parts.pop()
        name_b64 = parts[1].strip() if len(parts) > 1 else ""
        out.append(HistoryRow(
            time=parts[0].strip(), name=_b64_name(name_b64, charset), exten=_field(parts, 2),
            direction=_field(parts, 3), ring_seconds=opt_int(_field(parts, 4)), talk_seconds=opt_int(_field(parts, 5)),
            result=_field(parts, 6), name_b64=name_b64, extra=tuple(parts[7:]), raw=row))
    return out


def parse_history_count(pieces: Iterable[CommandResultEvent]) -> int:
    """GETCALLHISTORY with INOUT=9: ``RES:<count>`` -> int (ValueError when it is not a number)."""
    text = "".join(p.res or "" for p in pieces).strip()
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"GETCALLHISTORY count is not a number: {text[:40]!r}") from None


def parse_recv_sms_list(rows: Iterable[str]) -> list[SmsRow]:
    """Rows of GETRECVSMSLIST; the message is the rest of the row (it may contain ``^``)."""
    out = []
    for row in rows:
        parts = row.split("^", 4)
        out.append(SmsRow(time=parts[0].strip(), sender=_field(parts, 1), type=_field(parts, 2),
                          result=_field(parts, 3), message=parts[4] if len(parts) > 4 else "", raw=row))
    return out


def parse_record_list(rows: Iterable[str]) -> list[RecordRow]:
    out = []
    for row in rows:
        parts = row.strip().split("^")
        out.append(RecordRow(time=parts[0].strip(), exten=_field(parts, 1), peer=_field(parts, 2),
                             seconds=opt_int(_field(parts, 3)), file=_field(parts, 4), raw=row))
    return out


def parse_queue_status(ev: CommandResultEvent) -> list[QueueMember]:
    out = []
    for k, v in _peer_fields(ev):
        state, _, calls = v.partition(":")
        out.append(QueueMember(k, opt(state), opt_int(calls)))
    return out


def parse_conference_members(ev: CommandResultEvent) -> list[ConfMember]:
    return [ConfMember(k, opt(v)) for k, v in _peer_fields(ev)]


def parse_var_info(ev: CommandResultEvent) -> VarInfo:
    return VarInfo(opt(ev.get("NAME")), opt(ev.get("VALUE")))


def parse_forward(ev: CommandResultEvent) -> ForwardResult:
    res = (ev.res or "").strip()
    code, _, detail = res.partition(" ")
    return ForwardResult(opt(code), detail.strip())


def parse_delivery(ev: CommandResultEvent) -> dict[str, str]:
    """SENDSMS / SENDPEERMSG: ``{peer: status}`` (``3458:OK``, ``3457:NOT``; an SMS answer
    ``01012345678:RES:sms Send SUCCESS(...)`` reads ``sms Send SUCCESS(...)``); a bare ``RES``
    is kept under the key ``"RES"`` when no per-peer field is present."""
    out = {k: (v[4:] if v.startswith("RES:") else v) for k, v in _peer_fields(ev)}
    if not out and ev.res is not None:
        out["RES"] = ev.res
    return out
