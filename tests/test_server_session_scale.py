"""The emulator's bounded scale check: 500 logged-in connections, each getting its own events."""
from __future__ import annotations

import asyncio

from lguapi.server import Directory, Emulator
from kit.rawclient import RawClient

N = 500


async def test_500_logged_in_connections_each_receive_their_own_events():
    directory = Directory.generate(f"3001-{3000 + N}")
    users = directory.users()
    async with Emulator(directory, host="127.0.0.1", port=0) as emu:
        ciphers = ("seed", "basic", "none")
        clients = await asyncio.gather(*(
            RawClient.connect("127.0.0.1", emu.port, cipher=ciphers[i % 3]) for i in range(N)))
        try:
            results = await asyncio.gather(*(c.login(u.id, u.password, timeout=30) for c, u in zip(clients, users)))
            for r, u in zip(results, users):
                assert r == (f"LOGINRESULT|STATUS:1|EXTEN:{u.exten}|CALLERID:{u.callerid}|DOMAIN:ipcctest.com"
                             f"|MSG:{u.exten},{u.callerid},{u.id}")
            assert len(emu.sessions()) == N and emu.connection_count == N
            assert all(emu.online(u.exten) for u in users)

            # through the PBX: an inbound SMS goes to the owner of the 070 number only
            for u in users:
                emu.pbx.inbound_sms("01012345678", u.callerid, f"hello {u.exten}")
            # straight through the router: two events per extension, in order
            for round_ in (1, 2):
                for u in users:
                    emu.deliver(u.exten, f"ETCEVENT|EXTEN:{u.exten}|ROUND:{round_}")
            sms = await asyncio.gather(*(c.expect("RECVSMS", timeout=30) for c in clients))
            rounds = await asyncio.gather(*(
                asyncio.gather(c.expect("ETCEVENT", timeout=30), c.expect("ETCEVENT", timeout=30)) for c in clients))
            for u, c, text, (e1, e2) in zip(users, clients, sms, rounds):
                assert f"SMSTO:{u.callerid}" in text and f"hello {u.exten}" in text
                assert (e1, e2) == (f"ETCEVENT|EXTEN:{u.exten}|ROUND:1", f"ETCEVENT|EXTEN:{u.exten}|ROUND:2")
                assert not c.closed
            # nobody got anybody else's events, nothing was lost or repeated
            for c, text, (e1, e2) in zip(clients, sms, rounds):
                assert c.received[1:] == [text, e1, e2]
        finally:
            await asyncio.gather(*(c.close() for c in clients))
