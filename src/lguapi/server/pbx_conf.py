"""The conference engine: rooms over the call engine (manual §3.14–3.17).

A room holds legs. REDIRECTCONF moves both legs of a connected call into it; INVITECONF
(members only) and CALLWITHCONF ring extensions (and, for CALLWITHCONF, outside numbers),
which join on answer. Every join and leave is a CONFERENCEEVENT (CONFMEMBERADD /
CONFMEMBERDEL with the member count after the change) to every extension in the room,
the leaving one included; a leaving leg then gets its CHANNELOUT. A room closes when its
last member leaves; a call finishes when its last leg is gone.

Invitations are originated: the invited phone rings on a channel of its own (RINGEVENT
with RECHANNEL and UNIQUEID of that same channel, CALLERID the inviting extension) and
joins on that channel when answered.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .pbx_model import NORMAL, TRUNK, Call, PbxCommandError, Conference, Leg
from .pbx_text import conference_event

if TYPE_CHECKING:  # pragma: no cover
    from .accounts import User
    from .pbx_calls import CallEngine

__all__ = ["ConferenceEngine"]


class ConferenceEngine:
    """Conference rooms over the call engine ``core`` (its :class:`~.pbx_calls.ConferenceHooks`)."""

    def __init__(self, core: CallEngine) -> None:
        self.core = core
        self.rooms: dict[tuple[str, str], Conference] = {}

    def room(self, domain: str, room: str) -> Conference | None:
        return self.rooms.get((domain, room))

    def _tell_room(self, conf: Conference, text: str, also: Leg | None = None) -> None:
        seen = set()
        for m in conf.members:
            e = m.exten
            if e is not None and e not in seen:
                seen.add(e)
                self.core.emit(e, text)
        if also is not None and also.exten is not None and also.exten not in seen:
            self.core.emit(also.exten, text)

    def _join(self, conf: Conference, leg: Leg) -> None:
        leg.state = "up"
        leg.room = conf
        if leg.up_at is None:
            leg.up_at = self.core.clock()
        conf.members.append(leg)
        self._tell_room(conf, conference_event(True, conf.room, leg, len(conf.members)))

    def leave(self, leg: Leg, conf: Conference, cause: int) -> None:
        conf.members.remove(leg)
        leg.room = None
        self._tell_room(conf, conference_event(False, conf.room, leg, len(conf.members)), also=leg)
        self.core.end_leg(leg, cause)
        if not conf.members:
            self._close_room(conf)
        self.core.maybe_finish(leg.call)

    def _close_room(self, conf: Conference) -> None:
        if self.rooms.get((conf.domain, conf.room)) is conf:
            del self.rooms[(conf.domain, conf.room)]
        invites, conf.invites = conf.invites, []
        for r in invites:
            r.invite = None
            self.core.end_leg(r, NORMAL)
            self.core.maybe_finish(r.call)

    # -- commands -----------------------------------------------------------------------
    def redirect_conference(self, leg: Leg, domain: str, room: str, *, must_exist: bool = False) -> Conference:
        """Move ``leg``'s connected two-party call (both legs) into ``room``."""
        call = leg.call
        if call.kind != "call" or call.state not in ("up", "held") or leg.room is not None:
            raise PbxCommandError(f"no connected two-party call to move (call {call.id} is {call.state})")
        other = self.core.other_side(leg)
        conf = self.room(domain, room)
        if conf is None:
            if must_exist:
                raise PbxCommandError(f"no conference {room}")
            conf = Conference(room, domain, call)
            self.rooms[(domain, room)] = conf
        call.state = "conference"
        if call.room is None:
            call.room = conf
        self._join(conf, leg)
        if other is not None and other.state != "gone":
            self._join(conf, other)
        return conf

    def _host(self, conf: Conference) -> Call:
        """The live call new legs of ``conf`` belong to (the room may outlive the call that opened it)."""
        if conf.host.state == "ended" and conf.members:
            conf.host = conf.members[0].call
        return conf.host

    def invite(self, conf: Conference, user: User, by: str) -> bool:
        """Ring ``user``'s phone to join ``conf``; False when it is busy."""
        exten = user.exten
        call = self._host(conf)
        if self.core.phones.get(exten):
            call.busy.append(exten)
            return False
        r = self.core.new_leg(exten, exten, exten, "phone", call, "ring")
        r.invite = conf
        conf.invites.append(r)
        call.rang[exten] = None
        self.core.emit(exten, f"RINGEVENT|ISDIAL:0|CHANNEL:{r.name}|RECHANNEL:{r.name}|INEXTEN:null|AGENT:{exten}"
                          f"|CALLERID:{by}|UNIQUEID:{r.uid}")
        if self.core.ring_timeout:
            r.timer = self.core.later(self.core.ring_timeout, self.core.ring_timed_out, r)
        return True

    def invite_external(self, conf: Conference, number: str) -> None:
        """Call the outside ``number`` into ``conf`` (it joins when the far end answers)."""
        call = self._host(conf)
        t = self.core.new_leg(TRUNK, None, number, "trunk", call, "ring")
        t.invite = conf
        conf.invites.append(t)
        if self.core.auto_answer is not None:
            t.timer = self.core.later(self.core.auto_answer, self.core.auto_answered, t)

    def call_with_conference(self, user: User, room: str, peers: list[tuple[User | None, str]]) -> Call:
        """CALLWITHCONF: ``user``'s phone goes into a new ``room`` and every peer is called into it."""
        if self.room(user.domain, room) is not None:
            raise PbxCommandError(f"conference {room} is in use")
        now = self.core.clock()
        direction = "internal" if all(u is not None for u, _ in peers) else "outbound"
        call = Call("", "conference", direction, user.exten, room, None, now)
        a = self.core.new_leg(user.exten, user.exten, user.exten, "phone", call, "up")
        call.id = a.uid
        call.caller = a
        call.state = "conference"
        self.core.calls[call.id] = call
        conf = Conference(room, user.domain, call)
        self.rooms[(user.domain, room)] = conf
        call.room = conf
        self._join(conf, a)
        for u, number in peers:
            if u is not None:
                self.invite(conf, u, user.exten)
            else:
                self.invite_external(conf, number)
        return call

    def remove_from_conference(self, conf: Conference, legs: list[Leg]) -> None:
        for leg in legs:
            if leg.room is conf:
                self.leave(leg, conf, NORMAL)

    # -- hooks of the call engine -------------------------------------------------------
    def answer_invite(self, r: Leg, conf: Conference, by: str | None) -> None:
        self.core.unring(r, conf.invites)
        r.invite = None
        call = r.call
        if self.rooms.get((conf.domain, conf.room)) is not conf:
            self.core.end_leg(r, NORMAL)
            self.core.maybe_finish(call)
            return
        if by is not None and by != r.exten:
            b = self.core.new_leg(by, by, by, "phone", call, "up")
            self.core.end_leg(r, NORMAL)
        else:
            b = r
        if call.answer is None:
            call.answer = self.core.clock()
        if call.answered_by is None and b.exten is not None:
            call.answered_by = b.exten
        self._join(conf, b)

    def end_invite(self, r: Leg, conf: Conference, cause: int) -> None:
        r.invite = None
        self.core.unring(r, conf.invites)
        self.core.end_leg(r, cause)
        self.core.maybe_finish(r.call)
