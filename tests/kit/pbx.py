"""The PBX tests' harness: accounts, a scripted rng, an emulator on an ephemeral port,
logged-in raw phones, and a log of what a bare ``Pbx`` delivers.

Every flow test drives the PBX through :class:`lguapi.server.Emulator` over real TCP with
:mod:`kit.rawclient` (built only on lgucore), and asserts the event texts that arrive.
"""
from __future__ import annotations

import contextlib
import random

import pytest
from lguapi.server import Directory, Emulator, User
from kit.rawclient import RawClient

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


def only_call(emu: Emulator) -> str:
    (call_id,) = emu.pbx.calls
    return call_id


class DeliveryLog:
    """A bare ``Pbx``'s ``deliver`` callback that keeps every ``(exten, text)`` it is given."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, exten: str, text: str) -> None:
        self.events.append((exten, text))

    def names(self, exten: str | None = None) -> list[str]:
        return [t.split("|", 1)[0] for e, t in self.events if exten is None or e == exten]
