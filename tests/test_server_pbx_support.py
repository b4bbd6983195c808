"""Shared harness of the PBX tests (no tests of its own): accounts, a scripted rng and clock,
an emulator on an ephemeral port and logged-in raw clients.

Every flow test drives the PBX through :class:`lguapi.server.Emulator` over real TCP with
``tests/rawclient.py`` (built only on lgucore), and asserts the event texts that arrive.
"""
from __future__ import annotations

import asyncio
import contextlib
import random

import lgucore
import pytest
from lguapi.server import Directory, Emulator, User
from rawclient import RawClient

HOST = "127.0.0.1"

#: the manual's accounts (§5: DOMAIN 127.0.0.1, masked 070 numbers, login id = extension)
#: plus a few more for transfers, pickup groups and a second domain
USERS = [
    User(id="3321", password="pw-3321", exten="3321", callerid="070xxxx0321", domain="127.0.0.1",
         name="Kim", pickup_group="sales"),
    User(id="3322", password="pw-3322", exten="3322", callerid="070xxxx0322", domain="127.0.0.1",
         pickup_group="sales"),
    User(id="3323", password="pw-3323", exten="3323", callerid="07012343323", domain="127.0.0.1",
         name="이순신", pickup_group="sales"),
    User(id="3324", password="pw-3324", exten="3324", callerid="07012343324", domain="127.0.0.1",
         pickup_group="support"),
    User(id="tmpid9211@tel110.net", password="pw-9211", exten="101t4004", callerid="07012349211",
         domain="tel110.net"),
]
BY_EXTEN = {u.exten: u for u in USERS}


class Script(random.Random):
    """An rng whose ``getrandbits`` returns the given values first (then random ones)."""

    def __init__(self, values=()) -> None:
        super().__init__(1234)
        self.values = list(values)

    def getrandbits(self, k: int) -> int:
        if self.values:
            return self.values.pop(0)
        return super().getrandbits(k)


class Clock:
    """A settable clock: ``clock()`` returns ``clock.t``."""

    def __init__(self, t: float = 1319339029.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@contextlib.asynccontextmanager
async def pbx_server(users=USERS, **kw):
    """An Emulator (and its PBX) on an ephemeral port."""
    emu = Emulator(Directory(users), host=HOST, port=0, **kw)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.close()


async def login(emu: Emulator, exten: str, *, cipher: str = "none") -> RawClient:
    user = BY_EXTEN[exten]
    c = await RawClient.connect(HOST, emu.port, cipher=cipher, byteorder=emu.byteorder)
    res = await c.login(user.id, user.password)
    assert res.startswith("LOGINRESULT|STATUS:1|"), res
    return c


@contextlib.asynccontextmanager
async def phones(emu: Emulator, *extens: str, cipher: str = "none"):
    """Logged-in raw clients for ``extens`` (a dict), closed at the end."""
    clients = {}
    try:
        for e in extens:
            clients[e] = await login(emu, e, cipher=cipher)
        yield clients
    finally:
        for c in clients.values():
            await c.close()


async def quiet(c: RawClient, wait: float = 0.05) -> None:
    """Nothing more arrives at ``c`` (within ``wait`` seconds)."""
    with pytest.raises(TimeoutError):
        text = await c.recv(wait)
        pytest.fail(f"unexpected event {text!r}")


def fields(text: str) -> dict:
    """The fields of an event text as a dict (lgucore's tokenizer)."""
    return lgucore.tokenize(text.encode("utf-8"), charset="utf-8").to_dict()


def name_of(text: str) -> str:
    return lgucore.tokenize(text.encode("utf-8"), charset="utf-8").name


async def until(predicate, timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` is true (polling the event loop)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


def only_call(emu: Emulator) -> str:
    (call_id,) = emu.pbx.calls
    return call_id
