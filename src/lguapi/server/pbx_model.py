"""The PBX model's data: channels (legs), calls, conferences, forwards, and the command error.

These are plain slotted records; every rule that changes them lives in the engine
(:mod:`lguapi.server.pbx_calls` and the modules it builds on).
"""
from __future__ import annotations

from typing import Any

__all__ = [
    "PbxCommandError", "Leg", "Call", "Conference", "Forward",
    "NORMAL", "BUSY", "NO_ANSWER", "REJECTED", "TRUNK", "XFER_CONTEXT",
]

#: Q.850 clearing causes the model uses (docs/protocol.md §4.4, CHANNELOUT HCAUSE)
NORMAL = 16
BUSY = 17
NO_ANSWER = 19
REJECTED = 21

#: the peer name of the external trunk's channels (``SIP/gw2.eicn-09b25a90``, manual §5.1)
TRUNK = "gw2.eicn"
#: the dialplan context of attended-transfer Local channels (``Local/3458@xfercontext-...``, manual §3.12)
XFER_CONTEXT = "xfercontext"


class PbxCommandError(Exception):
    """A command the PBX cannot carry out; the server answers ``CMDERROR|CMD:<NAME>|MSG:<reason>``.

    >>> PbxCommandError("no current call").reason
    'no current call'
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Leg:
    """One channel: a phone's, the trunk's or a Local channel's, with the unique id it was born with.

    ``state`` is ``"ring"`` (a called phone or number is ringing), ``"dial"`` (the calling
    side waits for an answer), ``"up"`` (connected, conference included) or ``"hold"``
    (connected and on hold). ``src`` is the leg whose channel and unique id the leg's
    CHANNELOUT names as RECHANNEL/SRCUNIQUEID: the leg itself for a call's calling leg
    and for ringing legs, the calling leg for an answering one (manual §5.1–5.3).
    """

    __slots__ = ("name", "uid", "exten", "number", "kind", "call", "state", "src", "created", "up_at",
                 "timer", "record", "room", "forwarded", "invite", "alias", "alias_uid", "talk")

    def __init__(self, name: str, uid: str, exten: str | None, number: str, kind: str, call: Call,
                 state: str, created: float) -> None:
        self.name: str = name
        self.uid: str = uid
        self.exten: str | None = exten          # the owning extension; None for trunk and Local channels
        self.number: str = number        # what the other side sees as this party's number
        self.kind: str = kind            # "phone" | "trunk" | "local"
        self.call: Call = call
        self.state: str = state
        self.src: Leg = self
        self.created: float = created
        self.up_at: float | None = None
        self.timer: Any = None      # asyncio.TimerHandle of a ring timeout or an auto answer
        self.record: tuple[Any, ...] | None = None   # (start time, file name) while recording
        self.room: Conference | None = None
        self.forwarded: bool = False      # a ring caused by call forwarding (never forwarded again)
        self.invite: Conference | None = None  # a ring that joins this conference on answer
        self.alias: str | None = None          # the ";2" half of a Local channel
        self.alias_uid: str | None = None
        self.talk: float = 0.0             # seconds this leg was connected (set when it ends)

    def __repr__(self) -> str:
        return f"<Leg {self.name} {self.uid} {self.state}>"


class Call:
    """One call as a person sees it: from the first ring to the last hang-up, across transfers.

    ``id`` is the unique id of the channel that started it (the manual's N). ``kind`` is
    ``"call"``, ``"consult"`` (the second half of an attended transfer, merged into its
    ``parent`` or dropped) or ``"conference"`` (CALLWITHCONF).
    """

    __slots__ = ("id", "kind", "direction", "src", "dst", "inexten", "caller", "callee", "rings", "legs",
                 "state", "start", "answer", "end", "answered_by", "cause", "extens", "parent", "consult",
                 "transferer", "atxfer_cid", "transfers", "forwards", "busy", "rang", "dial_app", "room")

    #: the calling leg; whoever creates a call sets it at once, from the call's first leg (a
    #: leg needs its call to exist first), so it is never read unset
    caller: Leg

    def __init__(self, id: str, kind: str, direction: str, src: str, dst: str, inexten: str | None,
                 start: float) -> None:
        self.id: str = id
        self.kind: str = kind
        self.direction: str = direction      # "inbound" | "outbound" | "internal"
        self.src: str = src
        self.dst: str = dst
        self.inexten: str | None = inexten          # the dialled 070 number of an inbound external call
        self.callee: Leg | None = None
        self.rings: list[Leg] = []
        self.legs: list[Leg] = []       # every leg the call ever had, in creation order
        self.state: str = "ringing"          # ringing | up | held | transferring | conference | ended
        self.start: float = start
        self.answer: float | None = None
        self.end: float | None = None
        self.answered_by: str | None = None
        self.cause: int | None = None
        self.extens: dict[str, None] = {}   # involved extensions, in order (an ordered set)
        self.parent: Call | None = None
        self.consult: Call | None = None
        self.transferer: str | None = None
        self.atxfer_cid: str | None = None
        self.transfers: list[dict[str, Any]] = []
        self.forwards: list[dict[str, Any]] = []
        self.busy: list[str] = []       # extensions that were busy when this call tried them
        self.rang: dict[str, None] = {}  # extensions whose phone rang for this call
        self.dial_app: str = ""
        self.room: Conference | None = None

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.direction} {self.state}>"


class Conference:
    """A conference room: its members' legs in joining order and the rings that will join it."""

    __slots__ = ("room", "domain", "members", "invites", "host")

    def __init__(self, room: str, domain: str, host: Call) -> None:
        self.room: str = room
        self.domain: str = domain
        self.members: list[Leg] = []
        self.invites: list[Leg] = []
        self.host: Call = host    # the call new invitations belong to

    def __repr__(self) -> str:
        return f"<Conference {self.room} {len(self.members)} member(s)>"


class Forward:
    """One extension's call forwarding (SETFORWARD, manual §3.21).

    ``type``: 0 unconditional, 1 on no answer, 2 when busy, 3 ring both at once.
    ``start``/``end``: ``YYYYMMDD[HH[MM[SS]]]`` bounds (inclusive) or ``""`` for none.
    """

    __slots__ = ("type", "number", "start", "end")

    def __init__(self, type: int, number: str, start: str = "", end: str = "") -> None:
        self.type: int = type
        self.number: str = number
        self.start: str = start
        self.end: str = end

    def active(self, now14: str) -> bool:
        """Is the forward in force at ``now14`` (local time as ``YYYYMMDDHHMMSS``)?"""
        if self.start and now14 < self.start.ljust(14, "0"):
            return False
        if self.end and now14 > self.end.ljust(14, "9"):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "number": self.number, "start": self.start, "end": self.end}
