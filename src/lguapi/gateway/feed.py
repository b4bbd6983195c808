"""The live feed's hub: numbered messages, a bounded resume buffer and bounded subscribers.

Every message is a dict ``{"id", "kind", "type", "ts", "exten", "domain", "data"}`` (see
``docs/gateway.md``); ids increase by one per message for the life of the process.
:meth:`Hub.publish` keeps the last ``buffer`` messages for resuming, calls every listener
synchronously (the webhook dispatcher's ``offer``) and appends the message to each matching
subscriber's queue. A subscriber whose queue holds ``queue`` messages while it is still busy writing
earlier ones is cut off with a reason (one that was idle takes the whole burst on its next
turn, up to ``buffer`` messages); nobody ever waits for a subscriber.

>>> hub = Hub(buffer=2)
>>> for i in range(3):
...     _ = hub.publish("event", "event.ringevent", {"n": i}, exten="3001")
>>> sub = hub.subscribe(since=0)
>>> [m["kind"] for m in sub.drain()]
['gap', 'event', 'event']
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from typing import Any, Callable, Iterable

from .jsonable import dumps, mask_numbers

__all__ = ["Hub", "Subscriber", "SubscriberCut", "FeedFilter", "FeedEntry", "KINDS"]

log = logging.getLogger("lguapi.gateway.feed")

#: message kinds a filter can name (``gap`` always passes)
KINDS = ("call", "extension", "event")


class FeedFilter:
    """Which messages a subscriber wants: extensions, domains and kinds (``None``: any).

    A token limited to extensions or domains narrows the filter with :meth:`narrowed`.
    """

    __slots__ = ("extens", "domains", "kinds")

    def __init__(self, extens: Iterable[str] | None = None, domains: Iterable[str] | None = None,
                 kinds: Iterable[str] | None = None) -> None:
        self.extens = frozenset(extens) if extens is not None else None
        self.domains = frozenset(domains) if domains is not None else None
        self.kinds = frozenset(kinds) if kinds is not None else None
        if self.kinds is not None and self.kinds - set(KINDS):
            raise ValueError(f"unknown kind(s) {sorted(self.kinds - set(KINDS))}; kinds are {list(KINDS)}")

    def narrowed(self, extens: frozenset[str] | None, domains: frozenset[str] | None) -> FeedFilter:
        """This filter intersected with a token's limits."""
        ex = self.extens if extens is None else (extens if self.extens is None else self.extens & extens)
        do = self.domains if domains is None else (domains if self.domains is None else self.domains & domains)
        return FeedFilter(ex, do, self.kinds)

    def wants(self, msg: dict) -> bool:
        kind = msg["kind"]
        if kind == "gap":
            return True
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.extens is not None and msg["exten"] not in self.extens and not _call_has(msg, self.extens):
            return False
        if self.domains is not None and msg["domain"] not in self.domains:
            return False
        return True


def _call_has(msg: dict, extens: frozenset[str]) -> bool:
    """A call message also matches any of the call's other tracked extensions."""
    if msg["kind"] != "call":
        return False
    return not extens.isdisjoint(msg["data"].get("exten") or ())


class FeedEntry:
    """One published message; its JSON text and SSE frame are made once for every subscriber
    (and the masked ones once more, on demand)."""

    __slots__ = ("msg", "id", "_text", "_masked", "_sse", "_sse_masked")

    def __init__(self, msg: dict) -> None:
        self.msg = msg
        self.id: int = msg["id"]
        self._text: str | None = None
        self._masked: str | None = None
        self._sse: bytes | None = None
        self._sse_masked: bytes | None = None

    def text(self, masked: bool = False) -> str:
        """The message as compact JSON (phone numbers masked when ``masked``)."""
        if masked:
            if self._masked is None:
                self._masked = dumps(mask_numbers(self.msg))
            return self._masked
        if self._text is None:
            self._text = dumps(self.msg)
        return self._text

    def sse(self, masked: bool = False) -> bytes:
        """The message as one Server-Sent Events frame (``id:`` and ``data:`` lines)."""
        frame = self._sse_masked if masked else self._sse
        if frame is None:
            frame = f"id: {self.id}\ndata: {self.text(masked)}\n\n".encode("utf-8")
            if masked:
                self._sse_masked = frame
            else:
                self._sse = frame
        return frame


