"""Call tracking: turn ring/channel events into one :class:`Call` per real call.

A call's legs drift: the answering phone gets a new channel and unique id, a ring ends
with only the ringing channel's own id, Local channels come in ``;1``/``;2`` (or
``,1``/``,2``) halves, servers write ``1449825958,4879172`` for ``1449825958.4879172``,
transfers and pickups add legs of other extensions. :class:`CallTracker` relates events
by normalised channel names and unique ids (never by arrival order or by extension
alone), so the same call seen from several extensions is one call. The rules, states and
the missed/abandoned definitions are documented in ``docs/calls.md``.

>>> from lgucore import tokenize
>>> from lguapi.events import parse_event
>>> t = CallTracker()
>>> for text in (
...     b"RINGEVENT|ISDIAL:1|CHANNEL:SIP/gw2.eicn-09b25a90|RECHANNEL:SIP/3321-09b559d8"
...     b"|INEXTEN:null|AGENT:3321|CALLERID:01923XXXXX|UNIQUEID:1319339029.484",
...     b"CHANNELLIST|CHANNEL1:SIP/3321-09b559d8|CHANNEL2:SIP/gw2.eicn-09b25a90|CALLER1ID:070xxxx0321"
...     b"|CALLER2ID:01923XXXXX|INEXTEN:null|UNIQUEID1:1319339029.484|UNIQUEID2:1319339029.485",
...     b"CHANNELOUT|CHANNEL:SIP/3321-09b559d8|RECHANNEL:SIP/3321-09b559d8"
...     b"|UNIQUEID:1319339029.484|SRCUNIQUEID:1319339029.484|HCAUSE:16"):
...     updates = t.feed(parse_event(tokenize(text), exten="3321"))
>>> call = t.ended[-1]
>>> call.direction, call.state, call.remote_number, call.hangup_cause, call.end_reason
('outbound', 'ended', '01923XXXXX', 16, 'hangup')
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterable

from ._log import mask_number
from .events import (
    CdrEvent,
    ChannelListEvent,
    ChannelOutEvent,
    CommandResultEvent,
    ConferenceEvent,
    Disconnected,
    Event,
    LoggedIn,
    Reconciled,
    Reconnected,
    RingEvent,
)

__all__ = [
    "Call", "CallUpdate", "CallTracker", "normalize_channel", "normalize_unique_id",
    "channel_peer", "DEFAULT_END_GRACE", "DIRECTIONS", "STATES",
]

log = logging.getLogger("lguapi.calls")

#: seconds a call whose last leg went out waits for a leg on another connection (auto mode)
DEFAULT_END_GRACE = 2.0
DIRECTIONS = ("inbound", "outbound", "internal")
STATES = ("ringing", "connected", "held", "transferring", "conference", "ended")

#: GETSTATUSPEERS states that mean "the extension has a call up" (compared lower-case)
_UP_STATES = frozenset({"up", "ring", "ringing", "busy", "inuse", "in use", "onhold", "hold",
                        "dialing", "talking", "link"})
_LIVE = ("ringing", "connected")
_ROOM = "\x00room:"

from ._aqueue import AsyncQueueStream  # noqa: E402
from .channels import channel_peer, normalize_channel, normalize_unique_id, own_channel  # noqa: E402  (re-exported)

_PEERS: dict[str, str] = {}


def _peer(channel: str, _get=_PEERS.get) -> str:
    """:func:`channel_peer`, memoised (the same channel is looked at several times)."""
    p = _get(channel)
    if p is None:
        if len(_PEERS) >= 65536:
            _PEERS.clear()
        p = _PEERS[channel] = channel_peer(channel)
    return p


def _is_local(ch: str) -> bool:
    return ch.startswith("Local/")


def _is_xfer(ch: str | None) -> bool:
    return ch is not None and ch.startswith("Local/") and "@xfercontext" in ch


def _looks_external(number: str) -> bool:
    """A PSTN number (``010...``, ``02...``, ``070...``, ``+82...``) rather than an extension."""
    return number.startswith("+") or (len(number) >= 8 and number[0] == "0")


# --- the call ---------------------------------------------------------------------------


class _Leg:
    """One extension's presence in a call: its own channel, who it talks to, its status."""

    __slots__ = ("exten", "own", "remotes", "status", "since", "clock", "dial", "transfer",
                 "xfer", "held", "cause")

    def __init__(self, exten: str, own: str, remote: str | None, status: str, since: float,
                 clock: float, dial: bool | None):
        self.exten = exten
        self.own = own
        self.remotes: set[str] = {remote} if remote else set()
        self.status = status  # ringing | connected | ended | retired
        self.since = since
        self.clock = clock
        self.dial = dial
        self.transfer = False  # a ring that joined an already answered call
        self.xfer = False  # this extension is consulting an attended-transfer target
        self.held = False
        self.cause: int | None = None

    @property
    def live(self) -> bool:
        return self.status in _LIVE


