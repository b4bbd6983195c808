"""The lguapi.Client tests' harness: emulators, logged-in clients and the events they deliver.

Everything runs over real TCP on 127.0.0.1 with ephemeral ports.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket

import lguapi
from lguapi.client import Client
from lguapi.events import Event
from lguapi.server import Directory, Emulator, generated_id, generated_password

EXTENS = "3001-3010"


def creds(exten: str) -> tuple[str, str]:
    """The emulator's generated (login id, password) of ``exten``."""
    return generated_id(exten), generated_password(exten)


def free_port() -> int:
    """A port nothing listens on now (bound then released): for a server a test starts on it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


#: the sockets behind dead_port(), bound until the test process ends
_HELD: list[socket.socket] = []


def dead_port() -> int:
    """A port that refuses every connection for the rest of the test process: bound, never
    listening. (A free_port() is released, so another test's server running at the same time
    may get it and answer, or say nothing, in its place: it once left a monitor waiting.)"""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _HELD.append(s)
    return s.getsockname()[1]


@contextlib.asynccontextmanager
async def emulator(port: int = 0, extens: str = EXTENS, **kw):
    emu = Emulator(Directory.generate(extens), host="127.0.0.1", port=port, **kw)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.close()


class Recorder:
    """Every event a client delivers, in order, with ``wait_for`` to await one."""

    def __init__(self, client: Client) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        client.on(Event, self._add)

    def _add(self, ev: Event) -> None:
        self.events.append(ev)
        self._changed.set()

    def of(self, cls) -> list:
        return [e for e in self.events if isinstance(e, cls)]

    def names(self) -> list[str]:
        return [type(e).__name__ for e in self.events]

    async def wait_for(self, cls, pred=lambda e: True, *, timeout: float = 5.0, after: int = 0):
        """The first event of ``cls`` (index >= ``after``) matching ``pred``; waits up to ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for e in self.events[after:]:
                if isinstance(e, cls) and pred(e):
                    return e
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no {cls.__name__} within {timeout} s; got {self.names()[after:]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass


async def logged_in(emu: Emulator, exten: str = "3001", **kw) -> tuple[Client, Recorder]:
    """A Client logged in as ``exten`` at ``emu`` (short heartbeat/reconnect), with a Recorder."""
    kw.setdefault("heartbeat", 1.0)
    kw.setdefault("auto_reconnect", 0.2)
    kw.setdefault("command_timeout", 5.0)
    client = Client("127.0.0.1", emu.port, **kw)
    rec = Recorder(client)
    uid, pw = creds(exten)
    await client.login(uid, pw)
    return client, rec


__all__ = ["creds", "free_port", "dead_port", "emulator", "Recorder", "logged_in", "EXTENS", "lguapi"]
