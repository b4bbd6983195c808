"""The PBX's call engine: channels and unique ids, ringing, answering, hanging up, holding,
forwarding, pickup and recording (finished calls are recorded by :mod:`.pbx_history`).

The transfer and conference engines (:mod:`.pbx_xfer`, :mod:`.pbx_conf`) are composed with it
by :class:`~.pbx.Pbx`: they drive it through its public methods, and it hands them the legs
that are theirs through the :class:`TransferHooks` and :class:`ConferenceHooks` protocols.
Every event goes out through ``deliver(exten, text)`` in the order a phone would see it;
the texts come from :mod:`.pbx_text`. Nothing here knows about sockets or commands.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Protocol

from .pbx_history import history_record, history_rows, local14
from .pbx_model import BUSY, NO_ANSWER, NORMAL, REJECTED, TRUNK, Call, Conference, Forward, Leg, PbxCommandError
from .pbx_text import cdr_event, channel_list, channel_out, ring_in, ring_out

if TYPE_CHECKING:  # pragma: no cover
    from .accounts import Directory, User

__all__ = ["CallEngine", "TransferHooks", "ConferenceHooks"]

log: logging.Logger = logging.getLogger("lguapi.server.pbx")

#: connected and ringing leg states, most "current" first (what a phone's buttons act on)
ACTIVE = ("up", "hold", "dial", "ring")


class TransferHooks(Protocol):
    """What the call engine asks of the transfer engine (legs of an attended transfer)."""

    def consult_failed(self, consult: Call) -> None: ...
    def consult_hangup(self, leg: Leg) -> None: ...
    def parent_hangup(self, leg: Leg, consult: Call) -> None: ...


class ConferenceHooks(Protocol):
    """What the call engine asks of the conference engine (room members and invitations)."""

    def answer_invite(self, r: Leg, conf: Conference, by: str | None) -> None: ...
    def end_invite(self, r: Leg, conf: Conference, cause: int) -> None: ...
    def leave(self, leg: Leg, conf: Conference, cause: int) -> None: ...


class CallEngine:
    """The state of every phone, channel and call, and the rules that change it.

    Public attributes tests and tools may set: ``clock`` (epoch seconds; stamps unique ids
    and history), ``rng`` (draws channel suffixes), ``sequence`` (the last unique-id
    sequence number given out; the next id is ``sequence + 1``), ``ring_timeout``,
    ``auto_answer``.
    """

    def __init__(self, directory: Directory, *, deliver: Callable[[str, str], None], ring_timeout: float | None,
                 auto_answer: float | None, clock: Callable[[], float], rng: random.Random | None,
                 online: Callable[[str], bool], history_limit: int) -> None:
        self.directory = directory
        self.deliver = deliver
        self.ring_timeout = ring_timeout
        self.auto_answer = auto_answer
        self.clock = clock
        self.rng: random.Random = rng if rng is not None else random.Random()
        self.online = online
        self.sequence: int = 0
        self.channels: dict[str, Leg] = {}      # live channels by name (both Local halves)
        self.phones: dict[str, list[Leg]] = {}  # extension -> its live legs
        self.calls: dict[str, Call] = {}        # live calls by id
        self.forwards: dict[str, Forward] = {}
        self.history: deque[dict[str, Any]] = deque(maxlen=history_limit)
        #: call-history rows: (start, exten, domain, "inbound"|"outbound", name, number, ring, talk, result)
        self.rows: deque[tuple[Any, ...]] = deque(maxlen=history_limit * 2)
        #: finished recordings: dicts with time, exten, peer, seconds, file, inout, uniqueid
        self.recordings: deque[dict[str, Any]] = deque(maxlen=history_limit)
        #: extension -> calls it answered (GETQSTATUS)
        self.answered_calls: dict[str, int] = {}
        self._no_loop_warned = False
        # set by attach(): the Pbx builds this engine first, then the two that use it
        self.transfers: TransferHooks
        self.conferences: ConferenceHooks

    def attach(self, transfers: TransferHooks, conferences: ConferenceHooks) -> None:
        """Give the engine the transfer and conference engines it hands their legs to."""
        self.transfers = transfers
        self.conferences = conferences

    # -- plumbing -----------------------------------------------------------------------
    def emit(self, exten: str, text: str) -> None:
        try:
            self.deliver(exten, text)
        except Exception:  # a broken session must not leave the PBX half-updated
            log.exception("deliver of a %s event failed", text.split("|", 1)[0])

    def later(self, delay: float, fn: Callable[..., Any], *args: Any) -> asyncio.TimerHandle | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if not self._no_loop_warned:
                self._no_loop_warned = True
                log.debug("no running event loop: ring timeouts and auto answers are off")
            return None
        return loop.call_later(delay, self._fire, fn, args)

    def _fire(self, fn, args) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("PBX timer %s failed", getattr(fn, "__name__", fn))

    def new_uid(self) -> str:
        self.sequence += 1
        return f"{int(self.clock())}.{self.sequence}"

    def channel_name(self, prefix: str, tail: str = "") -> str:
        channels = self.channels
        while True:
            name = f"{prefix}-{self.rng.getrandbits(32):08x}{tail}"
            if name not in channels:
                return name

    def new_leg(self, peer: str, exten: str | None, number: str, kind: str, call: Call, state: str) -> Leg:
        """A new channel ``SIP/<peer>-<8 hex>`` with the next unique id, registered with ``call``."""
        name = self.channel_name("SIP/" + peer)
        leg = Leg(name, self.new_uid(), exten, number, kind, call, state, self.clock())
        self.channels[name] = leg
        call.legs.append(leg)
        if exten is not None:
            lst = self.phones.get(exten)
            if lst is None:
                self.phones[exten] = [leg]
            else:
                lst.append(leg)
            call.extens[exten] = None
        return leg

    def drop(self, leg: Leg) -> None:
        """Forget ``leg`` without any event (its channel is gone)."""
        if leg.state == "gone":
            return
        if self.channels.get(leg.name) is leg:
            del self.channels[leg.name]
        if leg.alias is not None and self.channels.get(leg.alias) is leg:
            del self.channels[leg.alias]
        if leg.timer is not None:
            leg.timer.cancel()
            leg.timer = None
        if leg.exten is not None:
            lst = self.phones.get(leg.exten)
            if lst is not None:
                try:
                    lst.remove(leg)
                except ValueError:
                    pass
                if not lst:
                    del self.phones[leg.exten]
        if leg.record is not None:
            self._save_record(leg, leg.record)
        if leg.up_at is not None:
            leg.talk = self.clock() - leg.up_at
        leg.state = "gone"

    @staticmethod
    def unring(r: Leg, rings: list[Any]) -> None:
        """``r`` stops ringing: its timer is cancelled and it leaves ``rings`` (if it is there)."""
        if r.timer is not None:
            r.timer.cancel()
            r.timer = None
        try:
            rings.remove(r)
        except ValueError:
            pass

    def end_leg(self, leg: Leg, cause: int) -> None:
        """``leg`` hangs up: its phone gets the CHANNELOUT."""
        if leg.state == "gone":
            return
        self.drop(leg)
        if leg.exten is not None:
            self.emit(leg.exten, channel_out(leg, cause))

    # -- lookups ------------------------------------------------------------------------
    def user_of(self, number: str) -> User | None:
        """The user an extension or 070 number belongs to."""
        d = self.directory
        return d.by_exten(number) or d.by_callerid(number)

    def active_leg(self, exten: str, states: tuple[str, ...] = ACTIVE) -> Leg | None:
        """The leg of ``exten``'s phone its buttons act on: connected first, then dialing, ringing."""
        legs = self.phones.get(exten)
        if not legs:
            return None
        for st in states:
            for leg in reversed(legs):
                if leg.state == st:
                    return leg
        return None

    def is_free(self, exten: str) -> bool:
        """Can ``exten`` start a call (nothing ringing, dialing or connected; held calls allowed)?"""
        return all(leg.state == "hold" for leg in self.phones.get(exten, ()))

    def phone_state(self, exten: str) -> str:
        """``idle``, ``ringing``, ``talking`` or ``held``: the state of the phone's current call."""
        legs = self.phones.get(exten)
        if not legs:
            return "idle"
        best = 0
        for leg in legs:
            st = leg.state
            rank = 3 if st == "up" else 2 if st in ("ring", "dial") else 1
            if rank > best:
                best = rank
        return ("held", "ringing", "talking")[best - 1]

    def forward_of(self, exten: str) -> Forward | None:
        fw = self.forwards.get(exten)
        if fw is None or not fw.active(local14(self.clock())):
            return None
        return fw

    def other_side(self, leg: Leg) -> Leg | None:
        call = leg.call
        if leg is call.caller:
            return call.callee
        return call.caller

    # -- starting calls -----------------------------------------------------------------
    def dial(self, user: User, number: str, cid: str = "") -> Call:
        """``user``'s phone calls ``number`` (an extension, a 070 number of ours, or outside)."""
        target = self.user_of(number)
        internal = target is not None
        now = self.clock()
        call = Call("", "call", "internal" if internal else "outbound", user.exten, number, None, now)
        shown = user.exten if internal else (cid or user.callerid or user.exten)
        a = self.new_leg(user.exten, user.exten, shown, "phone", call, "dial")
        call.id = a.uid
        call.caller = a
        self.calls[call.id] = call
        before = len(call.busy)
        self.route(call, target, target.exten if target is not None else number)
        if not call.rings:
            self.fail_call(call, BUSY if len(call.busy) > before else NO_ANSWER, caller_first=True)
        return call

    def incoming(self, from_number: str, user: User, dialled: str) -> Call:
        """An outside caller ``from_number`` calls ``user`` (dialled as ``dialled``) over the trunk."""
        now = self.clock()
        call = Call("", "call", "inbound", from_number, dialled, user.callerid or None, now)
        t = self.new_leg(TRUNK, None, from_number, "trunk", call, "dial")
        call.id = t.uid
        call.caller = t
        self.calls[call.id] = call
        before = len(call.busy)
        self.route(call, user, user.exten)
        if not call.rings:
            self.fail_call(call, BUSY if len(call.busy) > before else NO_ANSWER, caller_first=True)
        return call

    # -- ringing ------------------------------------------------------------------------
    def route(self, call: Call, user: User | None, number: str, forwarded: bool = False) -> None:
        """Ring ``user``'s phone for ``call`` (or the outside ``number`` when ``user`` is None),
        applying the user's call forwarding. Busy targets are noted in ``call.busy``."""
        if user is None:
            self._ring_external(call, number)
            return
        exten = user.exten
        fw = None if forwarded else self.forward_of(exten)
        if fw is not None and fw.type == 0:
            self._forward(call, exten, fw)
            return
        if self.phones.get(exten):
            call.busy.append(exten)
            if fw is not None and fw.type in (2, 3):
                self._forward(call, exten, fw)
            return
        self._ring_phone(call, user, forwarded)
        if fw is not None and fw.type == 3:
            self._forward(call, exten, fw)

    def _forward(self, call: Call, exten: str, fw: Forward) -> None:
        call.forwards.append({"from": exten, "to": fw.number, "type": fw.type})
        target = self.user_of(fw.number)
        self.route(call, target, target.exten if target is not None else fw.number, forwarded=True)

    def _ring_phone(self, call: Call, user: User, forwarded: bool) -> None:
        exten = user.exten
        caller = call.caller
        r = self.new_leg(exten, exten, exten, "phone", call, "ring")
        r.forwarded = forwarded
        call.rings.append(r)
        call.rang[exten] = None
        self.emit(exten, ring_in(r, caller, call.transferer))
        if caller.exten is not None:
            self.emit(caller.exten, ring_out(r, caller))
        rt = self.ring_timeout
        if rt:
            r.timer = self.later(rt, self.ring_timed_out, r)
        call.dial_app = f"Dial(SIP/{exten}|{int(rt or 0)}|)"

    def _ring_external(self, call: Call, number: str) -> None:
        caller = call.caller
        t = self.new_leg(TRUNK, None, number, "trunk", call, "ring")
        call.rings.append(t)
        if caller.exten is not None:
            self.emit(caller.exten, ring_out(t, caller))
        if self.auto_answer is not None:
            t.timer = self.later(self.auto_answer, self.auto_answered, t)
        call.dial_app = f"Dial(SIP/{number}@{TRUNK}|{int(self.ring_timeout or 0)}|)"

    def auto_answered(self, t: Leg) -> None:
        t.timer = None
        if t.state == "ring":
            self.answer(t)

    def ring_timed_out(self, r: Leg) -> None:
        r.timer = None
        if r.state != "ring":
            return
        if r.invite is not None:
            self.conferences.end_invite(r, r.invite, NO_ANSWER)
            return
        call = r.call
        exten = r.exten
        fw = None if r.forwarded or exten is None else self.forward_of(exten)
        self._end_ring(r, NO_ANSWER)
        before = len(call.busy)
        if fw is not None and fw.type == 1 and exten is not None:
            self._forward(call, exten, fw)
        if not call.rings and call.callee is None:
            self.fail_call(call, BUSY if len(call.busy) > before else NO_ANSWER)

    def _end_ring(self, r: Leg, cause: int) -> None:
        self.unring(r, r.call.rings)
        self.end_leg(r, cause)

    def fail_call(self, call: Call, cause: int, caller_first: bool = False) -> None:
        """``call`` ends without (another) answer: ringing legs and the calling leg go."""
        caller = call.caller
        if caller_first and call.kind != "consult":
            self.end_leg(caller, cause)
        rings, call.rings = call.rings, []
        for r in rings:
            self.end_leg(r, cause)
        if call.kind == "consult":
            self.transfers.consult_failed(call)
            return
        self.end_leg(caller, cause)
        self._finish(call, cause)

    # -- answering ----------------------------------------------------------------------
    def answer(self, r: Leg, by: str | None = None) -> None:
        """Ringing leg ``r`` is answered by its phone, or picked up by extension ``by``.

        A phone that answers gets a NEW channel with its own unique id (manual §5.2); the
        trunk answers on the channel that rang (manual §5.1). Both sides get the same
        CHANNELLIST; other ringing legs of the call then end (CHANNELOUT, cause 16).
        """
        if r.invite is not None:
            self.conferences.answer_invite(r, r.invite, by)
            return
        exten = by or r.exten
        if r.kind != "trunk" and exten is None:
            raise PbxCommandError(f"{r.name} has no phone to answer it")
        call = r.call
        self.unring(r, call.rings)
        now = self.clock()
        picked = None
        if r.kind == "trunk" or exten is None:
            b = r
            b.state = "up"
        else:
            if exten == r.exten:
                self.drop(r)
            else:
                picked = r
            b = self.new_leg(exten, exten, exten, "phone", call, "up")
        caller = call.caller
        b.src = caller
        b.up_at = now
        caller.state = "up"
        if caller.up_at is None:
            caller.up_at = now
        call.callee = b
        call.state = "up"
        if call.answer is None:
            call.answer = now
        if call.answered_by is None and b.exten is not None:
            call.answered_by = b.exten
        text = channel_list(caller, b, call.inexten)
        if caller.exten is not None:
            self.emit(caller.exten, text)
        if b.exten is not None and b.exten != caller.exten:
            self.emit(b.exten, text)
        others, call.rings = call.rings, []
        if picked is not None:
            self.end_leg(picked, NORMAL)
        for o in others:
            self.end_leg(o, NORMAL)

    def ringing_at(self, exten: str) -> Leg | None:
        """The oldest leg ringing at ``exten``'s phone."""
        for leg in self.phones.get(exten, ()):
            if leg.state == "ring":
                return leg
        return None

    def ringing_in_group(self, user: User) -> Leg | None:
        """The oldest ringing leg at another phone of ``user``'s pickup group (same domain)."""
        group = user.pickup_group
        if not group:
            return None
        best = None
        for exten, legs in self.phones.items():
            if exten == user.exten:
                continue
            for leg in legs:
                if leg.state == "ring" and (best is None or leg.created < best.created):
                    u = self.directory.by_exten(exten)
                    if u is not None and u.pickup_group == group and u.domain == user.domain:
                        best = leg
        return best

    # -- hanging up ---------------------------------------------------------------------
    def hangup(self, leg: Leg, ring_cause: int = REJECTED) -> None:
        """``leg`` hangs up. A ringing leg rejects (``ring_cause``, 21); a calling leg that
        is still waiting gives up (16, ringing legs end too); a connected call ends for both (16)."""
        if leg.state == "gone":
            return
        if leg.room is not None:
            self.conferences.leave(leg, leg.room, NORMAL)
            return
        call = leg.call
        if leg.state == "ring":
            if leg.invite is not None:
                self.conferences.end_invite(leg, leg.invite, ring_cause)
                return
            self._end_ring(leg, ring_cause)
            if not call.rings and call.callee is None:
                self.fail_call(call, ring_cause)
            return
        if call.kind == "consult":
            self.transfers.consult_hangup(leg)
            return
        if call.consult is not None:
            self.transfers.parent_hangup(leg, call.consult)
            return
        if leg is call.caller and call.callee is None:
            self.fail_call(call, NORMAL, caller_first=True)
            return
        self.clear_call(call, leg, NORMAL)

    def clear_call(self, call: Call, first: Leg, cause: int) -> None:
        """A connected two-party call ends: ``first`` hung up, the other side follows."""
        other = call.callee if first is call.caller else call.caller
        self.end_leg(first, cause)
        if other is not None:
            self.end_leg(other, cause)
        self._finish(call, cause)

    # -- holding, recording -------------------------------------------------------------
    def hold(self, leg: Leg) -> bool:
        call = leg.call
        if call.state != "up" or leg.state != "up" or leg.room is not None or call.kind != "call":
            return False
        call.state = "held"
        for side in (call.caller, call.callee):
            if side is not None:
                side.state = "hold"
        return True

    def unhold(self, leg: Leg) -> bool:
        call = leg.call
        if call.state != "held":
            return False
        call.state = "up"
        for side in (call.caller, call.callee):
            if side is not None and side.state == "hold":
                side.state = "up"
        return True

    def start_record(self, leg: Leg) -> bool:
        if leg.record is not None:
            return False
        now = self.clock()
        leg.record = (now, f"{local14(now)}-{leg.exten}-{leg.uid}.wav")
        return True

    def stop_record(self, leg: Leg) -> bool:
        if leg.record is None:
            return False
        self._save_record(leg, leg.record)
        return True

    def _save_record(self, leg: Leg, record: tuple[Any, ...]) -> None:
        start, file = record
        leg.record = None
        call = leg.call
        if leg.room is not None:
            peer = leg.room.room
        else:
            other = self.other_side(leg)
            peer = other.number if other is not None else ""
        outbound = call.direction != "inbound" and leg.exten == call.src
        self.recordings.append({"time": start, "exten": leg.exten, "peer": peer,
                                "seconds": int(self.clock() - start), "file": file,
                                "inout": "outbound" if outbound else "inbound", "uniqueid": leg.uid})

    # -- the end of a call --------------------------------------------------------------
    def maybe_finish(self, call: Call) -> None:
        if call.state == "ended" or call.kind == "consult":
            return
        for leg in call.legs:
            if leg.state != "gone":
                return
        self._finish(call, NORMAL)

    def _finish(self, call: Call, cause: int) -> None:
        """Record the finished ``call`` and send the CDREVENT to every extension it involved."""
        if call.state == "ended":
            return
        now = self.clock()
        call.state = "ended"
        call.end = now
        call.cause = cause
        self.calls.pop(call.id, None)
        answer = call.answer
        disposition = "ANSWERED" if answer is not None else "BUSY" if cause == BUSY else "NO ANSWER"
        ring = (answer if answer is not None else now) - call.start
        talk = now - answer if answer is not None else 0.0
        self.history.append(history_record(call, disposition, ring, talk))
        answered_calls = self.answered_calls
        for row in history_rows(self.directory, call, ring):
            self.rows.append(row)
            if row[8] == "OK" and row[3] == "inbound":
                answered_calls[row[1]] = answered_calls.get(row[1], 0) + 1
        text = cdr_event(call, disposition, int(now - call.start), int(talk))
        for exten in call.extens:
            self.emit(exten, text)

