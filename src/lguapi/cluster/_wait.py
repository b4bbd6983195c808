"""Waiting with a timeout that never swallows a cancellation (``asyncio.timeout``, not ``wait_for``).

Python 3.11's ``asyncio.wait_for`` loses a ``cancel()`` that arrives as the awaited event is
set; the background loops here are stopped by cancellation, so they wait through this.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable

__all__ = ["wait_event", "bounded", "finish"]


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


async def finish(task: asyncio.Task | None, timeout: float) -> None:
    """Wait up to ``timeout`` for a background loop that was told to stop (a flag, not a
    cancel: a cancel landing inside a Redis call can be absorbed there); cancel it after that."""
    if task is None:
        return
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=timeout)
    if task.done() and not task.cancelled() and task.exception() is not None:
        logging.getLogger("lguapi.cluster").error("cluster: %s ended with an error", task.get_name(),
                                                  exc_info=task.exception())
