"""One event into the tracker's books: the clock, the deadlines due, the sender's extension, the handler of its type.

:class:`~lguapi.calls.tracker.CallTracker` hands every event here; in the compiled twin this is
C code calling the handlers as C functions, with :func:`apply_many` looping over a batch.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from lguapi.events import (
    CdrEvent, ChannelListEvent, ChannelOutEvent, CommandResultEvent, ConferenceEvent, Disconnected, Event,
    LoggedIn, Reconciled, Reconnected, RingEvent,
)

# the parts of the compiled twin import each other on one line each (relatively inside the
# package): setup.py joins them into one module, lguapi.calls._c.core, and drops these lines
from .book import Book
from .hints import warm
from .handlers import on_list, on_out, on_ring
from .handlers_more import on_cdr, on_cmdresult, on_conf, on_disconnected, on_reconciled, on_session

__all__ = ["HANDLERS", "WARM_EVERY", "apply", "apply_many", "apply_recorded"]

#: events between two calls of :func:`~lguapi.calls.hints.warm` in a batch (a power of two); at
#: the ingest stage's rate fewer ends than a step's reach are confirmed in that many events
WARM_EVERY = 32

#: event type -> handler(book, event, updates)
HANDLERS: dict[type, Callable[[Book, Any, list], None]] = {
    RingEvent: on_ring, ChannelListEvent: on_list, ChannelOutEvent: on_out,
    ConferenceEvent: on_conf, CommandResultEvent: on_cmdresult, CdrEvent: on_cdr,
    Reconciled: on_reconciled, Disconnected: on_disconnected,
    Reconnected: on_session, LoggedIn: on_session,
}


def apply(b: Book, event: Event, now: float, out: list) -> None:
    """Apply ``event`` at tracker time ``now``, appending the updates it caused to ``out``."""
    b.now = now
    dl = b.deadlines
    if now >= dl.due:
        b.run_deadlines(now, out, dl.sweep_due(now), now)
    exten = event.exten
    if exten and exten not in b.tracked:
        b.tracked.add(exten)
    kind = type(event)
    # the three call-progress events directly (C calls in the compiled twin), the rest by the table
    if kind is RingEvent:  # (an identity test does not narrow the type for mypy)
        on_ring(b, event, out)  # type: ignore[arg-type]
    elif kind is ChannelOutEvent:
        on_out(b, event, out)  # type: ignore[arg-type]
    elif kind is ChannelListEvent:
        on_list(b, event, out)  # type: ignore[arg-type]
    else:
        handler = HANDLERS.get(kind)
        if handler is not None:
            handler(b, event, out)
    if b.overgrown is not None or len(b.states) > b.max_active or len(b.idx) > b.max_keys:
        b.shed(out)  # (a bound on the calls in progress was passed by this event)


def apply_many(b: Book, events: Iterable[Event], clock: Callable[[], float], out: list) -> None:
    """:func:`apply` of each event in order, the clock read once per event (and, every
    :data:`WARM_EVERY` events, the memory of the next calls to end prefetched: :func:`warm`)."""
    _apply_each(b, events, clock, out)


def apply_recorded(b: Book, events: Iterable[Event], out: list) -> None:
    """:func:`apply` of each event in order at its own time, ``ts`` (a replay: the clock is the
    recording's); no clock is read. Prefetches as :func:`apply_many` does."""
    _apply_each(b, events, None, out)


def _apply_each(b: Book, events: Iterable[Event], clock: Callable[[], float] | None, out: list) -> None:
    """The loop of :func:`apply_many` (``clock``) and :func:`apply_recorded` (None: each event's ``ts``)."""
    dl = b.deadlines
    n = 0
    mask = WARM_EVERY - 1
    for event in events:
        if n & mask == 0:
            warm(dl)
        n += 1
        apply(b, event, event.ts if clock is None else clock(), out)
