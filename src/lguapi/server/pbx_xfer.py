"""The transfer engine: blind and attended transfer, driving the call engine (manual §3.11–3.13).

Blind (TRANSFER): the transferring phone's leg ends (CHANNELOUT, 16) and the other party's
call rings the target, as the same call: RINGEVENT.UNIQUEID is the remaining party's id.

Attended (ATXFER/ATXFERCID): the other party is held and the transferring phone talks to a
consultation call through a Local channel pair ``Local/<exten>@xfercontext-<hex>;1/;2``.
The transferring phone gets CHANNELLIST at once (CHANNEL2 the ``;2`` half, no RINGEVENT);
the target rings from the ``;1`` half with ``ATXFER:<transferring exten>``. When the
transferring phone hangs up, the held party and the target are joined (both get
CHANNELLIST); if the target was still ringing, it rings again with the original call.
When the consultation fails (busy, no answer, rejected, hung up), the transferring phone
gets the original CHANNELLIST again.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .pbx_model import BUSY, NO_ANSWER, NORMAL, XFER_CONTEXT, Call, PbxCommandError, Leg
from .pbx_text import channel_list, channel_list_local

if TYPE_CHECKING:  # pragma: no cover
    from .accounts import User
    from .pbx_calls import CallEngine

__all__ = ["TransferEngine"]


def _parent(consult: Call) -> Call:
    """The call a consultation belongs to (set when the consultation is made)."""
    parent = consult.parent
    assert parent is not None, f"{consult!r} has no parent call"  # every consultation is made with one
    return parent


class TransferEngine:
    """Blind and attended transfer over the call engine ``core`` (its :class:`~.pbx_calls.TransferHooks`)."""

    def __init__(self, core: CallEngine) -> None:
        self.core = core

    def _transferable(self, leg: Leg) -> Leg:
        call = leg.call
        if call.kind != "call" or call.state not in ("up", "held") or leg.room is not None:
            raise PbxCommandError(f"call {call.id} cannot be transferred now (it is {call.state})")
        other = self.core.other_side(leg)
        if other is None or other.state == "gone":
            raise PbxCommandError("no other party to transfer")
        return other

    def blind_transfer(self, leg: Leg, user: User | None, number: str) -> None:
        """``leg``'s phone sends the other party to ``user`` (or the outside ``number``)."""
        other = self._transferable(leg)
        call = leg.call
        self.core.end_leg(leg, NORMAL)
        call.transfers.append({"type": "blind", "by": leg.exten, "to": number, "at": self.core.clock()})
        self._reroute(call, other, user, number)

    def _reroute(self, call: Call, party: Leg, user: User | None, number: str) -> None:
        """``party`` (still connected) now calls ``user``/``number`` as ``call``."""
        call.caller = party
        party.src = party
        party.state = "dial"
        call.callee = None
        call.state = "ringing"
        before = len(call.busy)
        self.core.route(call, user, user.exten if user is not None else number)
        if not call.rings:
            self.core.fail_call(call, BUSY if len(call.busy) > before else NO_ANSWER)

    def attended_transfer(self, leg: Leg, user: User, cid: str = "") -> Call:
        """``leg``'s phone consults ``user`` before handing the other party over."""
        other = self._transferable(leg)
        call = leg.call
        if call.consult is not None:
            raise PbxCommandError("an attended transfer is already in progress")
        by = leg.exten
        if by is None:
            raise PbxCommandError(f"{leg.name} is not a phone's channel: only a phone transfers")
        now = self.core.clock()
        exten = user.exten
        consult = Call("", "consult", "internal", by, exten, None, now)
        base = self.core.channel_name(f"Local/{exten}@{XFER_CONTEXT}", ";1")[:-2]
        loc = Leg(base + ";1", self.core.new_uid(), None, cid or by, "local", consult, "dial", now)
        loc.alias = base + ";2"
        loc.alias_uid = self.core.new_uid()
        self.core.channels[loc.name] = loc
        self.core.channels[loc.alias] = loc
        consult.id = loc.uid
        consult.caller = loc
        consult.legs.append(loc)
        consult.parent = call
        consult.transferer = by
        consult.atxfer_cid = cid or None
        call.consult = consult
        call.state = "transferring"
        other.state = "hold"
        leg.state = "up"
        self.core.emit(by, channel_list_local(leg, loc, exten))
        before = len(consult.busy)
        self.core.route(consult, user, exten)
        if not consult.rings:
            self.core.fail_call(consult, BUSY if len(consult.busy) > before else NO_ANSWER)
        return consult

    # -- consultation bookkeeping, and the hooks the call engine calls ----------------
    def _merge(self, call: Call, consult: Call) -> None:
        """The consultation's legs and rings become part of the original call's history."""
        call.consult = None
        call.legs.extend(consult.legs)
        for exten in consult.extens:
            call.extens[exten] = None
        for exten in consult.rang:
            call.rang[exten] = None
        call.busy.extend(consult.busy)
        call.forwards.extend(consult.forwards)
        consult.state = "ended"

    def consult_failed(self, consult: Call) -> None:
        """The target never joined (or left): the transferring phone is back with the held party."""
        call = _parent(consult)
        self.core.drop(consult.caller)
        if consult.callee is not None:
            self.core.end_leg(consult.callee, NORMAL)
        self._merge(call, consult)
        if call.state == "ended":
            return
        call.state = "up"
        for side in (call.caller, call.callee):
            if side is not None and side.state != "gone":
                side.state = "up"
        mine = self._transferer_leg(call, consult.transferer)
        if mine is not None and mine.exten is not None and call.callee is not None:
            self.core.emit(mine.exten, channel_list(call.caller, call.callee, call.inexten))

    def _transferer_leg(self, call: Call, exten: str | None) -> Leg | None:
        for side in (call.caller, call.callee):
            if side is not None and side.exten == exten and side.state != "gone":
                return side
        return None

    def consult_hangup(self, leg: Leg) -> None:
        """A connected leg of the consultation hung up: the Local channel or the target."""
        consult = leg.call
        rings, consult.rings = consult.rings, []
        for r in rings:
            self.core.end_leg(r, NORMAL)
        if leg.kind != "local":
            self.core.end_leg(leg, NORMAL)
            consult.callee = None
        self.consult_failed(consult)

    def parent_hangup(self, leg: Leg, consult: Call) -> None:
        """A leg of a call under attended transfer (``consult`` is its consultation) hung up:
        the transferring phone completes it; the held party's hang-up ends the original call
        and the consultation."""
        call = leg.call
        if leg.exten is not None and leg.exten == consult.transferer:
            self._complete(call, consult, leg)
            return
        rings, consult.rings = consult.rings, []
        for r in rings:
            self.core.end_leg(r, NORMAL)
        if consult.callee is not None:
            self.core.end_leg(consult.callee, NORMAL)
        self.core.drop(consult.caller)
        self._merge(call, consult)
        self.core.clear_call(call, leg, NORMAL)

    def _complete(self, call: Call, consult: Call, mine: Leg) -> None:
        party = self.core.other_side(mine)
        assert party is not None, f"{call!r} under transfer has one side"  # it was up when the transfer began
        self.core.end_leg(mine, NORMAL)
        self.core.drop(consult.caller)
        target = consult.dst
        self._merge(call, consult)
        call.transfers.append({"type": "attended", "by": mine.exten, "to": target, "at": self.core.clock()})
        b = consult.callee
        if b is None:
            rings, consult.rings = consult.rings, []
            for r in rings:
                self.core.end_leg(r, NORMAL)
            self._reroute(call, party, self.core.user_of(target), target)
            return
        call.caller = party
        party.src = party
        party.state = "up"
        b.call = call
        b.src = party
        b.state = "up"
        call.callee = b
        call.state = "up"
        if call.answered_by is None:
            call.answered_by = b.exten
        text = channel_list(party, b, call.inexten)
        if b.exten is not None:
            self.core.emit(b.exten, text)
        if party.exten is not None and party.exten != b.exten:
            self.core.emit(party.exten, text)
