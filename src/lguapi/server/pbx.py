"""The emulator's in-memory PBX: every command of docs/protocol.md §4.3 (but LOGIN), the outside
world's hooks (callers, handsets, SMS) and a JSON snapshot of phones, channels, calls and history.

It knows nothing about sockets: the server hands it commands and gives it ``deliver`` to
send events to an extension's sessions. See ``docs/emulator-pbx.md`` for the model and
every flow with its event texts.

>>> from lguapi.server.accounts import Directory
>>> events = []
>>> pbx = Pbx(Directory.generate("3321-3322"), deliver=lambda exten, text: events.append((exten, text)))
>>> call_id = pbx.phone_dial("3322", "3321")
>>> [(e, t.split("|")[0]) for e, t in events]
[('3321', 'RINGEVENT'), ('3322', 'RINGEVENT')]
>>> pbx.phone_answer("3321"); pbx.phone_hangup("3322")
>>> pbx.snapshot()["history"][0]["answered_by"]
'3321'
"""
from __future__ import annotations

import random
import re
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from .pbx_calls import CallEngine
from .pbx_commands import CALL_COMMANDS
from .pbx_conf import ConferenceEngine
from .pbx_lookups import LOOKUP_COMMANDS, LookupEngine
from .pbx_model import REJECTED, Call, Conference, Forward, Leg, PbxCommandError
from .pbx_services import SERVICE_COMMANDS, ServiceEngine
from .pbx_text import dtmf_event
from .pbx_xfer import TransferEngine

if TYPE_CHECKING:  # pragma: no cover
    from .accounts import Directory, User

__all__ = ["Pbx", "PbxCommandError", "COMMANDS"]

#: every command the PBX answers (LOGIN and PONG belong to the session)
COMMANDS: dict[str, Callable[..., Any]] = {**CALL_COMMANDS, **SERVICE_COMMANDS, **LOOKUP_COMMANDS}
#: commands that also come in the pipe form ``CMD|<NAME>|<value>...`` (SendSIPCommand)
PIPE_FORMS = frozenset({"HANGUP"})

_CALLER = re.compile(r"\+?[0-9A-Za-z*#-]{1,32}\Z")
_DTMF = re.compile(r"[0-9*#A-Da-d]+\Z")
_MAX_SMS_IN = 2000


def _via(engine: str, name: str, *, settable: bool = False) -> Any:
    """A :class:`Pbx` attribute that is ``self.<engine>.<name>`` (read, and written if ``settable``)."""

    def get(self: Pbx) -> Any:
        return getattr(getattr(self, engine), name)

    def put(self: Pbx, value: Any) -> None:
        setattr(getattr(self, engine), name, value)

    return property(get, put if settable else None, doc=f"``{engine}.{name}``")