class Subscriber:
    """One feed connection: a bounded queue of entries; ``cut`` holds the reason once cut off."""

    __slots__ = ("filter", "masked", "max_queue", "hard_limit", "_queue", "_wake", "_waiting", "cut", "closed",
                 "sent", "_hub", "on_cut")

    def __init__(self, hub: Hub, flt: FeedFilter, max_queue: int, masked: bool, hard_limit: int) -> None:
        self._hub = hub
        self.filter = flt
        self.masked = masked
        self.max_queue = max_queue
        self.hard_limit = max(max_queue, hard_limit)
        self._waiting = False  # idle, waiting for messages: it takes the whole queue on its next turn
        #: called (no arguments) when the hub cuts this subscriber off for falling behind
        self.on_cut: Callable[[], Any] | None = None
        self._queue: collections.deque[FeedEntry] = collections.deque()
        self._wake = asyncio.Event()
        self.cut: str | None = None
        self.closed = False
        self.sent = 0

    def _push(self, entry: FeedEntry) -> bool:
        """Queue one entry; False (and cut off) when the queue is full: ``max_queue`` while the
        subscriber is busy writing (it is behind), ``hard_limit`` even while it waits (one burst
        of messages, published before it could run, larger than the resume buffer)."""
        n = len(self._queue)
        if n >= self.max_queue and (not self._waiting or n >= self.hard_limit):
            self.cut = (f"slow subscriber: {len(self._queue)} messages waiting (the queue limit); "
                        f"reconnect with the last id to resume")
            self._wake.set()
            return False
        self._queue.append(entry)
        if len(self._queue) == 1:
            self._wake.set()
        return True

    async def next_batch(self, timeout: float | None = None, limit: int = 500) -> list[FeedEntry]:
        """The queued messages (up to ``limit``; render them with ``entry.text(sub.masked)`` or
        ``entry.sse(sub.masked)``); waits up to ``timeout`` for one. An empty list means the
        wait timed out; raises :class:`SubscriberCut` once cut off (after the messages queued
        before the cut)."""
        if not self._queue and self.cut is None:
            self._wake.clear()
            self._waiting = True
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                return []
            finally:
                self._waiting = False
        if self.cut is not None and not self._queue:
            raise SubscriberCut(self.cut)
        q = self._queue
        n = min(limit, len(q))
        out = [q.popleft() for _ in range(n)]
        self.sent += n
        return out

    def drain(self) -> list[dict]:
        """Every queued message as a dict (for tests and in-process use)."""
        out = [e.msg for e in self._queue]
        self._queue.clear()
        return out

    def stop(self, reason: str) -> None:
        """End this subscription (the connection closed): :meth:`next_batch` raises."""
        if self.cut is None:
            self.cut = reason
        self._queue.clear()
        self._wake.set()
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub._remove(self)


class SubscriberCut(Exception):
    """A subscriber was cut off (its queue filled, or the gateway is closing)."""


