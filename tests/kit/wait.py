"""Waiting on conditions, never on the wall clock alone: poll until true, fail after a generous timeout."""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")

#: how long a condition may take before the test fails (generous: the machine may be loaded)
TIMEOUT = 20.0


async def until(pred: Callable[[], T], what: str = "condition", *, timeout: float = TIMEOUT,
                every: float = 0.01) -> T:
    """Poll ``pred()`` on the running loop until it returns something true, and return that;
    ``AssertionError`` naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = pred()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(every)


def wait_until(pred: Callable[[], T], what: str = "condition", *, timeout: float = TIMEOUT,
               every: float = 0.01, pump: Callable[[], object] | None = None) -> T:
    """:func:`until` for code outside an event loop (threads, GUI tests): ``pump()``, if given,
    runs before each check (e.g. to process a message queue)."""
    deadline = time.monotonic() + timeout
    while True:
        if pump is not None:
            pump()
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


async def eventually(fetch: Callable[[], Awaitable[T]], pred: Callable[[T], object], what: str = "condition", *,
                     timeout: float = TIMEOUT, every: float = 0.05) -> T:
    """Await ``fetch()`` (e.g. an HTTP request) until ``pred`` holds for its result, and return
    that result; ``AssertionError`` naming ``what`` (and the last result) after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await fetch()
        if pred(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {value!r}")
        await asyncio.sleep(every)
