"""The PBX's event texts, field for field as docs/protocol.md §4.4 and manual §5 print them.

Each builder is one f-string: these run for every simulated event, so they stay lean.

>>> split_result("GETCALLHISTORY", ["a^1", "b^2", "c^3"], max_plain=40)
['CMDRESULT|CMD:GETCALLHISTORY|RES:a^1\\n', 'CMDRESULT|CMD:GETCALLHISTORY|RES:b^2\\n', 'CMDRESULT|CMD:GETCALLHISTORY|RES:c^3', 'CMDRESULTEND|CMD:GETCALLHISTORY']
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from .pbx_model import Call, Leg

__all__ = [
    "ring_in", "ring_out", "channel_list", "channel_list_local", "channel_out", "conference_event",
    "cdr_event", "dtmf_event", "split_result", "cmd_result",
]


def ring_in(ring: Leg, caller: Leg, atxfer: str | None = None) -> str:
    """RINGEVENT ISDIAL:0 for the phone of ``ring``: it rings with a call from ``caller``.

    INEXTEN is ``null`` as in manual §5.2 (the dialled 070 number comes with CHANNELLIST).
    """
    if atxfer is None:
        return (f"RINGEVENT|ISDIAL:0|CHANNEL:{ring.name}|RECHANNEL:{caller.name}|INEXTEN:null|AGENT:{ring.exten}"
                f"|CALLERID:{caller.number}|UNIQUEID:{caller.uid}")
    return (f"RINGEVENT|ISDIAL:0|CHANNEL:{ring.name}|RECHANNEL:{caller.name}|INEXTEN:null|AGENT:{ring.exten}"
            f"|ATXFER:{atxfer}|CALLERID:{caller.number}|UNIQUEID:{caller.uid}")


def ring_out(ring: Leg, caller: Leg) -> str:
    """RINGEVENT ISDIAL:1 for the calling phone of ``caller``: ``ring`` (a phone or the trunk) rings."""
    return (f"RINGEVENT|ISDIAL:1|CHANNEL:{ring.name}|RECHANNEL:{caller.name}|INEXTEN:null|AGENT:{caller.exten}"
            f"|CALLERID:{ring.number}|UNIQUEID:{caller.uid}")


def channel_list(caller: Leg, callee: Leg, inexten: str | None) -> str:
    """CHANNELLIST: ``caller`` and ``callee`` are connected (the same text for both sides)."""
    return (f"CHANNELLIST|CHANNEL1:{caller.name}|CHANNEL2:{callee.name}|CALLER1ID:{caller.number}"
            f"|CALLER2ID:{callee.number}|INEXTEN:{inexten or 'null'}|UNIQUEID1:{caller.uid}|UNIQUEID2:{callee.uid}")


def channel_list_local(own: Leg, local: Leg, target: str) -> str:
    """CHANNELLIST of an attended transfer for the transferring phone: CHANNEL2 is the ``;2`` half."""
    return (f"CHANNELLIST|CHANNEL1:{own.name}|CHANNEL2:{local.alias}|CALLER1ID:{own.exten}"
            f"|CALLER2ID:{target}|INEXTEN:null|UNIQUEID1:{own.uid}|UNIQUEID2:{local.alias_uid}")


def channel_out(leg: Leg, cause: int) -> str:
    """CHANNELOUT of ``leg``: RECHANNEL/SRCUNIQUEID name ``leg.src`` (itself, or the calling leg)."""
    src = leg.src
    return (f"CHANNELOUT|CHANNEL:{leg.name}|RECHANNEL:{src.name}|UNIQUEID:{leg.uid}"
            f"|SRCUNIQUEID:{src.uid}|HCAUSE:{cause}")


def conference_event(add: bool, room: str, leg: Leg, count: int) -> str:
    """CONFERENCEEVENT CONFMEMBERADD/CONFMEMBERDEL (manual §3.14); MEMBER is the extension or number."""
    return (f"CONFERENCEEVENT|CMD:{'CONFMEMBERADD' if add else 'CONFMEMBERDEL'}|CONFNAME:{room}"
            f"|CHANNEL:{leg.name}|UNIQUEID:{leg.uid}|COUNT:{count}|MEMBER:{leg.exten or leg.number}")


def cdr_event(call: Call, disposition: str, duration: int, billsec: int) -> str:
    """CDREVENT after a call: the first channel and unique id, source, destination, outcome, seconds."""
    first = call.legs[0]
    return (f"CDREVENT|CHANNEL:{first.name}|UNIQUEID:{first.uid}|SRC:{call.src}|DST:{call.dst}"
            f"|DISPOSITION:{disposition}|DURATION:{duration}|BILLSEC:{billsec}")


def dtmf_event(leg: Leg, digit: str) -> str:
    return f"DTMFEVENT|CHANNEL:{leg.name}|UNIQUEID:{leg.uid}|DIGIT:{digit}"


def cmd_result(name: str, *fields: str) -> str:
    """``CMDRESULT|CMD:<name>|<field>|...``."""
    if not fields:
        return f"CMDRESULT|CMD:{name}"
    return f"CMDRESULT|CMD:{name}|" + "|".join(fields)


def split_result(name: str, rows: Iterable[str], max_plain: int) -> list[str]:
    """The texts of a split result (docs/protocol.md §7): CMDRESULT pieces, then CMDRESULTEND.

    Rows are joined by LF inside ``RES``; a piece that is continued ends in LF. A piece
    holds as many whole rows as fit ``max_plain`` characters (at least one row, so a row
    longer than the bound travels alone). No rows: one ``RES:`` piece that is empty.
    """
    head = f"CMDRESULT|CMD:{name}|RES:"
    budget = max(1, max_plain - len(head))
    pieces: list[str] = []
    cur: list[str] = []
    size = 0
    for row in rows:
        n = len(row) + 1
        if cur and size + n > budget:
            pieces.append(head + "\n".join(cur) + "\n")
            cur = []
            size = 0
        cur.append(row)
        size += n
    pieces.append(head + "\n".join(cur))
    pieces.append(f"CMDRESULTEND|CMD:{name}")
    return pieces
