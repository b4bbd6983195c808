"""The emulator's bounded scale check with traffic: 500 logged-in connections receiving
simulated PBX calls (traffic generator) and firehose events at once, over real TCP."""
from __future__ import annotations

import asyncio
import collections
import random

import pytest

from kit.rawclient import RawClient
from kit.wait import until
from lguapi.server import Directory, Emulator
from lguapi.server.firehose import Firehose
from lguapi.server.traffic import TrafficConfig, TrafficGenerator

N = 500


def _name(text: str) -> str:
    return text.split("|", 1)[0]


@pytest.mark.slow  # minutes on the pure-Python SEED twin; the Makefile's pure pass skips it
@pytest.mark.timeout(90)
async def test_500_connections_receive_traffic_and_firehose():
    directory = Directory.generate(f"3001-{3000 + N}")
    users = directory.users()
    async with Emulator(directory, port=0) as emu:
        ciphers = ("seed", "basic", "none")
        clients = await asyncio.gather(*(
            RawClient.connect("127.0.0.1", emu.port, cipher=ciphers[i % 3]) for i in range(N)))
        try:
            results = await asyncio.gather(*(c.login(u.id, u.password, timeout=30) for c, u in zip(clients, users)))
            assert all(r.startswith("LOGINRESULT|STATUS:1|") for r in results)
            assert len(emu.sessions()) == N

            gen = TrafficGenerator(emu.pbx, directory,
                                   TrafficConfig(rate=400, max_calls=600, ring_mean=0.05, talk_mean=0.2, hold=0.1,
                                                 transfer=0.05, hold_mean=0.02), rng=random.Random(11))
            hose = Firehose(emu, 10_000, rng=random.Random(12))
            gen.start()
            hose.start()
            await asyncio.wait_for(gen.wait(), 60)
            # the firehose reaches every session (building its pools takes longer on the pure twins)
            await until(lambda: all(len(c.received) > 1 for c in clients), "an event at every session", timeout=40)
            hose.close()
            await until(lambda: not emu.pbx.calls, "the last traffic call to end")
            snap = emu.pbx.snapshot()

            def cdrs_by_exten() -> collections.Counter:
                return collections.Counter(u.exten for u, c in zip(users, clients) for t in c.received[1:]
                                           if _name(t) == "CDREVENT")

            # the last frames on their way: every PBX CDR and every firehose frame has arrived
            pbx_cdrs = collections.Counter(e for h in snap["history"] for e in h["extensions"])
            await until(lambda: sum(len(c.received) - 1 for c in clients) >= hose.stats()["delivered"]
                        and all(cdrs_by_exten()[e] >= n for e, n in pbx_cdrs.items()), "the last frames")
            stats = gen.stats()
            assert stats["arrived"] == 600 and stats["errors"] == 0 and stats["placed"] > 300
            assert snap["calls"] == [] and len(snap["history"]) == stats["placed"]
            assert emu.connection_count == N and not any(c.closed for c in clients)  # nobody was dropped

            # events of every session are about its own extension only
            by_exten = collections.Counter()
            total = 0
            for u, c in zip(users, clients):
                texts = c.received[1:]
                total += len(texts)
                for t in texts:
                    name = _name(t)
                    if name == "RINGEVENT":
                        assert f"|AGENT:{u.exten}|" in t, (u.exten, t)
                    elif name in ("CHANNELLIST", "CHANNELOUT"):
                        assert f"SIP/{u.exten}-" in t, (u.exten, t)
                    else:
                        assert name in ("CDREVENT", "PING"), t
                    if name == "CDREVENT":
                        by_exten[u.exten] += 1
            # traffic CDRs (by the PBX's history) plus firehose CDRs: at least the PBX's per extension
            assert all(by_exten[e] >= n for e, n in pbx_cdrs.items())
            assert total >= hose.stats()["delivered"] > 0
            assert all(len(c.received) > 1 for c in clients)
        finally:
            await asyncio.gather(*(c.close() for c in clients))