class Call:
    """One real call, whatever its legs are called (PROTOCOL.md §4.5).

    Times are the ``ts`` of the events (float epoch seconds). ``remote_number`` is the
    caller for inbound calls, the called number for outbound ones; for internal calls the
    caller when a tracked extension was rung, else the called extension. ``answered_by`` is
    the extension that answered first (``None`` for an outbound call: the far end
    answered). ``handled_by`` lists every extension that was connected, in order
    (transfer targets, pickups). See ``docs/calls.md`` for ``missed``/``abandoned``.
    """

    __slots__ = (
        "id", "direction", "state", "remote_number", "dialled_number", "answered_by",
        "caller", "callee", "hangup_cause", "end_reason", "ring_at", "answer_at", "end_at",
        "missed", "abandoned", "room", "merged_into", "continued_from",
        "_extens", "_handled", "_legs", "_chans", "_uids", "_dead", "_seq", "_orig", "_dest",
        "_rung", "_hint", "_conf_start", "_pending", "_last_cause", "_conf", "_conf_chans", "_last_seen",
        "_touched", "__weakref__",
    )

    def __init__(self, call_id: str, ts: float, seq: int):
        self.id = call_id
        self.direction = "internal"
        self.state = "ringing"
        self.remote_number: str | None = None
        self.dialled_number: str | None = None
        self.answered_by: str | None = None
        self.caller: str | None = None
        self.callee: str | None = None
        self.hangup_cause: int | None = None
        self.end_reason: str | None = None
        self.ring_at = ts
        self.answer_at: float | None = None
        self.end_at: float | None = None
        self.missed = False
        self.abandoned = False
        self.room: str | None = None
        self.merged_into: str | None = None
        self.continued_from: str | None = None
        self._extens: list[str] = []
        self._handled: list[str] = []
        self._legs: dict[tuple[str, str], _Leg] = {}
        self._chans: set[str] = set()
        self._uids: set[str] = set()
        self._dead: set[str] = set()
        self._seq = seq
        self._orig: tuple[int, bool | None] = (0, None)  # (strength, external?)
        self._dest: tuple[int, bool | None] = (0, None)
        self._rung = False
        self._hint: str | None = None
        self._conf_start = False  # the call began in a conference (CALLWITHCONF)
        self._pending: tuple[int, float, int | None] | None = None  # (token, end ts, cause)
        self._last_cause: int | None = None
        self._conf: dict[str, str | None] = {}
        self._conf_chans: set[str] = set()
        self._last_seen = ts
        self._touched = 0.0  # tracker clock at the last event (for call_expiry)

    # public read-only views
    @property
    def exten(self) -> tuple[str, ...]:
        """The tracked extensions involved, in order of involvement."""
        return tuple(self._extens)

    @property
    def handled_by(self) -> tuple[str, ...]:
        """Every extension that was connected to this call, in order."""
        return tuple(self._handled)

    @property
    def channels(self) -> tuple[str, ...]:
        """Normalised channel names seen for this call (sorted)."""
        return tuple(sorted(self._chans))

    @property
    def unique_ids(self) -> tuple[str, ...]:
        """Normalised unique ids seen for this call (sorted)."""
        return tuple(sorted(self._uids))

    @property
    def answered(self) -> bool:
        return self.answer_at is not None

    @property
    def ring_seconds(self) -> float | None:
        """From the first event to the answer (or to the end when unanswered); None while ringing."""
        stop = self.answer_at if self.answer_at is not None else self.end_at
        return None if stop is None else max(0.0, stop - self.ring_at)

    @property
    def talk_seconds(self) -> float | None:
        """From the answer to the end; 0.0 for an unanswered call; None while connected."""
        if self.answer_at is None:
            return 0.0 if self.end_at is not None else None
        if self.end_at is None:
            return None
        return max(0.0, self.end_at - self.answer_at)

    @property
    def active_extens(self) -> dict[str, str]:
        """``{extension: "ringing"|"connected"|"held"}`` for the tracked extensions still on the call."""
        out: dict[str, str] = {}
        for leg in self._legs.values():
            if leg.status == "connected":
                st = "held" if leg.held else "connected"
                if out.get(leg.exten) != "connected":
                    out[leg.exten] = st
            elif leg.status == "ringing" and leg.exten not in out:
                out[leg.exten] = "ringing"
        out.pop("", None)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the public fields."""
        return {
            "id": self.id, "direction": self.direction, "state": self.state,
            "exten": list(self._extens), "remote_number": self.remote_number,
            "dialled_number": self.dialled_number, "answered_by": self.answered_by,
            "handled_by": list(self._handled), "caller": self.caller, "callee": self.callee,
            "hangup_cause": self.hangup_cause, "end_reason": self.end_reason,
            "ring_at": self.ring_at, "answer_at": self.answer_at, "end_at": self.end_at,
            "ring_seconds": self.ring_seconds, "talk_seconds": self.talk_seconds,
            "missed": self.missed, "abandoned": self.abandoned, "room": self.room,
            "merged_into": self.merged_into, "continued_from": self.continued_from,
            "channels": sorted(self._chans), "unique_ids": sorted(self._uids),
        }

    def __repr__(self) -> str:
        return (f"Call(id={self.id!r}, direction={self.direction!r}, state={self.state!r}, "
                f"exten={self.exten!r}, remote_number={mask_number(self.remote_number)!r}, "
                f"answered_by={self.answered_by!r}, end_reason={self.end_reason!r})")

    # internal helpers
    def _has_live(self) -> bool:
        for leg in self._legs.values():
            if leg.status in _LIVE:
                return True
        return False

    def _signature(self) -> tuple:
        return (self.state, self.direction, self.answered_by, self.remote_number,
                self.dialled_number, len(self._extens) + 1000 * len(self._handled), self.room)


@dataclass(frozen=True, slots=True)
class CallUpdate:
    """What an event did to a call. ``call`` is the live object (it keeps changing; use
    ``call.to_dict()`` for a copy); ``state`` is the call's state when the update was made.
    ``kind`` is ``"new"``, ``"changed"`` or ``"ended"``; an ``"ended"`` update with
    ``call.end_reason == "merged"`` withdraws a call that turned out to be part of
    ``call.merged_into`` (count it nowhere)."""

    call: Call
    kind: str
    event: Event | None = None
    state: str = ""


class _UpdateStream(AsyncQueueStream):
    """One subscriber of :meth:`CallTracker.updates`: a bounded queue (oldest dropped when full)."""

    __slots__ = ("_max", "dropped")

    def __init__(self, maxsize: int):
        super().__init__()
        self._max = maxsize
        self.dropped = 0

    def _push(self, update: CallUpdate) -> None:
        if len(self._queue) >= self._max:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10000 == 0:
                log.warning("call-update subscriber is too slow: %d update(s) dropped", self.dropped)
        super()._push(update)

    def _close(self) -> None:
        self._end()

    async def aclose(self) -> None:
        self._end()


class _Memory:
    """A bounded memory of keys in two generations (cheap: plain dicts, no per-key deadline).

    A key is kept for at least ``ttl/2`` seconds and ``maxlen/2`` later puts, at most
    ``ttl`` seconds and ``maxlen`` keys in all.
    """

    __slots__ = ("new", "old", "half_len", "half_ttl", "rotate_at")

    def __init__(self, maxlen: int, ttl: float):
        self.new: dict[str, Any] = {}
        self.old: dict[str, Any] = {}
        self.half_len = max(1, maxlen // 2)
        self.half_ttl = ttl / 2
        self.rotate_at: float | None = None

    def _rotate(self, now: float) -> None:
        assert self.rotate_at is not None
        self.old = self.new if now < self.rotate_at + self.half_ttl else {}
        self.new = {}
        self.rotate_at = now + self.half_ttl

    def put(self, key: str, value: Any, now: float) -> None:
        if self.rotate_at is None:
            self.rotate_at = now + self.half_ttl
        elif now >= self.rotate_at or len(self.new) >= self.half_len:
            self._rotate(now)
        self.new[key] = value

    def get(self, key: str, now: float) -> Any:
        if self.rotate_at is not None and now >= self.rotate_at:
            self._rotate(now)
        v = self.new.get(key)
        return self.old.get(key) if v is None else v

    def pop(self, key: str) -> None:
        self.new.pop(key, None)
        self.old.pop(key, None)

    def __len__(self) -> int:
        return len(self.new) + len(self.old)

    def __bool__(self) -> bool:
        return bool(self.new) or bool(self.old)


# --- the tracker ------------------------------------------------------------------------


class CallTracker:
    """Turn events (from one client or many) into calls.

    ``ring_expiry``: a ringing leg with no news for this long is closed (``end_reason
    "expired"``). ``end_grace``: when a call's last known leg goes out, the end is
    confirmed this many seconds later unless a leg of another connection joins meanwhile
    (a blind-transfer ring, a pickup, events of two connections crossing); ``None`` (the
    default) means 0 while events come from one extension and one client (TCP keeps one
    connection in order) and :data:`DEFAULT_END_GRACE` once a second extension feeds the
    tracker or a second client is attached.
    ``call_expiry`` ends a non-ringing call with no event at all for that long (a lost
    CHANNELOUT). ``clock`` is used for expiry and grace deadlines only; call times come
    from the events' ``ts``.

    Feed events with :meth:`feed` (returns the updates they caused) or subscribe to
    clients with :meth:`attach`; consume updates with :meth:`updates`. With :meth:`feed`
    alone, call :meth:`expire` now and then (``attach`` arms a timer for it).
    """

    def __init__(self, *, ring_expiry: float = 300.0, clock: Callable[[], float] = time.time,
                 end_grace: float | None = None, call_expiry: float = 6 * 3600.0,
                 keep_ended: int = 1000, tombstone_ttl: float = 600.0,
                 max_tombstones: int = 200_000, max_orphans: int = 10_000,
                 orphan_ttl: float = 120.0):
        if ring_expiry <= 0 or call_expiry <= 0:
            raise ValueError("ring_expiry and call_expiry must be > 0")
        if end_grace is not None and end_grace < 0:
            raise ValueError("end_grace must be >= 0 or None")
        self.ring_expiry = float(ring_expiry)
        self.call_expiry = float(call_expiry)
        self.end_grace = end_grace
        self._clock = clock
        self._now = clock()
        self.active: dict[str, Call] = {}
        self.ended: deque[Call] = deque(maxlen=keep_ended)
        self._idx: dict[str, Call] = {}  # normalised channel / unique id / room -> active call
        self._ext: dict[str, dict[str, Call]] = {}  # extension -> active calls it has legs in
        self._tomb = _Memory(max_tombstones, tombstone_ttl)  # keys of ended calls -> call id
        self._orphans = _Memory(max_orphans, orphan_ttl)  # key -> [ChannelOutEvent] seen before their call
        self._timers: list[tuple[float, int, str, int]] = []  # ends to confirm: (deadline, seq, call id, token)
        self._sweep_every = min(30.0, max(1.0, min(self.ring_expiry, self.call_expiry) / 10))
        self._next_sweep = self._now + self._sweep_every
        self._due = self._next_sweep  # the earliest deadline of any kind
        self._seq = itertools.count(1)
        self._tracked: set[str] = set()
        self._streams: list[weakref.ref[_UpdateStream]] = []
        self._clients: list[Any] = []
        self._timer_handle: asyncio.TimerHandle | None = None
        self._timer_when: float | None = None
        self._handlers: dict[type, Callable[[Any, list], None]] = {
            RingEvent: self._on_ring, ChannelListEvent: self._on_list, ChannelOutEvent: self._on_out,
            ConferenceEvent: self._on_conf, CommandResultEvent: self._on_cmdresult, CdrEvent: self._on_cdr,
            Reconciled: self._on_reconciled, Disconnected: self._on_disconnected,
            Reconnected: self._on_reconnected, LoggedIn: self._on_logged_in,
        }
        #: counters for diagnostics: calls, stale (late duplicates dropped), orphans, merges, ...
        self.stats: dict[str, int] = {"calls": 0, "stale": 0, "orphans": 0, "merged": 0,
                                      "expired": 0, "reconciled": 0, "refused": 0}

    # -- public API ------------------------------------------------------------------

    def feed(self, event: Event) -> list[CallUpdate]:
        """Apply one event; returns the updates it caused (empty for duplicates)."""
        out: list[CallUpdate] = []
        self._now = now = self._clock()
        if now >= self._due:
            self._run_timers(now, out, now >= self._next_sweep)
        exten = event.exten
        if exten and exten not in self._tracked:
            self._tracked.add(exten)
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event, out)
        if out:
            self._publish(out)
        return out

    def expire(self, now: float | None = None) -> list[CallUpdate]:
        """Close rings older than ``ring_expiry``, confirm ends whose grace has passed,
        close calls silent for ``call_expiry``. Returns the updates."""
        out: list[CallUpdate] = []
        self._now = now = self._clock() if now is None else now
        self._run_timers(now, out, True)
        if out:
            self._publish(out)
        return out

    def flush(self) -> list[CallUpdate]:
        """Confirm every pending end now (at shutdown, or in tests)."""
        out: list[CallUpdate] = []
        self._now = self._clock()
        for call in list(self.active.values()):
            if call._pending is not None:
                self._finish(call, call._pending[1], call._pending[2], None, None, out)
        if out:
            self._publish(out)
        return out

    def calls(self, *, include_ended: bool = False) -> list[Call]:
        """Active calls (oldest first), optionally followed by the recently ended ones."""
        calls = sorted(self.active.values(), key=lambda c: (c.ring_at, c._seq))
        if include_ended:
            calls.extend(self.ended)
        return calls

    def calls_of(self, exten: str) -> list[Call]:
        """The active calls ``exten`` is on now (ringing, connected or held), oldest first."""
        out = []
        for call in self._ext.get(exten, {}).values():
            for leg in call._legs.values():
                if leg.exten == exten and leg.status in _LIVE:
                    out.append(call)
                    break
        return out

    def attach(self, client: Any) -> None:
        """Subscribe to every event of ``client`` (works with any number of clients)."""
        client.on(Event, self._on_client_event)
        self._clients.append(client)

    def detach(self, client: Any) -> None:
        """Stop following ``client``."""
        try:
            client.off(Event, self._on_client_event)
        finally:
            if client in self._clients:
                self._clients.remove(client)

    def updates(self, *, maxsize: int = 100_000) -> AsyncIterator[CallUpdate]:
        """An async iterator of every update from now on (each call makes a new subscriber).

        The subscriber queue holds ``maxsize`` updates; when a consumer falls that far
        behind, the oldest are dropped and counted (``.dropped``) with a warning logged.
        """
        stream = _UpdateStream(maxsize)
        self._streams.append(weakref.ref(stream))
        return stream

    def close(self) -> None:
        """Detach from clients, cancel the timer and end every :meth:`updates` iterator."""
        for client in list(self._clients):
            try:
                self.detach(client)
            except Exception:  # a client that is gone already
                log.debug("detach failed", exc_info=True)
        if self._timer_handle is not None:
            self._timer_handle.cancel()
            self._timer_handle = None
        for ref in self._streams:
            stream = ref()
            if stream is not None:
                stream._close()
        self._streams = []

    # -- plumbing --------------------------------------------------------------------

    def _on_client_event(self, event: Event) -> None:
        try:
            self.feed(event)
        except Exception:  # never break the client's dispatch; never swallow silently
            log.exception("call tracker failed on %s event", getattr(event, "name", "?"))
        self._arm()

    def _arm(self) -> None:
        when = self._due
        if self._timer_handle is not None and self._timer_when is not None and self._timer_when <= when:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._timer_handle is not None:
            self._timer_handle.cancel()
        self._timer_when = when
        self._timer_handle = loop.call_later(max(0.0, when - self._clock()) + 0.01, self._on_timer)

    def _on_timer(self) -> None:
        self._timer_handle = None
        self._timer_when = None
        try:
            self.expire()
        except Exception:
            log.exception("call tracker expiry failed")
        self._arm()

    def _publish(self, updates: list[CallUpdate]) -> None:
        if self._streams:
            prune = False
            for ref in self._streams:
                stream = ref()
                if stream is None or stream._ended:
                    prune = True
                    continue
                for u in updates:
                    stream._push(u)
            if prune:
                self._streams = [r for r in self._streams if (st := r()) is not None and not st._ended]

    def _grace(self) -> float:
        if self.end_grace is not None:
            return self.end_grace
        return DEFAULT_END_GRACE if len(self._tracked) > 1 or len(self._clients) > 1 else 0.0

    def _note_exten(self, exten: str | None) -> None:
        if exten and exten not in self._tracked:
            self._tracked.add(exten)

    def _exten_of(self, ev: Event) -> str:
        """The receiving extension; for events fed without one, the only extension known."""
        if ev.exten:
            return ev.exten
        if len(self._tracked) == 1:
            for e in self._tracked:
                return e
        return ""

    def _push_timer(self, deadline: float, call: Call, token: int) -> None:
        heapq.heappush(self._timers, (deadline, next(self._seq), call.id, token))
        if deadline < self._due:
            self._due = deadline

    def _run_timers(self, now: float, out: list, sweep: bool) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, cid, token = heapq.heappop(timers)
            call = self.active.get(cid)
            if call is not None:
                p = call._pending
                if p is not None and p[0] == token:
                    self._finish(call, p[1], p[2], None, None, out)
        if sweep:
            self._sweep(now, out)
        self._due = min(timers[0][0], self._next_sweep) if timers else self._next_sweep

    def _sweep(self, now: float, out: list) -> None:
        """Every ``_sweep_every`` seconds: expire rings and silent calls, prune the memories."""
        self._next_sweep = min(now, self._clock()) + self._sweep_every
        ring_limit = now - self.ring_expiry
        for call in list(self.active.values()):
            if call._pending is not None:
                continue
            if call._touched + self.call_expiry <= now:
                self.stats["expired"] += 1
                self._close_legs(call, None, "expired", None, call._last_seen, out)
                continue
            for leg in call._legs.values():
                if leg.status == "ringing" and leg.clock <= ring_limit:
                    self._expire_rings(call, ring_limit, out)
                    break
        if len(self._timers) > 2 * len(self.active) + 1024:  # drop entries of ended calls
            self._timers = [t for t in self._timers if t[2] in self.active]
            heapq.heapify(self._timers)

    def _expire_rings(self, call: Call, ring_limit: float, out: list) -> None:
        before = call._signature()
        for leg in call._legs.values():
            if leg.status == "ringing" and leg.clock <= ring_limit:
                leg.status = "ended"
                call._dead.add(leg.own)
        self.stats["expired"] += 1
        if not call._has_live():
            self._finish(call, max(call._last_seen, call.ring_at), None, "expired", None, out)
        else:
            self._refresh(call)
            self._changed(call, before, None, out)

    # -- lookups -------------------------------------------------------------------------

    def _find(self, chans: Iterable[str | None], ids: Iterable[str | None], ev: Event,
              out: list) -> Call | None:
        """The active call these keys belong to; several calls are merged into the oldest.

        Unique ids (and rooms) always link. A channel links only while it is alive in its
        call: servers reuse channel names (the manual's §5.1 and §5.3 share
        ``SIP/3321-09b559d8``), so a dead channel's name says nothing about a new event.
        """
        idx = self._idx
        found: Call | None = None
        others: list[Call] | None = None
        for k in itertools.chain(ids, chans):
            if k is None:
                continue
            c = idx.get(k)
            if c is None or c is found or (k in c._dead):
                continue
            if found is None:
                found = c
            else:
                if others is None:
                    others = []
                if c not in others:
                    others.append(c)
        if others:
            calls = sorted([found, *others], key=lambda c: c._seq)
            found = calls[0]
            for other in calls[1:]:
                self._merge(found, other, ev, out)
        return found

    def _tombstoned(self, keys: Iterable[str | None], now: float) -> str | None:
        for k in keys:
            if k is not None:
                cid = self._tomb.get(k, now)
                if cid is not None:
                    return cid
        return None

    def _index(self, call: Call, chans: Iterable[str | None] = (), uids: Iterable[str | None] = ()) -> list[str]:
        """Index new keys of ``call``; returns the keys that were new."""
        idx = self._idx
        new: list[str] = []
        for c in chans:
            if c is not None and c not in call._chans:
                other = idx.get(c)
                if other is not None and other is not call and c not in other._dead:
                    continue  # never take a live key from another call (only _find merges calls)
                call._chans.add(c)  # a dead channel's name may be reused by a new call
                idx[c] = call
                new.append(c)
        for u in uids:
            if u is not None and u not in call._uids:
                other = idx.get(u)
                if other is not None and other is not call:
                    continue
                call._uids.add(u)
                idx[u] = call
                new.append(u)
        return new

    def _new_call(self, call_id: str | None, ts: float) -> Call:
        cid = call_id or f"call-{next(self._seq)}"
        now = self._now
        if cid in self.active or self._tomb.get("\x00id:" + cid, now) is not None:
            n = 2
            while f"{cid}#{n}" in self.active or self._tomb.get(f"\x00id:{cid}#{n}", now) is not None:
                n += 1
            cid = f"{cid}#{n}"
        call = Call(cid, ts, next(self._seq))
        self.active[cid] = call
        self.stats["calls"] += 1
        return call

    def _leg_exten(self, call: Call, exten: str) -> None:
        if exten:
            if exten not in call._extens:
                call._extens.append(exten)
            calls = self._ext.get(exten)
            if calls is None:
                calls = self._ext[exten] = {}
            calls[call.id] = call

    @staticmethod
    def _own_of(exten: str, a: str | None, b: str | None) -> str | None:
        """Which of two channels is ``exten``'s own: :func:`lguapi.channels.own_channel`."""
        return own_channel(exten, a, b)

    def _party(self, chan: str | None, number: str | None) -> bool | None:
        """Is the party on ``chan`` / with ``number`` outside the PBX? None when unknown."""
        if chan is not None and not _is_local(chan):
            peer = _peer(chan)
            if "." in peer:
                return True  # trunk: SIP/gw2.eicn-..., SIP/112.223.25.10-...
            if peer in self._tracked:
                return False
        if number:
            if number in self._tracked:
                return False
            return _looks_external(number)
        if chan is not None and not _is_local(chan):
            return False
        return None

    @staticmethod
    def _evidence(call: Call, strength: int, orig: bool | None, dest: bool | None) -> None:
        if orig is not None and call._orig[0] <= strength:
            call._orig = (strength, orig)
        if dest is not None and call._dest[0] <= strength:
            call._dest = (strength, dest)

    def _refresh(self, call: Call) -> None:
        """Recompute direction, remote number and state from what the call knows."""
        o, d = call._orig[1], call._dest[1]
        call.direction = "inbound" if o else "outbound" if d else "internal"
        if call.direction == "inbound":
            remote = call.caller
        elif call.direction == "outbound":
            remote = call.callee
        else:
            remote = call.caller if call._rung else call.callee
        call.remote_number = remote or call.remote_number or call._hint
        if call.state == "ended":
            return
        ringing = connected = held = transferring = False
        for leg in call._legs.values():
            st = leg.status
            if st == "connected":
                connected = True
                if leg.held:
                    held = True
                if leg.xfer:
                    transferring = True
            elif st == "ringing":
                ringing = True
                if leg.transfer:
                    transferring = True
        if not (ringing or connected):
            return  # no live leg: keep the last state until the end is confirmed
        if call._conf:
            call.state = "conference"
        elif transferring:
            call.state = "transferring"
        elif connected:
            call.state = "held" if held else "connected"
        else:
            call.state = "ringing"

    def _changed(self, call: Call, before: tuple, ev: Event | None, out: list) -> None:
        if call.state == "ended":
            return
        if before is _NEW:
            out.append(CallUpdate(call, "new", ev, call.state))
        elif call._signature() != before:
            out.append(CallUpdate(call, "changed", ev, call.state))

    # -- leg bookkeeping ----------------------------------------------------------------

    def _schedule_end(self, call: Call, ts: float, cause: int | None, ev: Event | None, out: list,
                      min_grace: float = 0.0) -> None:
        grace = max(self._grace(), min_grace)
        if grace <= 0:
            self._finish(call, ts, cause, None, ev, out)
            return
        token = next(self._seq)
        call._pending = (token, ts, cause)
        self._push_timer(self._now + grace, call, token)

    def _close_legs(self, call: Call, exten: str | None, reason: str, ev: Event | None, ts: float,
                    out: list) -> None:
        """Close the live legs of ``exten`` (all when None); end the call when none is left."""
        before = call._signature()
        for leg in call._legs.values():
            if leg.status in _LIVE and (exten is None or leg.exten == exten):
                leg.status = "ended"
                call._dead.add(leg.own)
        if not call._has_live():
            if call._pending is not None:
                p = call._pending
                self._finish(call, p[1], p[2], None, ev, out)
            else:
                self._finish(call, max(ts, call.ring_at), None, reason, ev, out)
        else:
            self._refresh(call)
            self._changed(call, before, ev, out)

    def _finish(self, call: Call, ts: float, cause: int | None, reason: str | None, ev: Event | None,
                out: list) -> None:
        """The call is over: classify it, drop it from the indexes, remember its keys."""
        call._pending = None
        for leg in call._legs.values():
            if leg.status in _LIVE:
                leg.status = "ended"
        call.state = "ended"
        call.end_at = max(ts, call.ring_at)
        if call.answer_at is not None and call.answer_at > call.end_at:
            call.answer_at = call.end_at
        call.hangup_cause = cause if cause is not None else call._last_cause
        self._refresh(call)
        answered = call.answer_at is not None
        rung = call._rung and call.direction in ("inbound", "internal")
        if reason is not None:
            call.end_reason = reason
        elif answered:
            call.end_reason = "hangup"
        elif rung:
            if call.hangup_cause == 16:
                call.abandoned = True
                call.end_reason = "abandoned"
            else:
                call.missed = True
                call.end_reason = "missed"
        else:
            call.end_reason = {17: "busy", 19: "no-answer", 21: "rejected", 16: "cancelled"}.get(
                call.hangup_cause, "unanswered")
        self._forget(call)
        if reason != "merged":
            self.ended.append(call)
        out.append(CallUpdate(call, "ended", ev, "ended"))

    def _forget(self, call: Call) -> None:
        now = self._now
        idx = self._idx
        tomb = self._tomb
        for k in itertools.chain(call._chans, call._uids):
            if idx.get(k) is call:
                del idx[k]
            tomb.put(k, call.id, now)
        if call.room is not None and idx.get(_ROOM + call.room) is call:
            del idx[_ROOM + call.room]
        tomb.put("\x00id:" + call.id, call.id, now)
        for e in call._extens:
            calls = self._ext.get(e)
            if calls is not None:
                calls.pop(call.id, None)
                if not calls:
                    del self._ext[e]
        self.active.pop(call.id, None)

    def _merge(self, keep: Call, gone: Call, ev: Event, out: list) -> None:
        """``gone`` turned out to be part of ``keep`` (the older call): fold it in."""
        self.stats["merged"] += 1
        before = keep._signature()
        for key, leg in gone._legs.items():
            keep._legs.setdefault(key, leg)
        for k in itertools.chain(gone._chans, gone._uids):
            self._idx[k] = keep
        keep._chans |= gone._chans
        keep._uids |= gone._uids
        keep._dead |= gone._dead
        for e in gone._extens:
            self._leg_exten(keep, e)
        for e in gone._handled:
            if e not in keep._handled:
                keep._handled.append(e)
        keep.ring_at = min(keep.ring_at, gone.ring_at)
        if gone.answer_at is not None and (keep.answer_at is None or gone.answer_at < keep.answer_at):
            keep.answer_at = gone.answer_at
            keep.answered_by = gone.answered_by
        for name in ("caller", "callee", "dialled_number", "_hint", "room"):
            if getattr(keep, name) is None:
                setattr(keep, name, getattr(gone, name))
        if keep.room is not None:
            self._idx[_ROOM + keep.room] = keep
        keep._conf.update(gone._conf)
        keep._conf_chans |= gone._conf_chans
        keep._rung = keep._rung or gone._rung
        if keep._orig[0] < gone._orig[0]:
            keep._orig = gone._orig
        if keep._dest[0] < gone._dest[0]:
            keep._dest = gone._dest
        if keep._has_live():
            keep._pending = None
        # withdraw the absorbed call without remembering its keys as ended
        gone._chans = set()
        gone._uids = set()
        gone.room = None
        gone.merged_into = keep.id
        gone._legs = {}
        self._finish(gone, ev.ts, None, "merged", ev, out)
        self._refresh(keep)
        self._changed(keep, before, ev, out)


    # -- orphans and call creation -----------------------------------------------------------

    @staticmethod
    def _out_keys(ev: ChannelOutEvent) -> tuple[str | None, str | None, str | None, str | None]:
        return (normalize_channel(ev.channel), normalize_unique_id(ev.unique_id),
                normalize_channel(ev.remote_channel), normalize_unique_id(ev.src_unique_id))

    def _keep_orphan(self, ev: ChannelOutEvent, keys: Iterable[str | None]) -> None:
        """A CHANNELOUT of a call not (yet) known: remember it, create nothing."""
        now = self._now
        self.stats["orphans"] += 1
        for k in keys:
            if k is None:
                continue
            lst = self._orphans.get(k, now)
            if lst is None:
                self._orphans.put(k, [ev], now)
            elif not any(e is ev or (e.exten == ev.exten and e == ev) for e in lst):
                lst.append(ev)

    def _adopt_orphans(self, call: Call, keys: list[str], out: list) -> None:
        """Replay CHANNELOUTs that arrived before the events that made their call known.

        Ids decide: a kept CHANNELOUT with unique ids joins only a call that has one of
        them (a reused channel name alone says nothing); one without ids joins by name."""
        now = self._now
        todo: list[ChannelOutEvent] = []
        uids = call._uids
        for k in keys:
            evs = self._orphans.get(k, now)
            if evs:
                for e in evs:
                    _, u, _, su = self._out_keys(e)
                    if (u is not None or su is not None) and u not in uids and su not in uids:
                        continue
                    if not any(t is e for t in todo):
                        todo.append(e)
        for e in todo:
            for k in self._out_keys(e):
                lst = self._orphans.get(k, now) if k is not None else None
                if lst is not None:
                    lst[:] = [x for x in lst if x is not e]
                    if not lst:
                        self._orphans.pop(k)
        for e in todo:
            self._on_out(e, out)

    def _start(self, ev: Event, chans: list, uids: list, links: list, out: list,
               create_id: str | None) -> tuple[Call | None, bool]:
        """Find or create the call of a RINGEVENT/CHANNELLIST/CONFERENCEEVENT: ``(call, created)``."""
        call = self._find(chans, uids + links, ev, out)
        if call is not None:
            return call, False
        if not any(c is not None for c in chans):
            self._refuse(ev)
            return None, False
        now = self._now
        ids = [u for u in uids if u is not None]
        old = self._tombstoned(ids if ids else chans, now)
        if old is not None:
            # an id of an ended call and no new channel: a late duplicate. A new channel next
            # to an ended call's id is a leg that joined after the grace: a call of its own.
            idx = self._idx
            if not any(c is not None and c not in idx and self._tomb.get(c, now) is None for c in chans):
                self.stats["stale"] += 1
                return None, False
            call = self._new_call(create_id, ev.ts)
            call.continued_from = old
            return call, True
        return self._new_call(create_id, ev.ts), True

    def _refuse(self, ev: Event) -> None:
        """An event that would start a call but names no channel: no leg could ever end it."""
        n = self.stats["refused"] = self.stats["refused"] + 1
        if n == 1 or n % 10000 == 0:
            log.warning("call tracker refused %d %s event(s) naming no channel (no call created)",
                        n, getattr(ev, "name", type(ev).__name__))

    # -- event handlers -------------------------------------------------------------------

    def _on_logged_in(self, ev: LoggedIn, out: list) -> None:
        self._note_exten(ev.exten)

    def _on_reconnected(self, ev: Reconnected, out: list) -> None:
        self._note_exten(ev.exten)

    def _on_ring(self, ev: RingEvent, out: list) -> None:
        if not ev.exten and ev.agent:
            self._note_exten(ev.agent)
        exten = ev.exten or self._exten_of(ev)
        ch = normalize_channel(ev.channel)
        rch = normalize_channel(ev.remote_channel)
        uid = normalize_unique_id(ev.unique_id)
        links: list = []
        if ev.atxfer:
            links.append(normalize_channel(ev.atxfer) if "/" in ev.atxfer else normalize_unique_id(ev.atxfer))
        call: Call | None = None
        created = False
        if ch is not None and ch == rch and ev.is_dial is False and ev.caller_id and uid not in self._idx:
            # an originated ring (CHANNEL = RECHANNEL) from an extension in a conference: an invitation
            call = self._conference_of(ev.caller_id)
        if call is None:
            call, created = self._start(ev, [ch, rch], [uid], links, out, uid)
            if call is None:
                return
        before = _NEW if created else call._signature()
        call._last_seen = ev.ts
        call._touched = self._now
        own = self._own_of(exten, ch, rch)
        if own is None:
            own = rch if ev.is_dial else ch
            if own is None:
                own = ch or rch
        remote = rch if own == ch else ch
        if remote == own:
            remote = None
        known_own = own in call._chans
        new_keys = self._index(call, (ch, rch), (uid,))
        if own is not None:
            key = (exten, own)
            leg = call._legs.get(key)
            if leg is None:
                leg = _Leg(exten, own, remote, "ringing", ev.ts, self._now, ev.is_dial)
                call._legs[key] = leg
                self._leg_exten(call, exten)
                if own in call._dead:
                    leg.status = "ended"
                else:
                    if call.answer_at is not None and (not known_own or ev.atxfer):
                        leg.transfer = True
                    call._pending = None
            elif remote is not None and leg.status in _LIVE:
                leg.remotes.add(remote)
        if ev.inbound_number and call.dialled_number is None:
            call.dialled_number = ev.inbound_number
        if ev.is_dial is False:
            call._rung = True
        if call.answer_at is None:
            number = ev.caller_id
            if ev.is_dial is False:
                orig = self._party(remote, number)
                if ev.inbound_number and (orig is None or remote is None or _is_local(remote)):
                    orig = True
                self._evidence(call, 1, orig, False)
                if call.caller is None:
                    call.caller = number
                if call.callee is None:
                    call.callee = exten or None
            elif ev.is_dial is True:
                self._evidence(call, 1, False, self._party(remote, number))
                if call.caller is None:
                    call.caller = exten or None
                if call.callee is None:
                    call.callee = number
            elif call._hint is None:
                call._hint = number
        self._refresh(call)
        self._changed(call, before, ev, out)
        if self._orphans and new_keys:
            self._adopt_orphans(call, new_keys, out)

    def _on_list(self, ev: ChannelListEvent, out: list) -> None:
        exten = ev.exten or self._exten_of(ev)
        c1 = normalize_channel(ev.channel1)
        c2 = normalize_channel(ev.channel2)
        u1 = normalize_unique_id(ev.unique_id1)
        u2 = normalize_unique_id(ev.unique_id2)
        call, created = self._start(ev, [c1, c2], [u1, u2], [], out, u1 or u2)
        if call is None:
            return
        before = _NEW if created else call._signature()
        call._last_seen = ev.ts
        call._touched = self._now
        mine = [leg for leg in call._legs.values() if leg.exten == exten]
        own = self._own_of(exten, c1, c2)
        by_peer = own is not None
        if own is None:
            if any(m.dial is False for m in mine):
                own = c2
            elif any(m.dial for m in mine):
                own = c1
            else:
                own = c2 or c1
        remote = c2 if own == c1 else c1
        if remote == own:
            remote = None
        xfer_list = _is_xfer(remote)
        new_keys = self._index(call, (c1, c2), (u1, u2))
        if own is not None:
            key = (exten, own)
            leg = call._legs.get(key)
            if leg is None:
                leg = _Leg(exten, own, remote, "connected", ev.ts, self._now, None)
                if xfer_list and any(m.status == "connected" for m in mine):
                    leg.xfer = True  # a consultation leg next to the call being transferred
                call._legs[key] = leg
                self._leg_exten(call, exten)
                if own in call._dead:
                    leg.status = "ended"
                else:
                    call._pending = None  # a leg joined within the grace: the call goes on
                for m in mine:  # this extension's ring was answered (by a new channel)
                    if m.status == "ringing":
                        m.status = "retired"
                        call._dead.add(m.own)
            elif leg.status == "ringing":
                leg.status = "connected"
                leg.since = ev.ts
                leg.remotes = {remote} if remote else set()
                for m in mine:
                    if m is not leg and m.status == "ringing":
                        m.status = "retired"
                        call._dead.add(m.own)
            elif leg.status == "connected" and remote is not None:
                if xfer_list:
                    leg.remotes.add(remote)
                    leg.xfer = True
                else:
                    leg.remotes.add(remote)
                    if leg.xfer:  # the consultation is over: back with (or joined to) the other party
                        leg.xfer = False
                        leg.remotes = {r for r in leg.remotes if not _is_xfer(r)}
            if exten and exten not in call._handled:
                call._handled.append(exten)
        if ev.inbound_number and call.dialled_number is None:
            call.dialled_number = ev.inbound_number
        if call.answer_at is None and not xfer_list:
            call.answer_at = ev.ts
            o = self._party(c1, ev.caller1_id)
            d = self._party(c2, ev.caller2_id)
            if by_peer:
                if own == c1:
                    o = False
                else:
                    d = False
            if ev.inbound_number and o is None:
                o = True
            self._evidence(call, 2, o, d)
            if own == c2 and exten:
                call._rung = True
            if call.caller is None:
                call.caller = exten if (own == c1 and by_peer) else ev.caller1_id
            if call.callee is None:
                call.callee = exten if (own == c2 and by_peer) else ev.caller2_id
            if call._dest[1]:
                call.answered_by = None  # the far end answered an outbound call
            elif own == c2 and exten:
                call.answered_by = exten
            else:
                call.answered_by = ev.caller2_id or (channel_peer(c2) if c2 else None)
        elif call.answered_by is None and own == c2 and exten and not xfer_list:
            # an outbound call answered outside and transferred: the first extension that answered
            call.answered_by = exten
        self._refresh(call)
        self._changed(call, before, ev, out)
        if self._orphans and new_keys:
            self._adopt_orphans(call, new_keys, out)

    def _on_out(self, ev: ChannelOutEvent, out: list) -> None:
        exten = ev.exten or self._exten_of(ev)
        keys = self._out_keys(ev)
        c, u, rc, su = keys
        idx = self._idx
        call = None
        ids = [x for x in (u, su) if x is not None]
        for k in ids:  # ids decide
            call = idx.get(k)
            if call is not None:
                break
        if call is None and ids and self._tombstoned(ids, self._now) is not None:
            # an ended call's CHANNELOUT again: its channel name may live on in a new call
            self.stats["stale"] += 1
            return
        if call is None:
            for k in (c, rc):  # ids unknown: the own channel, then the other party's, while alive
                if k is not None:
                    x = idx.get(k)
                    if x is not None and k not in x._dead:
                        call = x
                        break
        if call is None and c is not None:
            call = idx.get(c)  # a channel already out: a duplicate
        if call is None:
            if self._tombstoned(ids if ids else (c, rc), self._now) is not None:
                self.stats["stale"] += 1
            else:
                self._keep_orphan(ev, keys)
            return
        before = call._signature()
        call._last_seen = ev.ts
        call._touched = self._now
        known_c = c is not None and c in call._chans
        ended: list[_Leg] = []
        leg = call._legs.get((exten, c)) if c is not None else None
        if leg is not None:
            if leg.status in _LIVE:
                ended.append(leg)
            elif leg.cause is None and ev.hangup_cause is not None:
                # the leg left already (a conference DEL); the server now gives the cause
                leg.cause = call._last_cause = ev.hangup_cause
                if call._pending is not None:
                    call._pending = (call._pending[0], call._pending[1], ev.hangup_cause)
                    if self._grace() <= 0:  # it only waited for this cause
                        self._finish(call, call._pending[1], ev.hangup_cause, None, ev, out)
                        return
        else:
            mine = [m for m in call._legs.values() if m.exten == exten]
            matched = False
            for m in mine:
                if c is not None and c in m.remotes:
                    matched = True
                    if m.status in _LIVE:
                        m.remotes.discard(c)
                        if m.status == "ringing" or not m.remotes:
                            ended.append(m)
                        elif m.xfer and not any(_is_xfer(r) for r in m.remotes):
                            m.xfer = False  # the transfer target left: back to the call
            if not matched and (c is None or not known_c or self._own_of(exten, c, None) == c):
                # the server says this extension's part is over (a channel we had not seen)
                ended.extend(m for m in mine if m.status in _LIVE)
        if c is not None:
            call._dead.add(c)
        self._index(call, (c, rc), (u, su))
        for m in ended:
            m.status = "ended"
            call._dead.add(m.own)
            m.cause = ev.hangup_cause
        if ended:
            call._last_cause = ev.hangup_cause
            if not call._has_live():
                self._schedule_end(call, ev.ts, ev.hangup_cause, ev, out)
                if call.state == "ended":
                    return
        self._refresh(call)
        self._changed(call, before, ev, out)

    def _on_conf(self, ev: ConferenceEvent, out: list) -> None:
        exten = ev.exten or self._exten_of(ev)
        c = normalize_channel(ev.channel)
        u = normalize_unique_id(ev.unique_id)
        room = ev.conf_name
        add = (ev.action or "").upper() != "CONFMEMBERDEL"
        links = [_ROOM + room] if room else []
        if add:
            call, created = self._start(ev, [c], [u], links, out, u)
        else:
            call, created = self._find([c], [u, *links], ev, out), False
        if call is None:
            return
        before = _NEW if created else call._signature()
        call._last_seen = ev.ts
        call._touched = self._now
        self._index(call, (c,), (u,))
        if room and call.room is None and self._idx.get(_ROOM + room) in (None, call):
            call.room = room
            self._idx[_ROOM + room] = call
        member = ev.member
        mine = bool(exten) and c is not None and (member == exten or self._own_of(exten, c, None) == c)
        if add:
            if c is not None and c not in call._dead:
                call._conf[c] = member
                call._conf_chans.add(c)
            if mine:
                leg = call._legs.get((exten, c))
                if leg is None:
                    leg = _Leg(exten, c, None, "connected", ev.ts, self._now, None)
                    call._legs[(exten, c)] = leg
                    self._leg_exten(call, exten)
                    if c in call._dead:
                        leg.status = "ended"
                    else:
                        call._pending = None  # a leg joined within the grace: the call goes on
                elif leg.status == "ringing":
                    leg.status = "connected"
                if exten not in call._handled:
                    call._handled.append(exten)
            if created:
                # a call that starts in a conference (CALLWITHCONF): its first member called the others
                call._conf_start = True
                call.caller = member or exten or None
                self._evidence(call, 1, False, None)
            if member and member != call.caller:
                if call._hint is None:
                    call._hint = member
                if call._conf_start and _looks_external(member):
                    self._evidence(call, 1, False, True)
            if call.answer_at is None and (not call._conf_start or (member and member != call.caller)):
                # a conference call is answered when a second member joins
                call.answer_at = ev.ts
                if call._conf_start:
                    call.callee = member
                    call.answered_by = None if member is None or _looks_external(member) else member
        else:
            if c is not None:
                call._conf.pop(c, None)
                call._dead.add(c)
            gone = [leg for leg in call._legs.values() if leg.status in _LIVE
                    and (leg.own == c or (ev.count == 0 and leg.own in call._conf_chans))]
            if ev.count == 0:
                call._conf.clear()
            for leg in gone:
                leg.status = "ended"
                call._dead.add(leg.own)
            if gone and not call._has_live():
                # the leaving channel's CHANNELOUT (with the cause) normally follows at once
                self._schedule_end(call, ev.ts, call._last_cause, ev, out, min_grace=1.0)
        self._refresh(call)
        self._changed(call, before, ev, out)

    def _conference_of(self, exten: str) -> Call | None:
        """The active call in which ``exten`` is in a conference room, if any."""
        for call in self._ext.get(exten, {}).values():
            if call._conf and any(leg.exten == exten and leg.status in _LIVE for leg in call._legs.values()):
                return call
        return None

    def _on_cdr(self, ev: CdrEvent, out: list) -> None:
        """A CDREVENT closes the books on a call. A call the tracker never saw start -- only
        its CHANNELOUT arrived, as for an internal call to a busy phone -- is recorded from
        the two; CDREVENTs of calls already known change nothing."""
        u = normalize_unique_id(ev.unique_id)
        c = normalize_channel(ev.channel)
        if u is None or u in self._idx:
            return
        now = self._now
        if self._tomb.get(u, now) is not None:
            return
        outs = self._orphans.get(u, now) or (self._orphans.get(c, now) if c is not None else None)
        if not outs:
            return
        outs = list(outs)
        exten = ev.exten or self._exten_of(ev)
        end = max(o.ts for o in outs)
        call = self._new_call(u, max(0.0, end - (ev.duration or 0)))
        for o in outs:
            keys = self._out_keys(o)
            self._index(call, (keys[0], keys[2]), (keys[1], keys[3]))
            for k in keys:
                lst = self._orphans.get(k, now) if k is not None else None
                if lst is not None:
                    lst[:] = [x for x in lst if x is not o]
                    if not lst:
                        self._orphans.pop(k)
        if exten:
            self._leg_exten(call, exten)
        call.caller, call.callee = ev.src, ev.dst
        orig = False if ev.src and ev.src == exten else self._party(None, ev.src)
        dest = False if ev.dst and ev.dst == exten else self._party(None, ev.dst)
        self._evidence(call, 1, orig, dest)
        call._rung = bool(exten) and ev.dst == exten
        if (ev.disposition or "").upper() == "ANSWERED":
            call.answer_at = end - (ev.billsec or 0)
            call.answered_by = None if dest else ev.dst
        call._last_cause = outs[-1].hangup_cause
        call._last_seen = end
        self._refresh(call)
        out.append(CallUpdate(call, "new", ev, call.state))
        self._finish(call, end, call._last_cause, None, ev, out)

    def _on_cmdresult(self, ev: CommandResultEvent, out: list) -> None:
        cmd = (ev.cmd or "").upper()
        if cmd not in ("HOLD", "UNHOLD") or not (ev.res or "").upper().startswith("OK"):
            return
        exten = ev.exten or self._exten_of(ev)
        calls = self._ext.get(exten)
        if not calls:
            return
        hold = cmd == "HOLD"
        best: tuple[_Leg, Call] | None = None
        for call in calls.values():
            for leg in call._legs.values():
                if leg.exten == exten and leg.status == "connected" and leg.held != hold:
                    if best is None or leg.since > best[0].since:
                        best = (leg, call)
        if best is None:
            return
        leg, call = best
        before = call._signature()
        leg.held = hold
        call._last_seen = ev.ts
        call._touched = self._now
        self._refresh(call)
        self._changed(call, before, ev, out)

    def _on_reconciled(self, ev: Reconciled, out: list) -> None:
        exten = ev.exten
        if not exten:
            return
        up = False
        for item in ev.statuses:
            try:
                peer, state = item[0], item[1]
            except (TypeError, IndexError, KeyError):
                log.warning("malformed status in a Reconciled event: %r", item)
                continue
            if peer == exten and str(state).strip().lower() in _UP_STATES:
                up = True
        if up:
            return  # the server says a call is up: keep what we know
        for call in list(self._ext.get(exten, {}).values()):
            if any(leg.exten == exten and leg.status in _LIVE for leg in call._legs.values()):
                self.stats["reconciled"] += 1
                self._close_legs(call, exten, "lost-after-reconnect", ev, ev.ts, out)

    def _on_disconnected(self, ev: Disconnected, out: list) -> None:
        if ev.will_reconnect or not ev.exten:
            return
        for call in list(self._ext.get(ev.exten, {}).values()):
            if any(leg.exten == ev.exten and leg.status in _LIVE for leg in call._legs.values()):
                self._close_legs(call, ev.exten, "disconnected", ev, ev.ts, out)


_NEW: tuple = ("new",)
