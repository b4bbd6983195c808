"""One subscriber of :meth:`CallTracker.updates`: a bounded queue that drops the oldest when full."""
from __future__ import annotations

import logging

from .._aqueue import AsyncQueueStream
from .model import CallUpdate

__all__ = ["UpdateStream"]

log = logging.getLogger("lguapi.calls")


class UpdateStream(AsyncQueueStream):
    """``async for update in stream``; holds at most ``maxsize`` updates (``dropped`` counts the rest)."""

    __slots__ = ("_max", "dropped")

    def __init__(self, maxsize: int):
        super().__init__()
        self._max = maxsize
        self.dropped = 0

    @property
    def ended(self) -> bool:
        return self._ended

    def push(self, update: CallUpdate) -> None:
        if len(self._queue) >= self._max:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10000 == 0:
                log.warning("call-update subscriber is too slow: %d update(s) dropped", self.dropped)
        self._push(update)

    def end(self) -> None:
        self._end()

    async def aclose(self) -> None:
        self._end()
