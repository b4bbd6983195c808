"""The public :class:`CallTracker`: feed it events (or attach clients), get :class:`CallUpdate`s.

It owns the :class:`~lguapi.calls.book.Book` (the compiled twin's when built, see
:mod:`lguapi.calls._twin`) and hands each event to :mod:`lguapi.calls.feed`, which dispatches
it, by its type, to one handler of :data:`HANDLERS`; it also runs the deadlines on the event
loop and fans the updates out to the :meth:`CallTracker.updates` subscribers.
"""
from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable

from ..events import Event
from ._twin import hot
from .model import Call, CallUpdate
from .stream import UpdateStream

if TYPE_CHECKING:  # both twins have this surface; the pure modules describe it
    from . import core as C
    from .book import Book
else:  # the compiled twin when built (lguapi.calls._twin)
    C = hot("core")
    Book = C.Book

__all__ = ["CallTracker", "HANDLERS", "DEFAULT_MAX_ACTIVE", "DEFAULT_MAX_KEYS", "DEFAULT_MAX_CALL_KEYS"]

log = logging.getLogger("lguapi.calls")

#: calls in progress a tracker keeps by default (``max_active``): about 200 MB of them
DEFAULT_MAX_ACTIVE = 100_000
#: keys (channel names, unique ids, rooms) of the calls in progress, by default (``max_keys``):
#: about 300 MB with the calls they name
DEFAULT_MAX_KEYS = 2_000_000
#: keys of one call, by default (``max_call_keys``): thousands of legs (each names a channel or
#: two), more than a queue call ringing dozens of agents for many minutes makes
DEFAULT_MAX_CALL_KEYS = 10_000

