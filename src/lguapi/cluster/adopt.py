"""Calls a vanished member left open, followed to their end by the member that took its extensions over.

After a takeover the new owner's call tracker knows nothing of the calls in progress on the
extensions it just logged in: the dead member saw them ring and answer, the new owner only
sees what comes next (an answer, then the hang-up). :class:`CallAdopter` bridges that. For
each taken extension it

1. buffers the extension's events from before the login until the reconciliation is done
   (:meth:`watch`), so nothing that happens meanwhile is missed;
2. takes over the open calls the stream shows for the extension (:meth:`adopt`), replays the
   buffered events into them, and closes at once those the server says are over
   (GETSTATUSPEERS ``Down``: ``end_reason "failover"``, ended at the reconciliation);
3. follows the others from the extension's raw events: a CHANNELLIST of the call answers it,
   a CHANNELOUT of the extension's own channel ends it (at that event's time).

Every update goes out as the **dead member's view** (``"view": <member>`` in the message), so
a sink worker replaces that view instead of keeping it open for ever: each adopted call is
stored once, merged with whatever the new owner's own tracker saw of it.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from ..channels import normalize_channel, normalize_unique_id, own_channel
from ..events import ChannelListEvent, ChannelOutEvent

__all__ = ["CallAdopter", "OpenCall"]

#: publish(message, login_id): the node's own publisher (sets node and fencing token)
Publish = Callable[[dict, str], None]


class OpenCall:
    """One call a vanished member published as not ended: its last known dict and its view."""

    __slots__ = ("data", "view", "keys")

    def __init__(self, data: dict, view: str) -> None:
        self.data = dict(data)
        self.view = view
        self.keys: set[str] = {str(data.get("id"))}
        self.keys.update(str(u) for u in data.get("unique_ids") or ())
        self.keys.update(str(c) for c in data.get("channels") or ())

    def matches(self, keys: set[str]) -> bool:
        return not self.keys.isdisjoint(keys)


class CallAdopter:
    """The adopted calls of one member (see the module docstring).

    ``publish(message, login_id)`` sends a message to the stream; ``max_buffered``: events
    kept per watched extension while its reconciliation runs (beyond it the oldest go, counted
    in ``stats["dropped"]``).
    """

    def __init__(self, publish: Publish, *, max_buffered: int = 1000) -> None:
        if max_buffered < 1:
            raise ValueError("max_buffered must be >= 1")
        self._publish = publish
        self.max_buffered = max_buffered
        self._buffer: dict[str, list[Any]] = {}
        self._calls: dict[str, list[OpenCall]] = {}
        self._login: dict[str, tuple[str, str | None]] = {}   # exten -> (login id, domain)
        #: adopted, answered after the takeover, ended by an event, closed at reconciliation, dropped
        self.stats: dict[str, int] = {"adopted": 0, "answered": 0, "ended": 0, "closed": 0, "released": 0,
                                      "dropped": 0}

    def watch(self, extens: list[str]) -> None:
        """Start buffering these extensions' events (call before logging them in)."""
        for e in extens:
            self._buffer.setdefault(e, [])

    def unwatch(self, extens: list[str]) -> None:
        """Stop buffering these extensions (what is still buffered is dropped: no adoption came)."""
        for e in extens:
            self._buffer.pop(e, None)

    def busy(self, exten: str) -> bool:
        """Is an adopted call of ``exten`` still in progress?"""
        return bool(self._calls.get(exten))

    def open_count(self) -> int:
        return sum(len(v) for v in self._calls.values())

    def adopt(self, exten: str, login_id: str, domain: str | None, calls: list[OpenCall], *,
              up: bool | None) -> None:
        """Take over ``calls`` of ``exten``, replay its buffered events into them, and close the
        ones still open when the server said the extension is not on a call (``up`` False;
        None: the status is unknown, keep following)."""
        events = self._buffer.pop(exten, [])
        self._login[exten] = (login_id, domain)
        if calls:
            self._calls[exten] = list(calls)
            self.stats["adopted"] += len(calls)
        for ev in events:
            self.on_event(ev)
        if up is False:
            now = time.time()
            for c in self._calls.pop(exten, []):
                self.stats["closed"] += 1
                self._end(exten, c, max(now, c.data.get("ring_at") or now), "failover", None)

    def release(self, exten: str, reason: str) -> None:
        """``exten`` is logged out here (handover, lease lost): close what is still adopted, now."""
        self._buffer.pop(exten, None)
        calls = self._calls.pop(exten, [])
        now = time.time()
        for c in calls:
            self.stats["released"] += 1
            self._end(exten, c, now, reason, None)

    def on_event(self, ev: Any) -> None:
        """Feed one event of this member's clients (cheap when the extension adopted nothing)."""
        exten = ev.exten
        if not exten:
            return
        buf = self._buffer.get(exten)
        if buf is not None:
            buf.append(ev)
            if len(buf) > self.max_buffered:
                del buf[0]
                self.stats["dropped"] += 1
            return
        calls = self._calls.get(exten)
        if not calls:
            return
        if isinstance(ev, ChannelListEvent):
            self._on_list(exten, calls, ev)
        elif isinstance(ev, ChannelOutEvent):
            self._on_out(exten, calls, ev)

    # -- following -------------------------------------------------------------------------
    def _on_list(self, exten: str, calls: list[OpenCall], ev: ChannelListEvent) -> None:
        keys = _keys(normalize_channel(ev.channel1), normalize_channel(ev.channel2),
                     normalize_unique_id(ev.unique_id1), normalize_unique_id(ev.unique_id2))
        for c in calls:
            if not c.matches(keys):
                continue
            c.keys |= keys
            d = c.data
            if d.get("answer_at") is None:
                d.update(answer_at=ev.ts, answered_by=d.get("answered_by") or exten, missed=False, abandoned=False,
                         state="connected")
                self.stats["answered"] += 1
                self._send(exten, c, "call.answered", d.get("ring_at") or ev.ts)
            return

    def _on_out(self, exten: str, calls: list[OpenCall], ev: ChannelOutEvent) -> None:
        chan = normalize_channel(ev.channel)
        keys = _keys(chan, normalize_unique_id(ev.unique_id), normalize_unique_id(ev.src_unique_id))
        if chan is None or own_channel(exten, chan, None) != chan:
            return  # another party's channel: this extension's part goes on
        for c in calls:
            if c.matches(keys):
                calls.remove(c)
                self.stats["ended"] += 1
                self._end(exten, c, ev.ts, "hangup", ev.hangup_cause)
                return

    def _end(self, exten: str, c: OpenCall, end_at: float, reason: str, cause: int | None) -> None:
        d = c.data
        d.update(state="ended", end_at=end_at, end_reason=reason)
        if cause is not None:
            d["hangup_cause"] = cause
        ring, answer = d.get("ring_at"), d.get("answer_at")
        if ring is not None:
            d["ring_seconds"] = max(0.0, (answer if answer is not None else end_at) - ring)
        if answer is not None:
            d["talk_seconds"] = max(0.0, end_at - answer)
        self._send(exten, c, "call.ended", end_at)

    def _send(self, exten: str, c: OpenCall, type_: str, ts: float) -> None:
        login_id, domain = self._login.get(exten, ("", None))
        self._publish({"kind": "call", "type": type_, "ts": ts, "exten": exten, "domain": domain,
                       "view": c.view, "data": dict(c.data)}, login_id)


def _keys(*values: str | None) -> set[str]:
    return {v for v in values if v}