class Pbx:
    """The in-memory PBX (see the module docstring and ``docs/emulator-pbx.md``).

    Args:
        directory: the accounts (extensions, 070 numbers, domains, pickup groups).
        deliver: ``deliver(exten, text)`` sends an event to every session of ``exten``.
        ring_timeout: seconds a phone rings before the call fails with cause 19 (or is
            forwarded on no answer); ``None`` or 0: phones ring until something happens.
        auto_answer: seconds after which outside numbers answer; ``None``: they ring until
            :meth:`external_answer` (or a hang-up).
        clock: epoch seconds (unique ids, history, forwarding windows).
        rng: draws the 8-hex channel suffixes (seed it for reproducible runs).
        online: ``online(exten)`` -- is an API session logged in (GETPEERINFO, SENDPEERMSG).
        max_plain: the most characters of one CMDRESULT piece of a split result.
        max_userinfo_bytes: characters (keys plus values) SETUSERINFO may store per extension;
            a SETUSERINFO past it is refused with CMDERROR (default 64 KiB).
        max_addressbook: MAGADDRLIST entries per domain; an add past it is refused (default 5000).
        history_limit: finished calls (and recordings) kept; older ones are dropped.

    Timers (ring timeouts, auto answers) use the running asyncio loop; without one they are off.

    The PBX is composed of engines, each in its own module: ``core`` (:class:`CallEngine`:
    phones, channels, calls, ringing, answering, hanging up, holding, forwarding, pickup,
    recording, history), ``transfers`` (:class:`TransferEngine`), ``conferences``
    (:class:`ConferenceEngine`), ``lookups`` (:class:`LookupEngine`) and ``services``
    (:class:`ServiceEngine`). The call engine hands attended-transfer and conference legs to
    the other two through typed protocols. The command handlers and the outside world (the
    admin interface, the traffic generator) use the Pbx, which forwards the names below to
    the engine that owns them.
    """

    # the call engine's state and rules
    directory: Directory = _via("core", "directory")
    deliver: Callable[[str, str], None] = _via("core", "deliver")
    online: Callable[[str], bool] = _via("core", "online")
    clock: Callable[[], float] = _via("core", "clock", settable=True)
    rng: random.Random = _via("core", "rng", settable=True)
    sequence: int = _via("core", "sequence", settable=True)
    ring_timeout: float | None = _via("core", "ring_timeout", settable=True)
    auto_answer: float | None = _via("core", "auto_answer", settable=True)
    channels: dict[str, Leg] = _via("core", "channels")
    phones: dict[str, list[Leg]] = _via("core", "phones")
    calls: dict[str, Call] = _via("core", "calls")
    forwards: dict[str, Forward] = _via("core", "forwards")
    history: deque[dict[str, Any]] = _via("core", "history")
    rows: deque[tuple[Any, ...]] = _via("core", "rows")
    recordings: deque[dict[str, Any]] = _via("core", "recordings")
    answered_calls: dict[str, int] = _via("core", "answered_calls")
    emit: Callable[[str, str], None] = _via("core", "emit")
    other_side: Callable[[Leg], Leg | None] = _via("core", "other_side")
    user_of: Callable[[str], User | None] = _via("core", "user_of")
    active_leg: Callable[..., Leg | None] = _via("core", "active_leg")
    is_free: Callable[[str], bool] = _via("core", "is_free")
    phone_state: Callable[[str], str] = _via("core", "phone_state")
    forward_of: Callable[[str], Forward | None] = _via("core", "forward_of")
    ringing_at: Callable[[str], Leg | None] = _via("core", "ringing_at")
    ringing_in_group: Callable[[User], Leg | None] = _via("core", "ringing_in_group")
    dial: Callable[..., Call] = _via("core", "dial")
    incoming: Callable[[str, User, str], Call] = _via("core", "incoming")
    answer: Callable[..., None] = _via("core", "answer")
    hangup: Callable[..., None] = _via("core", "hangup")
    hold: Callable[[Leg], bool] = _via("core", "hold")
    unhold: Callable[[Leg], bool] = _via("core", "unhold")
    start_record: Callable[[Leg], bool] = _via("core", "start_record")
    stop_record: Callable[[Leg], bool] = _via("core", "stop_record")
    # transfers and conferences
    blind_transfer: Callable[[Leg, User | None, str], None] = _via("transfers", "blind_transfer")
    attended_transfer: Callable[..., Call] = _via("transfers", "attended_transfer")
    rooms: dict[tuple[str, str], Conference] = _via("conferences", "rooms")
    room: Callable[[str, str], Conference | None] = _via("conferences", "room")
    redirect_conference: Callable[..., Conference] = _via("conferences", "redirect_conference")
    invite: Callable[[Conference, User, str], bool] = _via("conferences", "invite")
    invite_external: Callable[[Conference, str], None] = _via("conferences", "invite_external")
    call_with_conference: Callable[[User, str, list[tuple[User | None, str]]], Call] = _via("conferences", "call_with_conference")
    remove_from_conference: Callable[[Conference, list[Leg]], None] = _via("conferences", "remove_from_conference")
    # lookups and services
    max_plain: int = _via("lookups", "max_plain", settable=True)
    inbox: dict[str, deque[Any]] = _via("services", "inbox")
    sent_sms: deque[dict[str, Any]] = _via("services", "sent_sms")
    addressbook: dict[str, dict[int, dict[str, Any]]] = _via("services", "addressbook")
    addressbook_next: dict[str, int] = _via("services", "addressbook_next")
    uservars: dict[str, dict[str, str]] = _via("services", "uservars")
    max_userinfo_bytes: int = _via("services", "max_userinfo_bytes", settable=True)
    max_addressbook: int = _via("services", "max_addressbook", settable=True)

    def __init__(self, directory: Directory, *, deliver: Callable[[str, str], None], ring_timeout: float | None = 60.0,
                 auto_answer: float | None = None, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, online: Callable[[str], bool] = lambda exten: False,
                 max_plain: int = 8192, history_limit: int = 10000, max_userinfo_bytes: int = 64 * 1024,
                 max_addressbook: int = 5000) -> None:
        if ring_timeout is not None and ring_timeout < 0:
            raise ValueError("ring_timeout must be >= 0 or None")
        if auto_answer is not None and auto_answer < 0:
            raise ValueError("auto_answer must be >= 0 or None")
        if history_limit < 1:
            raise ValueError("history_limit must be >= 1")
        self.core: CallEngine = CallEngine(directory, deliver=deliver, ring_timeout=ring_timeout, auto_answer=auto_answer,
                               clock=clock, rng=rng, online=online, history_limit=history_limit)
        self.transfers: TransferEngine = TransferEngine(self.core)
        self.conferences: ConferenceEngine = ConferenceEngine(self.core)
        self.core.attach(self.transfers, self.conferences)
        self.lookups: LookupEngine = LookupEngine(max_plain=max_plain)
        self.services: ServiceEngine = ServiceEngine(history_limit=history_limit, max_userinfo_bytes=max_userinfo_bytes,
                                      max_addressbook=max_addressbook)
        self._commands: dict[str, Callable[..., Any]] = {**CALL_COMMANDS, **self.lookups.commands, **self.services.commands}

    def __repr__(self) -> str:
        return f"<Pbx {len(self.calls)} call(s) {len(self.channels)} channel(s) {len(self.history)} finished>"

    # -- commands from sessions ---------------------------------------------------------
    def command(self, user: User, name: str, args: dict[str, Any], positional: list[Any], reply: Callable[[str], None]) -> None:
        """Carry out command ``name`` for ``user``; ``reply`` answers the issuing session.

        Raises :class:`PbxCommandError` for an unknown command, a missing or malformed argument,
        no current call, an unknown channel, and whatever else the PBX cannot do.
        """
        handler = self._commands.get(name)
        if handler is None:
            raise PbxCommandError(f"unknown command {name}")
        if positional and name not in PIPE_FORMS:
            raise PbxCommandError(f"{name} has no pipe form (HANGUP is the only command that has one)")
        handler(self, user, args, positional, reply)

    # -- the outside world --------------------------------------------------------------
    def _user(self, exten: str) -> User:
        u = self.directory.by_exten(exten)
        if u is None:
            raise KeyError(f"unknown extension {exten!r}")
        return u

    def _call(self, call_id: str) -> Call:
        call = self.calls.get(call_id)
        if call is None:
            raise KeyError(f"no call {call_id!r} (it ended or never existed)")
        return call

    def external_call(self, from_number: str, to: str) -> str:
        """An outside caller ``from_number`` dials ``to`` (a 070 number or an extension); the call id."""
        if not isinstance(from_number, str) or not _CALLER.match(from_number):
            raise ValueError("the caller's number must be 1 to 32 digits (letters, *, # and a leading + allowed)")
        user = self.user_of(to) if isinstance(to, str) else None
        if user is None:
            raise KeyError(f"no extension or 070 number {to!r}")
        return self.incoming(from_number, user, to).id

    def external_answer(self, call_id: str) -> None:
        """The outside number that call ``call_id`` rings answers."""
        call = self._call(call_id)
        for leg in call.legs:
            if leg.kind == "trunk" and leg.state == "ring":
                self.answer(leg)
                return
        raise ValueError(f"call {call_id} has no outside number ringing")

    def external_hangup(self, call_id: str) -> None:
        """The outside party of call ``call_id`` hangs up (or declines while it rings: cause 21)."""
        call = self._call(call_id)
        legs = [leg for leg in call.legs if leg.kind == "trunk" and leg.state != "gone"]
        if not legs:
            raise ValueError(f"call {call_id} has no outside party")
        for leg in legs:
            self.hangup(leg, REJECTED)

    def phone_answer(self, exten: str) -> None:
        """The handset of ``exten`` answers the call ringing there (the oldest, if several)."""
        self._user(exten)
        ring = self.ringing_at(exten)
        if ring is None:
            raise ValueError(f"nothing is ringing at {exten}")
        self.answer(ring)

    def phone_hangup(self, exten: str) -> None:
        """The handset of ``exten`` hangs up its current call (a ringing one is rejected: 21)."""
        self._user(exten)
        leg = self.active_leg(exten)
        if leg is None:
            raise ValueError(f"{exten} has no call")
        self.hangup(leg, REJECTED)

    def phone_dtmf(self, exten: str, digits: str) -> None:
        """The handset of ``exten`` presses ``digits``: one DTMFEVENT per digit to it and the other party."""
        self._user(exten)
        if not isinstance(digits, str) or not _DTMF.match(digits):
            raise ValueError("digits must be 0-9, *, # or A-D")
        leg = self.active_leg(exten, ("up",))
        if leg is None:
            raise ValueError(f"{exten} has no connected call")
        other = None if leg.room is not None else self.other_side(leg)
        to_other = other.exten if other is not None and other.exten not in (None, exten) else None
        for d in digits.upper():
            text = dtmf_event(leg, d)
            self.emit(exten, text)
            if to_other is not None:
                self.emit(to_other, text)

    def phone_dial(self, exten: str, number: str) -> str:
        """The handset of ``exten`` dials ``number`` (an extension, a 070 number or outside); the call id."""
        user = self._user(exten)
        if not isinstance(number, str) or not _CALLER.match(number):
            raise ValueError("the number must be 1 to 32 digits (letters, *, # and a leading + allowed)")
        if number in (user.exten, user.callerid):
            raise ValueError(f"{exten} cannot call itself")
        if not self.is_free(exten):
            raise ValueError(f"{exten} is busy")
        return self.dial(user, number).id

    def inbound_sms(self, from_number: str, to: str, text: str) -> None:
        """An SMS from ``from_number`` to ``to`` (a 070 number or extension): RECVSMS to its owner."""
        if not isinstance(from_number, str) or not _CALLER.match(from_number):
            raise ValueError("the sender's number must be 1 to 32 digits")
        owner = (self.directory.by_callerid(to) or self.directory.by_exten(to)) if isinstance(to, str) else None
        if owner is None:
            raise KeyError(f"no extension or 070 number {to!r}")
        if not isinstance(text, str) or not text:
            raise ValueError("the SMS text must not be empty")
        if len(text) > _MAX_SMS_IN or "|" in text or "\r" in text or "\n" in text:
            raise ValueError(f"the SMS text must be at most {_MAX_SMS_IN} characters without '|', CR or LF")
        smsto = owner.callerid or to
        delivered = self.online(owner.exten)
        box = self.inbox.get(owner.exten)
        if box is None:
            box = self.inbox[owner.exten] = deque(maxlen=self.history.maxlen)
        box.append((self.clock(), from_number, text, delivered))
        self.emit(owner.exten, f"RECVSMS|FROM:{from_number}|MESSAGE:{text}|SMSTO:{smsto}")

    # -- state ----------------------------------------------------------------------------
    @staticmethod
    def _leg_dict(leg: Leg) -> dict[str, Any]:
        d = {"channel": leg.name, "uniqueid": leg.uid, "exten": leg.exten, "number": leg.number,
             "kind": leg.kind, "state": leg.state}
        if leg.alias is not None:
            d["channel2"] = leg.alias
            d["uniqueid2"] = leg.alias_uid
        if leg.room is not None:
            d["conference"] = leg.room.room
        if leg.record is not None:
            d["recording"] = leg.record[1]
        return d

    def _call_dict(self, call: Call) -> dict[str, Any]:
        live = [self._leg_dict(leg) for leg in call.legs if leg.state != "gone"]
        d: dict[str, Any] = {"id": call.id, "kind": call.kind, "direction": call.direction, "from": call.src, "to": call.dst,
             "inexten": call.inexten, "state": call.state, "start": call.start, "answer": call.answer,
             "answered_by": call.answered_by, "legs": live, "extensions": list(call.extens),
             "conference": call.room.room if call.room is not None else None}
        if call.consult is not None:
            d["consult"] = self._call_dict(call.consult)
        return d

    def snapshot(self) -> dict[str, Any]:
        """Phones, live channels and calls, conferences, forwards and finished calls (JSON-serialisable)."""
        phones = {}
        for u in self.directory.users():
            leg = self.active_leg(u.exten)
            phones[u.exten] = {
                "state": self.phone_state(u.exten),
                "channel": leg.name if leg is not None else None,
                "uniqueid": leg.uid if leg is not None else None,
                "calls": list(dict.fromkeys((leg.call.parent or leg.call).id for leg in self.phones.get(u.exten, ()))),
                "online": bool(self.online(u.exten)),
            }
        seen = set()
        channels = []
        for leg in self.channels.values():
            if id(leg) not in seen:
                seen.add(id(leg))
                d = self._leg_dict(leg)
                d["call"] = (leg.call.parent or leg.call).id
                channels.append(d)
        return {
            "phones": phones,
            "channels": channels,
            "calls": [self._call_dict(c) for c in self.calls.values()],
            "conferences": [{"room": c.room, "domain": c.domain,
                             "members": [self._leg_dict(m) for m in c.members],
                             "invites": [self._leg_dict(r) for r in c.invites]} for c in self.rooms.values()],
            "forwards": {e: fw.to_dict() for e, fw in self.forwards.items()},
            "history": list(self.history),
        }

    def close(self) -> None:
        """Cancel every timer (the calls stay as they are)."""
        for leg in list(self.channels.values()):
            if leg.timer is not None:
                leg.timer.cancel()
                leg.timer = None
