"""A real aiohttp webhook receiver on 127.0.0.1 for the tests: verifies signatures, can fail or stall.

>>> async with Receiver(b"secret") as rx:          # rx.url is the endpoint to configure
...     rx.fail_first = 2                          # answer 500 to the first 2 attempts of each key
...     await rx.wait_for(lambda r: len(r.delivered) == 1)
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from aiohttp import web

from lguapi.gateway.signing import verify


@dataclass
class Hit:
    """One request the receiver saw."""

    key: str
    attempt: int
    status: int
    verified: bool
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def message(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Answers POST /hook: ``status`` (default 200), 500 for the first ``fail_first`` attempts
    of each idempotency key, after sleeping ``delay`` seconds; 401 when the signature is bad."""

    def __init__(self, secret: bytes, *, status: int = 200, fail_first: int = 0, delay: float = 0.0) -> None:
        self.secret = secret
        self.status = status
        self.fail_first = fail_first
        self.delay = delay
        self.hits: list[Hit] = []
        self._seen: Counter[str] = Counter()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def delivered(self) -> list[Hit]:
        """Requests answered 2xx."""
        return [h for h in self.hits if 200 <= h.status < 300]

    def ok_per_key(self) -> Counter[str]:
        return Counter(h.key for h in self.delivered)

    async def start(self, port: int = 0) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Receiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 20.0) -> None:
        """Wait until ``predicate(self)`` holds (re-checked on every request)."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"receiver: condition not met in {timeout} s; {len(self.hits)} hits")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
            except asyncio.TimeoutError:
                pass

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = request.headers.get("X-Lguapi-Idempotency-Key", "")
        ok = verify(self.secret, request.headers.get("X-Lguapi-Timestamp", ""), body,
                    request.headers.get("X-Lguapi-Signature", ""))
        self._seen[key] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if not ok:
            status = 401
        elif self._seen[key] <= self.fail_first:
            status = 500
        else:
            status = self.status
        self.hits.append(Hit(key, self._seen[key], status, ok, dict(request.headers), body, time.time()))
        self._changed.set()
        return web.json_response({"ok": 200 <= status < 300}, status=status)
