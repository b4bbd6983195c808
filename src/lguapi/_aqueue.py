"""The async-iterator queue behind ``Client.events()`` and ``CallTracker.updates()``.

One producer pushes from the event loop; one consumer iterates. Subclasses decide what a
full queue means (the client pauses reading, the tracker drops the oldest update and
says so) through :meth:`_push` and :meth:`_taken`.
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class AsyncQueueStream:
    """``async for item in stream`` over items pushed with :meth:`_push`, until :meth:`_end`."""

    __slots__ = ("_queue", "_waiter", "_ended", "__weakref__")

    def __init__(self) -> None:
        self._queue: deque = deque()
        self._waiter: asyncio.Future | None = None
        self._ended = False

    def __aiter__(self) -> AsyncQueueStream:
        return self

    async def __anext__(self) -> Any:
        while not self._queue:
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._queue.popleft()
        self._taken()
        return item

    def __len__(self) -> int:
        return len(self._queue)

    def _taken(self) -> None:
        """Called after the consumer took an item (hook)."""

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _push(self, item: Any) -> None:
        self._queue.append(item)
        self._wake()

    def _end(self) -> None:
        self._ended = True
        self._wake()