class Hub:
    """Numbered feed messages: resume buffer of ``buffer``, subscribers of ``queue`` each,
    at most ``max_subscribers`` at once (:meth:`subscribe` raises ``OverflowError`` beyond)."""

    def __init__(self, *, buffer: int = 10_000, queue: int = 2_000, max_subscribers: int = 1_000,
                 clock: Callable[[], float] = time.time) -> None:
        if buffer < 1 or queue < 1 or max_subscribers < 1:
            raise ValueError("buffer, queue and max_subscribers must be at least 1")
        self.buffer_size = buffer
        self.queue_size = queue
        self.max_subscribers = max_subscribers
        self._clock = clock
        self._ring: collections.deque[FeedEntry] = collections.deque(maxlen=buffer)
        self._subs: list[Subscriber] = []
        self._listeners: list[Callable[[dict], Any]] = []
        self.last_id = 0
        #: subscribers cut off for falling behind, since start
        self.cut_count = 0
        #: messages published, since start
        self.published = 0

    # -- producers -----------------------------------------------------------------------------
    def publish(self, kind: str, type: str, data: dict, *, exten: str | None = None,
                domain: str | None = None, ts: float | None = None) -> dict:
        """Number, keep and fan out one message; returns it."""
        self.last_id += 1
        msg = {"id": self.last_id, "kind": kind, "type": type, "ts": self._clock() if ts is None else ts,
               "exten": exten, "domain": domain, "data": data}
        entry = FeedEntry(msg)
        self._ring.append(entry)
        self.published += 1
        for listener in self._listeners:
            try:
                listener(msg)
            except Exception:
                log.exception("gateway feed: a listener failed on message %d", msg["id"])
        cut = None
        for sub in self._subs:
            if sub.filter.wants(msg) and not sub._push(entry):
                cut = cut or []
                cut.append(sub)
        if cut:
            for sub in cut:
                self.cut_count += 1
                log.warning("gateway feed: %s", sub.cut)
                sub.close()
                if sub.on_cut is not None:
                    try:
                        sub.on_cut()
                    except Exception:
                        log.exception("gateway feed: an on_cut callback failed")
        return msg

    def add_listener(self, callback: Callable[[dict], Any]) -> None:
        """Call ``callback(message)`` synchronously for every message (it must be cheap and
        never block; the webhook dispatcher's ``offer`` is one)."""
        self._listeners.append(callback)

    # -- consumers -----------------------------------------------------------------------------
    def subscribe(self, flt: FeedFilter | None = None, *, since: int | None = None,
                  masked: bool = False) -> Subscriber:
        """A new subscriber. With ``since`` (the last id the client has), the buffered messages
        after it come first, preceded by a ``gap`` message when some have left the buffer."""
        if len(self._subs) >= self.max_subscribers:
            raise OverflowError(f"the feed has its {self.max_subscribers} subscribers already (max_subscribers)")
        sub = Subscriber(self, flt or FeedFilter(), self.queue_size, masked, self.buffer_size)
        if since is not None:
            self._replay(sub, since)
        self._subs.append(sub)
        return sub

    def _replay(self, sub: Subscriber, since: int) -> None:
        oldest = self._ring[0].id if self._ring else self.last_id + 1
        after = since  # replay the buffered messages with ids above this one
        reason = None
        if since > self.last_id:  # an id of an earlier gateway process: replay all we have
            reason, after = "unknown id (the gateway restarted?)", oldest - 1
        elif since < oldest - 1:
            reason = "the messages after this id have left the resume buffer"
        if reason is not None:
            gap = {"id": oldest - 1, "kind": "gap", "type": "gap", "ts": self._clock(), "exten": None,
                   "domain": None, "data": {"reason": reason, "since": since, "oldest": oldest}}
            sub._queue.append(FeedEntry(gap))
        wants = sub.filter.wants
        for e in itertools.islice(self._ring, max(0, after - oldest + 1), None):
            if wants(e.msg):
                sub._queue.append(e)
        if sub._queue:
            sub._wake.set()

    def _remove(self, sub: Subscriber) -> None:
        try:
            self._subs.remove(sub)
        except ValueError:
            pass

    def close(self) -> None:
        """Cut every subscriber off (the gateway is closing)."""
        for sub in list(self._subs):
            sub.cut = "the gateway is shutting down"
            sub._wake.set()
            sub.close()

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    @property
    def oldest_id(self) -> int | None:
        return self._ring[0].id if self._ring else None
