"""Where a control object's events run: on its own ``lguapi-events`` thread, or inside the message pump of the thread that made it (win32com's STA).

Each thread has an :class:`Apartment`, a queue of work items standing in for its Windows
message queue. ``PumpWaitingMessages()`` runs the items already queued for the calling
thread and returns at once; ``PumpMessages()`` runs them as they come until a quit
message (``PostQuitMessage``) arrives. Both return what pywin32's do: 1 (resp. nothing)
after a quit message, 0 otherwise.
"""
from __future__ import annotations

import functools
import logging
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Apartment", "Backlog", "Delivery", "PumpDelivery", "ThreadDelivery", "apartment", "apartment_of",
           "PumpWaitingMessages", "PumpMessages", "PostQuitMessage", "PostThreadQuit"]

log: logging.Logger = logging.getLogger("lguapi.compat")

WorkItem = Callable[[], Any]


class Delivery(Protocol):
    """How one control object's events reach its handlers."""

    backlog: Backlog

    def post(self, name: str, args: tuple) -> None: ...

    def flush(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class Backlog:
    """Events posted but not yet handled, for one object, bounded by ``limit``.

    At the bound a new event is dropped, counted in :attr:`dropped` and logged (one
    WARNING per overflow episode): a thread that never pumps must not grow without end.
    """

    def __init__(self, limit: int) -> None:
        if int(limit) < 1:
            raise ValueError(f"max_pending_events must be >= 1, not {limit!r}")
        self.limit: int = int(limit)
        self.pending: int = 0
        self.dropped: int = 0
        self._full = False
        self._lock = threading.Lock()

    def admit(self, name: str) -> bool:
        """Count one more pending event; False (and a warning) when the bound is reached."""
        with self._lock:
            if self.pending >= self.limit:
                self.dropped += 1
                warn, self._full = not self._full, True
            else:
                self.pending += 1
                return True
        if warn:
            log.warning("%d events wait for their handlers (max_pending_events): dropping %s and later events "
                        "until handlers catch up; pump messages more often", self.limit, name)
        return False

    def done(self) -> None:
        with self._lock:
            self.pending -= 1
            if self.pending < self.limit // 2:
                self._full = False


class Apartment:
    """One thread's message queue: work items in order, plus a pending quit message."""

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self._items: deque[WorkItem] = deque()
        self._cond = threading.Condition()
        self._quit: int | None = None

    def post(self, item: WorkItem) -> None:
        """Queue ``item`` to run in this thread's next pump (any thread may call this)."""
        with self._cond:
            self._items.append(item)
            self._cond.notify()

    def post_quit(self, code: int = 0) -> None:
        """The WM_QUIT of this thread: the pump returns after the items queued before it."""
        with self._cond:
            self._quit = int(code)
            self._cond.notify()

    def pending(self) -> int:
        return len(self._items)

    def pump_waiting(self) -> int:
        """Run the items queued now (not those they queue); 1 if a quit message was taken, else 0."""
        n = len(self._items)
        for _ in range(n):
            try:
                item = self._items.popleft()
            except IndexError:
                break
            item()
        if self._quit is not None:
            with self._cond:
                self._quit = None
            return 1
        if n == 0:
            time.sleep(0)  # nothing to do: let other threads have the GIL before a busy loop comes back
        return 0

    def pump_until(self, done: threading.Event, timeout: float | None = None) -> bool:
        """Run items as they come until ``done`` is set (True), a quit message or ``timeout`` (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done.is_set():
            with self._cond:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                if not self._items and self._quit is None:
                    self._cond.wait(left)
                    continue
            if self.pump_waiting():
                self.post_quit()  # leave the quit message for the program's own loop
                return done.is_set()
        return True

    def pump_messages(self) -> None:
        """Run items as they come until a quit message arrives (pythoncom.PumpMessages)."""
        while True:
            with self._cond:
                while not self._items and self._quit is None:
                    self._cond.wait()
            if self.pump_waiting():
                return


_registry: weakref.WeakValueDictionary[int, Apartment] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()
_local = threading.local()


def apartment() -> Apartment:
    """The calling thread's apartment (made on first use; it ends with the thread)."""
    a = getattr(_local, "apartment", None)
    if a is None:
        a = Apartment(threading.get_ident())
        _local.apartment = a  # the thread-local keeps it alive exactly as long as the thread
        with _registry_lock:
            _registry[a.ident] = a
    return a


def apartment_of(ident: int) -> Apartment | None:
    """The apartment of the live thread ``ident`` (``threading.get_ident()``), if it has one."""
    with _registry_lock:
        return _registry.get(ident)


def PumpWaitingMessages(firstMessage: int = 0, lastMessage: int = -1) -> int:
    """Run the events queued for this thread's objects and return at once: 1 after PostQuitMessage, else 0."""
    return apartment().pump_waiting()


def PumpMessages() -> None:
    """Run this thread's events as they arrive until PostQuitMessage (or PostThreadMessage WM_QUIT)."""
    apartment().pump_messages()


def PostQuitMessage(code: int = 0) -> None:
    """End this thread's PumpMessages (PumpWaitingMessages then returns 1 once)."""
    apartment().post_quit(code)


def PostThreadQuit(ident: int, code: int = 0) -> bool:
    """WM_QUIT to another thread's pump; False when that thread has no apartment (pywin32 raises there)."""
    a = apartment_of(ident)
    if a is None:
        return False
    a.post_quit(code)
    return True


# --- the two deliveries ------------------------------------------------------------------

_STOP = object()


class ThreadDelivery:
    """Events run in order on one daemon thread, ``lguapi-events``, as soon as they arrive."""

    def __init__(self, target: weakref.ref, *, max_pending: int = 10000) -> None:
        self.backlog: Backlog = Backlog(max_pending)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=_dispatch_forever, args=(self._queue, target, self.backlog),
                                        name="lguapi-events", daemon=True)
        self._thread.start()

    def post(self, name: str, args: tuple) -> None:
        if self.backlog.admit(name):
            self._queue.put((name, args))

    def flush(self, timeout: float) -> bool:
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join(10)


