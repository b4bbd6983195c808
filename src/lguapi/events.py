"""Typed events: one frozen dataclass per event of docs/protocol.md §4.4.

Wire names stay at the wire: ``RINGEVENT|ISDIAL:1|RECHANNEL:...`` becomes
``RingEvent(is_dial=True, remote_channel=...)``. ``null`` and empty values read as
``None``; every event keeps its ``raw`` text, the ``exten`` of the session that
received it and the local time ``ts`` it arrived. Unknown names arrive as
:class:`UnknownEvent`. Connection-state events (not on the wire) live here too.

>>> from lgucore import tokenize
>>> ev = parse_event(tokenize(b"CHANNELOUT|CHANNEL:SIP/3321-09b559d8|UNIQUEID:1319339029.484|HCAUSE:16"))
>>> ev.channel, ev.hangup_cause
('SIP/3321-09b559d8', 16)
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar

if TYPE_CHECKING:
    from lgucore import Message

from lgucore.fields import FIELD_FLAG, FIELD_INT, FIELD_TEXT, Builder, field_int

__all__ = [
    "Event", "LoginResultEvent", "RingEvent", "ChannelListEvent", "ChannelOutEvent",
    "CommandResultEvent", "CommandResultEndEvent", "ConferenceEvent", "PeerMessageEvent",
    "SmsEvent", "CdrEvent", "DtmfEvent", "PingEvent", "ByeEvent", "CommandErrorEvent",
    "UnknownEvent", "ConnectionEvent", "Connected", "LoggedIn", "Disconnected", "Reconnecting",
    "Reconnected", "Reconciled", "parse_event", "with_login_exten", "EVENT_TYPES", "opt", "opt_int",
]


_now = time.time


def opt(v: str | None) -> str | None:
    """``None`` for a missing, empty or ``null`` value, else the value."""
    if v is None or v == "" or v == "null":
        return None
    return v


def opt_int(v: str | None) -> int | None:
    """An integer, or ``None`` when missing, empty, ``null``, not a number or beyond signed 64 bits
    (lgucore's rule for integer fields: no field means such a number)."""
    v = opt(v)
    if v is None:
        return None
    return field_int(v)


@dataclass(frozen=True)
class Event:
    """Base of every event. ``raw`` is the text as received (the body, decoded)."""

    NAME: ClassVar[str] = ""
    name: str = field(default="", kw_only=True)
    raw: str = field(default="", kw_only=True, repr=False)
    exten: str | None = field(default=None, kw_only=True, compare=False)
    ts: float = field(default_factory=time.time, kw_only=True, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name and self.NAME:
            object.__setattr__(self, "name", self.NAME)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: ``{"event": <class name>, <python names>...}``."""
        d: dict[str, Any] = {"event": type(self).__name__}
        for k, v in self.__dict__.items():
            if isinstance(v, tuple):
                v = [list(x) if isinstance(x, tuple) else x for x in v]
            d[k] = v
        return d


@dataclass(frozen=True)
class LoginResultEvent(Event):
    NAME: ClassVar[str] = "LOGINRESULT"
    status: int | None = None
    exten_number: str | None = None
    caller_id: str | None = None
    domain: str | None = None
    msg: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status > 0


@dataclass(frozen=True)
class RingEvent(Event):
    NAME: ClassVar[str] = "RINGEVENT"
    is_dial: bool | None = None
    channel: str | None = None
    remote_channel: str | None = None
    inbound_number: str | None = None
    agent: str | None = None
    atxfer: str | None = None
    caller_id: str | None = None
    unique_id: str | None = None


@dataclass(frozen=True)
class ChannelListEvent(Event):
    NAME: ClassVar[str] = "CHANNELLIST"
    channel1: str | None = None
    channel2: str | None = None
    caller1_id: str | None = None
    caller2_id: str | None = None
    inbound_number: str | None = None
    unique_id1: str | None = None
    unique_id2: str | None = None


@dataclass(frozen=True)
class ChannelOutEvent(Event):
    NAME: ClassVar[str] = "CHANNELOUT"
    channel: str | None = None
    remote_channel: str | None = None
    unique_id: str | None = None
    src_unique_id: str | None = None
    hangup_cause: int | None = None


@dataclass(frozen=True)
class CommandResultEvent(Event):
    """``CMDRESULT``: ``cmd`` plus every other field in order (``fields``); ``res`` is RES's value."""

    NAME: ClassVar[str] = "CMDRESULT"
    cmd: str | None = None
    res: str | None = None
    fields: tuple[tuple[str | None, str], ...] = ()

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of the first field named ``key``, else ``default``."""
        for k, v in self.fields:
            if k == key:
                return v
        return default


@dataclass(frozen=True)
class CommandResultEndEvent(Event):
    NAME: ClassVar[str] = "CMDRESULTEND"
    cmd: str | None = None


@dataclass(frozen=True)
class ConferenceEvent(Event):
    NAME: ClassVar[str] = "CONFERENCEEVENT"
    action: str | None = None  # CONFMEMBERADD / CONFMEMBERDEL (wire CMD)
    conf_name: str | None = None
    channel: str | None = None
    unique_id: str | None = None
    count: int | None = None
    member: str | None = None


@dataclass(frozen=True)
class PeerMessageEvent(Event):
    """``RECVPEERMSG``; ``text`` has ``@@`` turned into line breaks, ``message`` is as sent."""

    NAME: ClassVar[str] = "RECVPEERMSG"
    sender: str | None = None
    message: str | None = None

    @property
    def text(self) -> str:
        return (self.message or "").replace("@@", "\n")


@dataclass(frozen=True)
class SmsEvent(Event):
    NAME: ClassVar[str] = "RECVSMS"
    sender: str | None = None
    message: str | None = None
    to: str | None = None


@dataclass(frozen=True)
class CdrEvent(Event):
    NAME: ClassVar[str] = "CDREVENT"
    channel: str | None = None
    unique_id: str | None = None
    src: str | None = None
    dst: str | None = None
    disposition: str | None = None
    duration: int | None = None
    billsec: int | None = None


@dataclass(frozen=True)
class DtmfEvent(Event):
    NAME: ClassVar[str] = "DTMFEVENT"
    channel: str | None = None
    unique_id: str | None = None
    digit: str | None = None


@dataclass(frozen=True)
class PingEvent(Event):
    NAME: ClassVar[str] = "PING"


@dataclass(frozen=True)
class ByeEvent(Event):
    NAME: ClassVar[str] = "BYE"
    reason: str | None = None


@dataclass(frozen=True)
class CommandErrorEvent(Event):
    NAME: ClassVar[str] = "CMDERROR"
    cmd: str | None = None
    msg: str | None = None


@dataclass(frozen=True)
class UnknownEvent(Event):
    """Any other event name: ``fields`` as tokenized."""

    fields: tuple[tuple[str | None, str], ...] = ()

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of the first field named ``key``, else ``default``."""
        for k, v in self.fields:
            if k == key:
                return v
        return default


# --- connection state (made by the client, never on the wire) -----------------------


@dataclass(frozen=True)
class ConnectionEvent(Event):
    address: str | None = None


@dataclass(frozen=True)
class Connected(ConnectionEvent):
    NAME: ClassVar[str] = "connected"


@dataclass(frozen=True)
class LoggedIn(ConnectionEvent):
    NAME: ClassVar[str] = "logged_in"
    result: LoginResultEvent | None = None


@dataclass(frozen=True)
class Disconnected(ConnectionEvent):
    """The connection ended. ``deliberate`` is True when the application closed it."""

    NAME: ClassVar[str] = "disconnected"
    deliberate: bool = False
    reason: str | None = None
    will_reconnect: bool = False


@dataclass(frozen=True)
class Reconnecting(ConnectionEvent):
    NAME: ClassVar[str] = "reconnecting"
    attempt: int = 0


@dataclass(frozen=True)
class Reconnected(ConnectionEvent):
    """Logged in again after a loss: events may have been missed in between."""

    NAME: ClassVar[str] = "reconnected"
    gap_possible: bool = True
    downtime: float | None = None


@dataclass(frozen=True)
class Reconciled(ConnectionEvent):
    """After a reconnect: the own extension's status from GETSTATUSPEERS.

    ``statuses`` is a tuple of ``(peer, state, app)``; ``state`` is ``Up``, ``Down``,
    ``Ring``, ``Ringing`` ... as the server reports it.
    """

    NAME: ClassVar[str] = "reconciled"
    statuses: tuple[tuple[str, str | None, str | None], ...] = ()


# --- parsing ------------------------------------------------------------------------

_S = opt
_I = opt_int


def with_login_exten(ev: LoginResultEvent) -> LoginResultEvent:
    """A successful login answer with ``exten`` set to the extension it names (EXTEN, else the
    first part of MSG): events after a login belong to that extension, this one included."""
    if not ev.ok:
        return ev
    exten = ev.exten_number
    if exten is None and ev.msg:
        exten = ev.msg.split(",", 1)[0] or None
    return dataclasses.replace(ev, exten=exten)


def _bool01(v):
    v = opt(v)
    return None if v is None else v == "1"


# wire key -> (attribute, converter), per event
_SPECS: dict[str, tuple[type[Event], dict[str, tuple[str, Callable[[Any], Any]]]]] = {
    "LOGINRESULT": (LoginResultEvent, {"STATUS": ("status", _I), "EXTEN": ("exten_number", _S),
                                       "CALLERID": ("caller_id", _S), "DOMAIN": ("domain", _S), "MSG": ("msg", _S)}),
    "RINGEVENT": (RingEvent, {"ISDIAL": ("is_dial", _bool01), "CHANNEL": ("channel", _S),
                              "RECHANNEL": ("remote_channel", _S), "INEXTEN": ("inbound_number", _S),
                              "AGENT": ("agent", _S), "ATXFER": ("atxfer", _S), "CALLERID": ("caller_id", _S),
                              "UNIQUEID": ("unique_id", _S)}),
    "CHANNELLIST": (ChannelListEvent, {"CHANNEL1": ("channel1", _S), "CHANNEL2": ("channel2", _S),
                                       "CALLER1ID": ("caller1_id", _S), "CALLER2ID": ("caller2_id", _S),
                                       "INEXTEN": ("inbound_number", _S), "UNIQUEID1": ("unique_id1", _S),
                                       "UNIQUEID2": ("unique_id2", _S)}),
    "CHANNELOUT": (ChannelOutEvent, {"CHANNEL": ("channel", _S), "RECHANNEL": ("remote_channel", _S),
                                     "UNIQUEID": ("unique_id", _S), "SRCUNIQUEID": ("src_unique_id", _S),
                                     "HCAUSE": ("hangup_cause", _I)}),
    "CMDRESULTEND": (CommandResultEndEvent, {"CMD": ("cmd", _S)}),
    "CONFERENCEEVENT": (ConferenceEvent, {"CMD": ("action", _S), "CONFNAME": ("conf_name", _S),
                                          "CHANNEL": ("channel", _S), "UNIQUEID": ("unique_id", _S),
                                          "COUNT": ("count", _I), "MEMBER": ("member", _S)}),
    "RECVPEERMSG": (PeerMessageEvent, {"FROM": ("sender", _S), "MSG": ("message", _S)}),
    "RECVSMS": (SmsEvent, {"FROM": ("sender", _S), "MESSAGE": ("message", _S), "SMSTO": ("to", _S)}),
    "CDREVENT": (CdrEvent, {"CHANNEL": ("channel", _S), "UNIQUEID": ("unique_id", _S), "SRC": ("src", _S),
                            "DST": ("dst", _S), "DISPOSITION": ("disposition", _S), "DURATION": ("duration", _I),
                            "BILLSEC": ("billsec", _I)}),
    "DTMFEVENT": (DtmfEvent, {"CHANNEL": ("channel", _S), "UNIQUEID": ("unique_id", _S), "DIGIT": ("digit", _S)}),
    "PING": (PingEvent, {}),
    "BYE": (ByeEvent, {"REASON": ("reason", _S)}),
    "CMDERROR": (CommandErrorEvent, {"CMD": ("cmd", _S), "MSG": ("msg", _S)}),
}

#: wire name -> event class
EVENT_TYPES: dict[str, type[Event]] = {name: spec[0] for name, spec in _SPECS.items()}
EVENT_TYPES["CMDRESULT"] = CommandResultEvent


def _text(msg: Message) -> str:
    raw = msg.raw
    if isinstance(raw, str):
        return raw
    try:
        return bytes(raw).decode("cp949", "replace")
    except Exception:  # pragma: no cover - raw is always bytes-like
        return str(raw)


_DEFAULTS: dict[type, dict[str, Any]] = {}


def _blank(cls: type) -> dict[str, Any]:
    """Every field of ``cls`` at its default (``ts`` is filled per event)."""
    d = _DEFAULTS.get(cls)
    if d is None:
        d = {}
        for f in dataclasses.fields(cls):
            d[f.name] = None if f.default is dataclasses.MISSING else f.default
        _DEFAULTS[cls] = d
    return d


def _build(cls: type[Event], values: dict[str, Any], common: dict[str, Any]) -> Event:
    """A frozen event without the dataclass ``__init__`` (it sets each field through
    ``object.__setattr__``, the main cost of parsing at tens of thousands of events/s).
    The instance is the same as ``cls(**values, **common)`` would make."""
    ev: Event = object.__new__(cls)
    d = ev.__dict__
    d.update(_blank(cls))
    d.update(values)
    d.update(common)
    return ev


#: attributes set per event after the fields (in this order, from parse_event's arguments)
_PER_EVENT = ("raw", "exten", "ts")


def _plans() -> dict[str, Builder]:
    """Per wire name: a :class:`lgucore.fields.Builder` of its event class (blank fields, the
    projection spec of its wire keys, then raw, exten and ts per event)."""
    kinds = {opt: FIELD_TEXT, opt_int: FIELD_INT, _bool01: FIELD_FLAG}
    plans = {}
    for name, (cls, keys) in _SPECS.items():
        blank = dict(_blank(cls))
        blank["name"] = name
        plans[name] = Builder(cls, blank, {k: (attr, kinds[conv]) for k, (attr, conv) in keys.items()}, _PER_EVENT)
    return plans


def parse_event(msg: Message, *, exten: str | None = None, ts: float | None = None, raw: str | None = None) -> Event:
    """Turn a tokenized :class:`lgucore.Message` into its typed event.

    ``raw`` overrides the text kept on the event (the client passes the text decoded
    with the session charset); the first value of a repeated key wins. Known events are made
    by a :class:`lgucore.fields.Builder` (compiled): the fields, raw, exten and ts go into a
    new instance's ``__dict__`` in one call, equal to ``cls(**fields)`` at a fraction of the cost.
    """
    plan = _PLANS.get(msg.name)
    if plan is not None:
        return plan.build(msg, (_text(msg) if raw is None else raw, exten, _now() if ts is None else ts))
    name = msg.name
    text = raw if raw is not None else _text(msg)
    common = {"name": name, "raw": text, "exten": exten, "ts": _now() if ts is None else ts}
    if name == "CMDRESULT":
        cmd = None
        res = None
        rest: list[tuple[str | None, str]] = []
        for k, v in msg.fields:
            if k == "CMD" and cmd is None:
                cmd = v
            else:
                if k == "RES" and res is None:
                    res = v
                rest.append((k, v))
        return _build(CommandResultEvent, {"cmd": opt(cmd), "res": res, "fields": tuple(rest)}, common)
    return _build(UnknownEvent, {"fields": tuple(msg.fields)}, common)


_PLANS = _plans()


def event_builders() -> dict[str, Builder]:
    """Per wire name, the builder :func:`parse_event` makes that event with (a copy of the table):
    ``builders[msg.name].build(msg, (raw, exten, ts))`` equals ``parse_event(msg, exten=exten,
    ts=ts, raw=raw)``. Names missing from it go through :func:`parse_event` (``lgucore.batch.build_events``)."""
    return dict(_PLANS)
