"""Waiting with a timeout that never swallows a cancellation (``asyncio.timeout``, not ``wait_for``).

Python 3.11's ``asyncio.wait_for`` loses a ``cancel()`` that arrives as the awaited event is
set; the background loops here are stopped by cancellation, so they wait through this.
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable

__all__ = ["wait_event", "bounded"]


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; True when it was set."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
        return True
    except TimeoutError:
        return False


async def bounded(aw: Awaitable[Any], timeout: float) -> Any:
    """Await ``aw`` for at most ``timeout`` seconds (``TimeoutError`` after)."""
    async with asyncio.timeout(timeout):
        return await aw
