"""The record of a finished call: its ``snapshot()["history"]`` entry and its GETCALLHISTORY rows."""
from __future__ import annotations

import base64
import time
from typing import Any, TYPE_CHECKING

from .pbx_model import BUSY, Call

if TYPE_CHECKING:  # pragma: no cover
    from .accounts import Directory

__all__ = ["history_record", "history_rows", "local14", "b64name"]


def local14(t: float) -> str:
    """``t`` (epoch seconds) as local ``YYYYMMDDHHMMSS``."""
    return time.strftime("%Y%m%d%H%M%S", time.localtime(t))


def b64name(text: str) -> str:
    """The Base64 name field of a call-history row (cp949 bytes; UTF-8 for what cp949 lacks)."""
    try:
        raw = text.encode("cp949")
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def history_record(call: Call, disposition: str, ring: float, talk: float) -> dict[str, Any]:
    """The JSON-serialisable history entry of the finished ``call``."""
    return {
        "id": call.id, "direction": call.direction, "from": call.src, "to": call.dst,
        "inexten": call.inexten, "state": "ended", "answered": call.answer is not None,
        "answered_by": call.answered_by, "hangup_cause": call.cause, "disposition": disposition,
        "start": call.start, "answer": call.answer, "end": call.end,
        "ring_seconds": round(ring, 3), "talk_seconds": round(talk, 3),
        "extensions": list(call.extens), "rang": list(call.rang), "busy": list(call.busy),
        "legs": [{"channel": leg.name, "uniqueid": leg.uid, "exten": leg.exten, "number": leg.number}
                 for leg in call.legs],
        "transfers": list(call.transfers), "forwards": list(call.forwards),
        "conference": call.room.room if call.room is not None else None,
    }


def _display(directory: Directory, number: str) -> str:
    u = directory.by_exten(number)
    return (u.name or u.exten) if u is not None else number


def history_rows(directory: Directory, call: Call, ring: float) -> list[tuple[Any, ...]]:
    """GETCALLHISTORY rows of ``call``: one per extension it involved, from that extension's side.

    A row is ``(start, exten, domain, "inbound"|"outbound", name (Base64), other number,
    ring seconds, talk seconds, "OK"|"NO-ANS"|"BUSY")``. The calling phone's row is
    outbound; every other phone that rang, answered or was busy gets an inbound row.
    """
    by_exten = directory.by_exten
    first = call.legs[0]
    caller_exten = first.exten if first.kind == "phone" else None
    talk: dict[str, float] = {}
    for leg in call.legs:
        if leg.exten is not None and leg.up_at is not None:
            talk[leg.exten] = talk.get(leg.exten, 0.0) + leg.talk
    answered = call.answer is not None
    ring_s = int(ring)
    caller_name = b64name(_display(directory, call.src))
    rows = []
    for exten in call.extens:
        u = by_exten(exten)
        domain = u.domain if u is not None else ""
        if exten == caller_exten:
            result = "OK" if answered else "BUSY" if call.cause == BUSY else "NO-ANS"
            rows.append((call.start, exten, domain, "outbound", b64name(_display(directory, call.dst)), call.dst,
                         ring_s, int(talk.get(exten, 0.0)), result))
        else:
            result = "OK" if exten in talk else "BUSY" if exten in call.busy else "NO-ANS"
            rows.append((call.start, exten, domain, "inbound", caller_name, call.src, ring_s,
                         int(talk.get(exten, 0.0)), result))
    for exten in dict.fromkeys(call.busy):
        if exten not in call.extens:
            u = by_exten(exten)
            rows.append((call.start, exten, u.domain if u is not None else "", "inbound", caller_name,
                         call.src, 0, 0, "BUSY"))
    return rows