class PumpDelivery:
    """Events wait in the creating thread's apartment and run inside its message pump."""

    def __init__(self, target: weakref.ref, home: Apartment, *, max_pending: int = 10000) -> None:
        self.backlog: Backlog = Backlog(max_pending)
        self._target = target
        self._home = home

    @property
    def home(self) -> Apartment:
        return self._home

    def post(self, name: str, args: tuple) -> None:
        if self.backlog.admit(name):
            self._home.post(functools.partial(_deliver_counted, self.backlog, self._target, name, args))

    def flush(self, timeout: float) -> bool:
        done = threading.Event()
        self._home.post(done.set)
        if threading.get_ident() == self._home.ident:
            return self._home.pump_until(done, timeout)
        return done.wait(timeout)

    def close(self) -> None:
        pass  # queued items hold only a weak reference: they skip a dead object


def deliver(target: weakref.ref, name: str, args: tuple) -> None:
    """Call every ``On<name>`` handler of the object behind ``target`` (nothing if it is gone)."""
    obj = target()
    if obj is None:
        return
    for handler in obj.event_handlers(name):
        try:
            handler(*args)
        except Exception:  # a handler's bug must not stop the events after it
            obj.callback_errors += 1
            log.exception("event handler On%s raised", name)


def _deliver_counted(backlog: Backlog, target: weakref.ref, name: str, args: tuple) -> None:
    backlog.done()
    deliver(target, name, args)


def _dispatch_forever(q: queue.SimpleQueue, target: weakref.ref, backlog: Backlog) -> None:
    while True:
        item = q.get()
        if item is _STOP:
            return
        if isinstance(item, threading.Event):
            item.set()
            continue
        _deliver_counted(backlog, target, *item)
