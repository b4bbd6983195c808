"""The public model of the call tracker: :class:`Call` (one real call) and :class:`CallUpdate`.

A :class:`Call` holds the fields users read; the legs and keys the tracker relates events by
live in its :class:`~lguapi.calls.state.CallState`. The read-only views below see the
state's containers (bound once by the tracker), never the state object: a call refers to
no object that refers back to it, so ended calls are freed by reference counting alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

import msgspec

from .._log import mask_number
from ..events import Event
from .state import DEAD, LIVE, UID, active_extens_of

if TYPE_CHECKING:
    from .state import Leg

__all__ = ["Call", "CallUpdate", "CALL_FIELDS", "DIRECTIONS", "STATES"]

DIRECTIONS = ("inbound", "outbound", "internal")
STATES = ("ringing", "connected", "held", "transferring", "conference", "ended")
#: the keys of :meth:`Call.to_dict`, in order (and of :meth:`Call.to_tuple`'s values)
CALL_FIELDS = ("id", "direction", "state", "exten", "remote_number", "dialled_number", "answered_by", "handled_by",
               "caller", "callee", "hangup_cause", "end_reason", "ring_at", "answer_at", "end_at", "ring_seconds",
               "talk_seconds", "missed", "abandoned", "room", "merged_into", "continued_from", "channels", "unique_ids")


class Call(msgspec.Struct, gc=False, eq=False):
    """One real call, whatever its legs are called (docs/protocol.md §4.5).

    Times are the ``ts`` of the events (float epoch seconds). ``remote_number`` is the
    caller for inbound calls, the called number for outbound ones; for internal calls the
    caller when a tracked extension was rung, else the called extension. ``answered_by`` is
    the extension that answered first (``None`` for an outbound call: the far end
    answered). ``handled_by`` lists every extension that was connected, in order
    (transfer targets, pickups). See ``docs/calls.md`` for ``missed``/``abandoned``.

    Not tracked by the garbage collector (a ``gc=False`` msgspec Struct): a call holds
    strings, numbers and the tracker's tuples and key dict, never an object that refers back
    to it, so thousands of calls in their end grace cost full collections nothing. Made by
    the tracker as ``Call(id, ring_at)``; equal only to itself.
    """

    id: str
    ring_at: float
    direction: str = "internal"
    state: str = "ringing"
    remote_number: str | None = None
    dialled_number: str | None = None
    answered_by: str | None = None
    caller: str | None = None
    callee: str | None = None
    hangup_cause: int | None = None
    end_reason: str | None = None
    answer_at: float | None = None
    end_at: float | None = None
    missed: bool = False
    abandoned: bool = False
    room: str | None = None
    merged_into: str | None = None
    continued_from: str | None = None
    _extens: tuple[str, ...] = ()
    _handled: tuple[str, ...] = ()
    _keys: dict[str, int] = msgspec.field(default_factory=dict)
    _legs: Sequence[Leg] = ()

    def bind(self, extens: tuple[str, ...], handled: tuple[str, ...], keys: dict[str, int],
             legs: Sequence[Leg]) -> None:
        """Show the tracker's containers in the read-only views (by the tracker, when it makes them)."""
        self._extens = extens
        self._handled = handled
        self._keys = keys
        self._legs = legs

    # read-only views
    @property
    def exten(self) -> tuple[str, ...]:
        """The tracked extensions involved, in order of involvement."""
        return self._extens

    @property
    def handled_by(self) -> tuple[str, ...]:
        """Every extension that was connected to this call, in order."""
        return self._handled

    @property
    def channels(self) -> tuple[str, ...]:
        """Normalised channel names seen for this call (sorted)."""
        return tuple(_split_keys(self._keys)[0])

    @property
    def unique_ids(self) -> tuple[str, ...]:
        """Normalised unique ids seen for this call (sorted)."""
        return tuple(_split_keys(self._keys)[1])

    @property
    def answered(self) -> bool:
        return self.answer_at is not None

    @property
    def ring_seconds(self) -> float | None:
        """From the first event to the answer (or to the end when unanswered); None while ringing."""
        return _durations(self.ring_at, self.answer_at, self.end_at)[0]

    @property
    def talk_seconds(self) -> float | None:
        """From the answer to the end; 0.0 for an unanswered call; None while connected."""
        return _durations(self.ring_at, self.answer_at, self.end_at)[1]

    @property
    def active_extens(self) -> dict[str, str]:
        """``{extension: "ringing"|"connected"|"held"}`` for the tracked extensions still on the call."""
        return active_extens_of(self._legs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the public fields, keys in the order of :data:`CALL_FIELDS`."""
        channels, unique_ids = _split_keys(self._keys)
        ring_seconds, talk_seconds = _durations(self.ring_at, self.answer_at, self.end_at)
        return {
            "id": self.id, "direction": self.direction, "state": self.state,
            "exten": list(self._extens), "remote_number": self.remote_number,
            "dialled_number": self.dialled_number, "answered_by": self.answered_by,
            "handled_by": list(self._handled), "caller": self.caller, "callee": self.callee,
            "hangup_cause": self.hangup_cause, "end_reason": self.end_reason,
            "ring_at": self.ring_at, "answer_at": self.answer_at, "end_at": self.end_at,
            "ring_seconds": ring_seconds, "talk_seconds": talk_seconds,
            "missed": self.missed, "abandoned": self.abandoned, "room": self.room,
            "merged_into": self.merged_into, "continued_from": self.continued_from,
            "channels": channels, "unique_ids": unique_ids,
        }

    def to_tuple(self) -> tuple[Any, ...]:
        """The values of :meth:`to_dict` in the order of :data:`CALL_FIELDS`, the extension sequences
        as the call's own tuples: one tuple instead of a 24-key dict (what the sinks serialise)."""
        channels, unique_ids = _split_keys(self._keys)
        ring_seconds, talk_seconds = _durations(self.ring_at, self.answer_at, self.end_at)
        return (self.id, self.direction, self.state, self._extens, self.remote_number, self.dialled_number,
                self.answered_by, self._handled, self.caller, self.callee, self.hangup_cause, self.end_reason,
                self.ring_at, self.answer_at, self.end_at, ring_seconds, talk_seconds, self.missed, self.abandoned,
                self.room, self.merged_into, self.continued_from, channels, unique_ids)

    def __repr__(self) -> str:
        return (f"Call(id={self.id!r}, direction={self.direction!r}, state={self.state!r}, "
                f"exten={self.exten!r}, remote_number={mask_number(self.remote_number)!r}, "
                f"answered_by={self.answered_by!r}, end_reason={self.end_reason!r})")


def _split_keys(keys: dict[str, int]) -> tuple[list[str], list[str]]:
    """A call's channel names (live or dead) and unique ids, each sorted, in one pass over its keys."""
    channels: list[str] = []
    unique_ids: list[str] = []
    for k, v in keys.items():
        if v == UID:
            unique_ids.append(k)
        elif v == LIVE or v == DEAD:
            channels.append(k)
    channels.sort()
    unique_ids.sort()
    return channels, unique_ids


def _durations(ring_at: float, answer_at: float | None, end_at: float | None) -> tuple[float | None, float | None]:
    """``(ring_seconds, talk_seconds)``: ringing until the answer (or the end when unanswered),
    talking from the answer to the end; never negative, None while not yet known."""
    stop = answer_at if answer_at is not None else end_at
    if stop is None:
        ring = None
    else:
        ring = stop - ring_at
        ring = ring if ring > 0.0 else 0.0  # max(0.0, ring), NaN included, without the call
    if answer_at is None:
        return ring, (0.0 if end_at is not None else None)
    if end_at is None:
        return ring, None
    talk = end_at - answer_at
    return ring, (talk if talk > 0.0 else 0.0)


class CallUpdate(NamedTuple):
    """What an event did to a call. ``call`` is the live object (it keeps changing; use
    ``call.to_dict()`` for a copy); ``state`` is the call's state when the update was made.
    ``kind`` is ``"new"``, ``"changed"`` or ``"ended"``; an ``"ended"`` update with
    ``call.end_reason == "merged"`` withdraws a call that turned out to be part of
    ``call.merged_into`` (count it nowhere).

    Immutable (a named tuple: one allocation, no garbage-collector tracking of its own)."""

    call: Call
    kind: str
    event: Event | None = None
    state: str = ""

