"""Helpers for the gateway tests: the emulator and a gateway on free loopback ports, an HTTP
session, an SSE reader and a condition waiter. Everything is real TCP on 127.0.0.1.

>>> async def test_x():                                                  # doctest: +SKIP
...     async with gateway_stack("3001-3005") as st:
...         async with st.session() as http:
...             r = await http.get(st.url + "/v1/extensions")
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp

from lguapi.gateway import Gateway, GatewayConfig
from lguapi.server import Directory, Emulator, generated_id, generated_password

#: client options that make reconnects and tests quick
FAST = {"auto_reconnect": 0.2, "heartbeat": 0, "command_timeout": 5.0}

__all__ = ["FAST", "Stack", "gateway_stack", "SseReader", "until", "creds"]


def creds(exten: str) -> tuple[str, str]:
    """The emulator's generated (login id, password) of ``exten``."""
    return generated_id(exten), generated_password(exten)


@dataclass
class Stack:
    """A running emulator and gateway."""

    emu: Emulator
    gateway: Gateway
    directory: Directory

    @property
    def url(self) -> str:
        return self.gateway.url

    def session(self, token: str | None = None, **kw: Any) -> aiohttp.ClientSession:
        """An HTTP session (with ``Authorization: Bearer token`` when given)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=30), **kw)


@contextlib.asynccontextmanager
async def gateway_stack(extens: str = "3001-3010", *, anonymous=("read", "command"), emulator_options=None,
                        **config: Any) -> AsyncIterator[Stack]:
    """Emulator with generated ``extens`` + a gateway logged into all of them, both on port 0.

    ``config`` goes to :class:`GatewayConfig` (``tokens=``, ``feed_queue=``, ``webhooks=`` ...);
    anonymous access has both scopes unless ``anonymous=()``.
    """
    directory = Directory.generate(extens)
    async with Emulator(directory, host="127.0.0.1", port=0, **(emulator_options or {})) as emu:
        config.setdefault("client_options", dict(FAST))
        cfg = GatewayConfig(upstream_host="127.0.0.1", upstream_port=emu.port, accounts=directory, port=0,
                            anonymous=frozenset(anonymous), **config)
        gw = Gateway(cfg)
        await gw.start()
        try:
            yield Stack(emu, gw, directory)
        finally:
            await gw.close()


class SseReader:
    """Reads a text/event-stream response: :meth:`next` gives ``(id, event, data)`` frames."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp
        self.frames: list[tuple[int | None, str | None, Any]] = []

    async def next(self, timeout: float = 10.0) -> tuple[int | None, str | None, Any]:
        """The next frame with data (comments and retry lines skipped)."""
        ident: int | None = None
        event: str | None = None
        data: list[str] = []
        while True:
            line = await asyncio.wait_for(self.resp.content.readline(), timeout)
            if not line:
                raise EOFError("the event stream ended")
            text = line.decode("utf-8").rstrip("\n")
            if text == "":
                if data:
                    frame = (ident, event, json.loads("\n".join(data)))
                    self.frames.append(frame)
                    return frame
                ident, event = None, None
                continue
            field, _, value = text.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "id":
                ident = int(value)
            elif field == "event":
                event = value
            elif field == "data":
                data.append(value)

    async def messages(self, pred, count: int = 1, timeout: float = 10.0) -> list[dict]:
        """Read until ``count`` messages matching ``pred`` arrived; returns them."""
        found: list[dict] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found) < count:
            _, _, msg = await self.next(max(0.01, deadline - loop.time()))
            if pred(msg):
                found.append(msg)
        return found


async def until(pred, timeout: float = 15.0, what: str = "condition"):
    """Poll ``pred()`` (sync) until true; fail with ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