#: event type -> handler(book, event, updates) (the selected twin's table, lguapi.calls.feed)
HANDLERS: dict[type, Callable[[Book, Any, list], None]] = C.HANDLERS


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
    from the events' ``ts``. ``keep_ended``, ``max_tombstones``/``tombstone_ttl`` and
    ``max_orphans``/``orphan_ttl`` bound the memories (``docs/limits.md``). ``max_active``
    and ``max_keys`` bound the calls in progress and the channel names, unique ids and rooms they
    hold: past either the oldest are ended (``end_reason "evicted"``, down to a hundredth below
    the bound), so that a server that starts calls and never ends them cannot exhaust memory
    before ``call_expiry`` would have closed them. A call that comes to hold more than
    ``max_call_keys`` keys (a server naming new channels under its ids without end) is ended
    the same way.

    Feed events with :meth:`feed` (returns the updates they caused) or subscribe to
    clients with :meth:`attach`; consume updates with :meth:`updates`. With :meth:`feed`
    alone, call :meth:`expire` now and then (``attach`` arms a timer for it).
    """

    def __init__(self, *, ring_expiry: float = 300.0, clock: Callable[[], float] = time.time,
                 end_grace: float | None = None, call_expiry: float = 6 * 3600.0,
                 keep_ended: int = 1000, tombstone_ttl: float = 600.0,
                 max_tombstones: int = 200_000, max_orphans: int = 10_000,
                 orphan_ttl: float = 120.0, max_active: int = DEFAULT_MAX_ACTIVE, max_keys: int = DEFAULT_MAX_KEYS,
                 max_call_keys: int = DEFAULT_MAX_CALL_KEYS):
        if ring_expiry <= 0 or call_expiry <= 0:
            raise ValueError("ring_expiry and call_expiry must be > 0")
        for name, bound in (("max_active", max_active), ("max_keys", max_keys), ("max_call_keys", max_call_keys)):
            if bound < 1:
                raise ValueError(f"{name} must be >= 1, not {bound}")
        if end_grace is not None and end_grace < 0:
            raise ValueError("end_grace must be >= 0 or None")
        self._book = Book(clock=clock, end_grace=end_grace, ring_expiry=float(ring_expiry),
                          call_expiry=float(call_expiry), keep_ended=keep_ended,
                          tombstone_ttl=tombstone_ttl, max_tombstones=max_tombstones,
                          max_orphans=max_orphans, orphan_ttl=orphan_ttl, max_active=max_active,
                          max_keys=max_keys, max_call_keys=max_call_keys)
        self._clock = clock
        self._streams: list[weakref.ref[UpdateStream]] = []
        self._clients: list[Any] = []
        self._timer_handle: asyncio.TimerHandle | None = None
        self._timer_when: float | None = None

    # -- what the tracker knows --------------------------------------------------------

    @property
    def active(self) -> dict[str, Call]:
        """Active calls by id."""
        return self._book.active

    @property
    def ended(self) -> deque[Call]:
        """The most recently ended calls (``keep_ended`` of them), oldest first."""
        return self._book.ended

    @property
    def stats(self) -> dict[str, int]:
        """Counters: calls, stale (late duplicates dropped), orphans, merged, expired,
        reconciled, refused (events that would start a call but name no channel)."""
        return self._book.stats

    @property
    def ring_expiry(self) -> float:
        return self._book.ring_expiry

    @property
    def call_expiry(self) -> float:
        return self._book.call_expiry

    @property
    def end_grace(self) -> float | None:
        return self._book.end_grace

    @end_grace.setter
    def end_grace(self, value: float | None) -> None:
        if value is not None and value < 0:
            raise ValueError("end_grace must be >= 0 or None")
        self._book.end_grace = value

    # the books, for tests and diagnostics (read-only views of the same objects)
    @property
    def _idx(self) -> dict:
        return self._book.idx

    @property
    def _ext(self) -> dict:
        return self._book.ext

    @property
    def _tomb(self) -> Any:
        return self._book.tomb

    @property
    def _timers(self) -> Any:
        return self._book.deadlines

    # -- public API ------------------------------------------------------------------

    def feed(self, event: Event) -> list[CallUpdate]:
        """Apply one event; returns the updates it caused (empty for duplicates)."""
        out: list[CallUpdate] = []
        C.apply(self._book, event, self._clock(), out)
        if out and self._streams:
            self._publish(out)
        return out

    def feed_many(self, events: Iterable[Event]) -> list[CallUpdate]:
        """Apply ``events`` in order; returns every update they caused, in order.

        The same as calling :meth:`feed` for each (the clock is read once per event), with
        one list and one hand-off to the :meth:`updates` subscribers for the whole batch:
        for a reader that decodes many events at once (the Monitor, ``lguapi replay``)."""
        out: list[CallUpdate] = []
        C.apply_many(self._book, events, self._clock, out)
        if out and self._streams:
            self._publish(out)
        return out

    def feed_recorded(self, events: Iterable[Event]) -> list[CallUpdate]:
        """Apply recorded events in order, each at its own time (``event.ts``); returns every
        update they caused, in order.

        :meth:`feed_many` with a clock that reads each event's ``ts`` as it is applied, but no
        clock call at all: for events that carry the time they were received, as a capture's
        do (``lguapi replay`` feeds its batches here). Grace and expiry deadlines then run on
        the recording's time, and every event needs a numeric ``ts``."""
        out: list[CallUpdate] = []
        C.apply_recorded(self._book, events, out)
        if out and self._streams:
            self._publish(out)
        return out

    def expire(self, now: float | None = None) -> list[CallUpdate]:
        """Close rings older than ``ring_expiry``, confirm ends whose grace has passed,
        close calls silent for ``call_expiry``. Returns the updates."""
        out: list[CallUpdate] = []
        b = self._book
        if now is None:
            b.now = now = swept_at = self._clock()
        else:  # a time ahead of the clock expires what it should; the next sweep counts from the clock
            b.now = now
            swept_at = min(now, self._clock())
        b.run_deadlines(now, out, True, swept_at)
        if out:
            self._publish(out)
        return out

    def flush(self) -> list[CallUpdate]:
        """Confirm every pending end now (at shutdown, or in tests)."""
        out: list[CallUpdate] = []
        self._book.now = self._clock()
        self._book.flush(out)
        if out:
            self._publish(out)
        return out

    def calls(self, *, include_ended: bool = False) -> list[Call]:
        """Active calls (oldest first), optionally followed by the recently ended ones."""
        states = sorted(self._book.states.values(), key=lambda s: (s.call.ring_at, s.seq))
        calls = [s.call for s in states]
        if include_ended:
            calls.extend(self._book.ended)
        return calls

    def calls_of(self, exten: str) -> list[Call]:
        """The active calls ``exten`` is on now (ringing, connected or held), oldest first."""
        return self._book.calls_of(exten)

    def attach(self, client: Any) -> None:
        """Subscribe to every event of ``client`` (works with any number of clients)."""
        client.on(Event, self._on_client_event)
        self._clients.append(client)
        self._book.clients = len(self._clients)

    def detach(self, client: Any) -> None:
        """Stop following ``client``."""
        try:
            client.off(Event, self._on_client_event)
        finally:
            if client in self._clients:
                self._clients.remove(client)
            self._book.clients = len(self._clients)

    def updates(self, *, maxsize: int = 100_000) -> AsyncIterator[CallUpdate]:
        """An async iterator of every update from now on (each call makes a new subscriber).

        The subscriber queue holds ``maxsize`` updates; when a consumer falls that far
        behind, the oldest are dropped and counted (``.dropped``) with a warning logged.
        """
        stream = UpdateStream(maxsize)
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
                stream.end()
        self._streams = []

    # -- plumbing --------------------------------------------------------------------

    def _on_client_event(self, event: Event) -> None:
        try:
            self.feed(event)
        except Exception:  # never break the client's dispatch; never swallow silently
            log.exception("call tracker failed on %s event", getattr(event, "name", "?"))
        self._arm()

    def _arm(self) -> None:
        when = self._book.deadlines.due
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
        prune = False
        for ref in self._streams:
            stream = ref()
            if stream is None or stream.ended:
                prune = True
                continue
            for u in updates:
                stream.push(u)
        if prune:
            self._streams = [r for r in self._streams if (st := r()) is not None and not st.ended]
