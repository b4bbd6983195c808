"""From the Monitor to the feed: call updates, extension state changes and events as hub messages.

:class:`MonitorBridge` hooks into :meth:`lguapi.Monitor.add_update_hook` and
:meth:`~lguapi.Monitor.add_event_hook` (both synchronous, on the monitor's loop) and
publishes, for each:

* a call update: ``call.ringing`` (new call), ``call.answered`` (first time connected),
  ``call.updated``, ``call.ended`` (``data["outcome"]`` added);
* an extension whose :meth:`~lguapi.Monitor.line_state` changed: ``extension.state``;
* every event except ``skip_events`` (wire names, ``PING`` by default): ``event.<name>``.

It also counts what ``/metrics`` reports (events by type, calls by outcome, logins,
reconnects) in plain dicts: cheaper than a metric object per event.
"""
from __future__ import annotations

import collections
from typing import Any, Iterable

from ..events import EVENT_TYPES, ConnectionEvent, Event, LoggedIn, Reconnected
from .feed import Hub
from .jsonable import to_jsonable

__all__ = ["MonitorBridge", "call_outcome", "MAX_OTHER_EVENT_NAMES", "OTHER_EVENT_NAME"]

#: event names outside the protocol's own that ``events_by_type`` (``lguapi_events_total``)
#: counts one by one; a server sending ever new names would otherwise grow the counter, and
#: every scrape, without end. Later new names are counted together under OTHER_EVENT_NAME.
MAX_OTHER_EVENT_NAMES = 64
OTHER_EVENT_NAME = "other"


def call_outcome(call: Any) -> str:
    """``answered``, ``missed``, ``abandoned``, ``merged`` or the call's ``end_reason``
    (``busy``, ``no-answer``, ``rejected``, ``cancelled``, ``unanswered``, ``expired`` ...)."""
    reason = getattr(call, "end_reason", None)
    if reason == "merged":
        return "merged"
    if getattr(call, "answer_at", None) is not None:
        return "answered"
    if getattr(call, "missed", False):
        return "missed"
    if getattr(call, "abandoned", False):
        return "abandoned"
    return reason or "unanswered"


class MonitorBridge:
    """Publishes the monitor's updates, state changes and events on ``hub``."""

    def __init__(self, monitor: Any, hub: Hub, *, skip_events: Iterable[str] = ("PING",)) -> None:
        self.monitor = monitor
        self.hub = hub
        self._skip = frozenset(s.upper() for s in skip_events)
        self._states: dict[str, str] = {}
        self._domains: dict[str, str] = {}
        self._answered: set[str] = set()
        self.events_by_type: collections.Counter[str] = collections.Counter()
        self._other_names = MAX_OTHER_EVENT_NAMES  # unknown names that may still get a count of their own
        self.calls_by_outcome: collections.Counter[str] = collections.Counter()
        self.logins: int = 0
        self.reconnects: int = 0
        monitor.add_update_hook(self.on_update)
        monitor.add_event_hook(self.on_event)

    # -- hooks ---------------------------------------------------------------------------------
    def on_update(self, update: Any) -> None:
        call = update.call
        data = call.to_dict()
        if update.kind == "new":
            type_ = "call.ringing"
        elif update.kind == "ended":
            type_ = "call.ended"
            outcome = data["outcome"] = call_outcome(call)
            self.calls_by_outcome[outcome] += 1
            self._answered.discard(call.id)
        elif call.answer_at is not None and call.id not in self._answered:
            type_ = "call.answered"
            self._answered.add(call.id)
        else:
            type_ = "call.updated"
        if update.kind == "new" and call.answer_at is not None:
            self._answered.add(call.id)
        extens = data["exten"]
        first = extens[0] if extens else None
        self.hub.publish("call", type_, data, exten=first, domain=self.domain_of(first), ts=update.event.ts
                         if update.event is not None else None)
        for ex in extens:
            self._check_state(ex, call.id)

    def on_event(self, ev: Event) -> None:
        name = ev.name or type(ev).__name__
        counts = self.events_by_type
        if name not in counts and name not in EVENT_TYPES and not isinstance(ev, ConnectionEvent):
            if self._other_names > 0:
                self._other_names -= 1
            else:
                name = OTHER_EVENT_NAME
        counts[name] += 1
        if isinstance(ev, ConnectionEvent):
            if isinstance(ev, LoggedIn):
                self.logins += 1
                self._domains.pop(ev.exten or "", None)  # the login result may name the domain
            elif isinstance(ev, Reconnected):
                self.reconnects += 1
        exten = ev.exten
        if name.upper() not in self._skip:
            self.hub.publish("event", "event." + name.lower(), to_jsonable(ev), exten=exten,
                             domain=self.domain_of(exten), ts=ev.ts)
        if exten and isinstance(ev, ConnectionEvent):
            self._check_state(exten, None)

    # -- state ---------------------------------------------------------------------------------
    def domain_of(self, exten: str | None) -> str | None:
        if exten is None:
            return None
        dom = self._domains.get(exten)
        if dom is None:
            try:
                dom = self.monitor.extension(exten)["domain"]
            except KeyError:
                return None
            self._domains[exten] = dom
        return dom

    def _check_state(self, exten: str, call_id: str | None) -> None:
        try:
            state = self.monitor.line_state(exten)
        except KeyError:  # a tracked call's other party we do not monitor
            return
        previous = self._states.get(exten, "offline")
        if state == previous:
            return
        self._states[exten] = state
        if state in ("idle", "offline"):
            call_id = None
        domain = self.domain_of(exten)
        self.hub.publish("extension", "extension.state",
                         {"exten": exten, "domain": domain, "state": state, "previous": previous,
                          "call_id": call_id}, exten=exten, domain=domain)

    def close(self) -> None:
        self._answered.clear()
