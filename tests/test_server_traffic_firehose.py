"""The firehose (docs/emulator-admin.md) against the real Emulator over real TCP: per-extension routing,
consistent calls, every cipher, rate bound, joining sessions, replays."""
from __future__ import annotations

import asyncio
import collections
import contextlib
import random

from kit.rawclient import RawClient
from kit.text import fields
from kit.wait import until
from lguapi.server import Directory, Emulator
from lguapi.server.firehose import Firehose, _Clock, generate_calls
from lguapi.server.pbx import Pbx

DIRECTORY = Directory.generate("3001-3006")


def calls_of(texts: list[str]) -> list[list[str]]:
    """Split a session's events into calls: each starts with a RINGEVENT and ends with a CDREVENT."""
    calls, cur = [], []
    for t in texts:
        cur.append(t)
        if t.startswith("CDREVENT|"):
            calls.append(cur)
            cur = []
    return calls


def texts_of(c: RawClient) -> list[str]:
    """What a session received after its LOGINRESULT, PINGs aside."""
    return [t for t in c.received[1:] if t != "PING"]


async def all_arrived(hose: Firehose, clients) -> None:
    """Wait until every frame the (closed) firehose delivered has reached its session."""
    await until(lambda: sum(len(texts_of(c)) for c in clients) == hose.stats()["delivered"],
                "every delivered frame to arrive")


def pair_lists(texts1: list[str], texts2: list[str]) -> tuple[set[str], set[str], set[str]]:
    """The CHANNELLISTs 3001 and 3002 received about calls between them, and those both received."""
    lists1 = {t for t in texts1 if t.startswith("CHANNELLIST|") and "SIP/3002-" in t}
    lists2 = {t for t in texts2 if t.startswith("CHANNELLIST|") and "SIP/3001-" in t}
    return lists1, lists2, lists1 & lists2


def check_call(exten: str, call: list[str]) -> str:
    """One complete call as ``exten`` sees it; returns its unique id N."""
    first = fields(call[0])
    assert call[0].startswith("RINGEVENT|") and first["AGENT"] == exten, call
    n = first["UNIQUEID"]
    own = f"SIP/{exten}-"
    mine = {ch for ch in (first["CHANNEL"], first["RECHANNEL"]) if ch.startswith(own)}
    outs = []
    for t in call[1:-1]:
        name, f = t.split("|", 1)[0], fields(t)
        if name == "CHANNELLIST":
            assert f["UNIQUEID1"] == n, call
            mine.update(ch for ch in (f["CHANNEL1"], f["CHANNEL2"]) if ch.startswith(own))
        elif name == "CHANNELOUT":
            assert f["CHANNEL"] in mine and f["SRCUNIQUEID"] in (n, f["UNIQUEID"]), call
            outs.append(f["CHANNEL"])
        else:
            raise AssertionError(f"unexpected {t!r} inside a call")
    assert len(outs) == 1, call
    cdr = fields(call[-1])
    assert cdr["UNIQUEID"] == n or cdr["CHANNEL"] in mine, call
    return n


@contextlib.asynccontextmanager
async def sessions(emu, plan):
    """Log in ``plan`` = [(exten, cipher)]; yields {exten: RawClient}."""
    async with contextlib.AsyncExitStack() as stack:
        out = {}
        for exten, cipher in plan:
            u = DIRECTORY.by_exten(exten)
            c = await stack.enter_async_context(RawClient.connect("127.0.0.1", emu.port, cipher=cipher))
            assert (await c.login(u.id, u.password)).startswith("LOGINRESULT|STATUS:1|")
            out[exten] = c
        yield out


def test_generated_calls_come_from_the_pbx_and_stay_in_the_group():
    events: list = []
    clock = _Clock()
    pbx = Pbx(DIRECTORY, deliver=lambda e, t: events.append((e, t)), ring_timeout=0, clock=clock,
              rng=random.Random(1), online=lambda e: True)
    users = DIRECTORY.users()[:2]
    starts = generate_calls(pbx, clock, users, 40, random.Random(2), events)
    assert len(starts) == 40 and starts[0] == 0 and starts == sorted(starts)
    assert {e for e, _ in events} == {"3001", "3002"}
    assert len(pbx.snapshot()["history"]) == 40 and pbx.snapshot()["calls"] == []
    kinds = collections.Counter(h["direction"] for h in pbx.snapshot()["history"])
    assert set(kinds) == {"inbound", "outbound", "internal"}
    for exten in ("3001", "3002"):
        for call in calls_of([t for e, t in events if e == exten]):
            check_call(exten, call)
    pbx.close()


async def test_each_session_gets_only_its_own_consistent_calls():
    async with Emulator(DIRECTORY, port=0) as emu:
        plan = [("3001", "seed"), ("3002", "basic"), ("3003", "none"), ("3005", "seed")]  # 3004, 3006 absent
        async with sessions(emu, plan) as clients:
            hose = Firehose(emu, 2000, rng=random.Random(9), build_share=1.0)
            hose.start()
            await until(lambda: all(len(calls_of(texts_of(c))) >= 5 for c in clients.values())
                        and pair_lists(texts_of(clients["3001"]), texts_of(clients["3002"]))[2],
                        "five complete calls at every session, one between 3001 and 3002")
            hose.close()
            await all_arrived(hose, clients.values())
            stats = hose.stats()
            got = {e: texts_of(c) for e, c in clients.items()}
            assert stats["active_groups"] == 3
            ids = {}
            for exten, texts in got.items():
                calls = calls_of(texts)
                assert len(calls) >= 5, exten
                ids[exten] = [check_call(exten, call) for call in calls]
                if stats["replays"] == 0:  # pools regenerated in time: fresh unique ids for every call
                    assert len(set(ids[exten])) == len(ids[exten])
            # internal calls between the pair 3001/3002: both sides saw the same CHANNELLIST
            lists1, lists2, common = pair_lists(got["3001"], got["3002"])
            assert common and len(common) >= min(len(lists1), len(lists2)) - 1
            # no rate above the configured one (plus the bounded catch-up)
            assert stats["delivered"] <= 2000 * (stats["elapsed"] + 0.25) + 10


async def test_a_session_that_logs_in_later_starts_at_a_call_boundary():
    async with Emulator(DIRECTORY, port=0) as emu:
        async with sessions(emu, [("3001", "none")]) as first:
            hose = Firehose(emu, 1000, rng=random.Random(4), refresh=0.05)
            hose.start()
            await until(lambda: calls_of(texts_of(first["3001"])), "a first call at 3001")
            async with sessions(emu, [("3002", "seed")]) as later:
                await until(lambda: len(calls_of(texts_of(later["3002"]))) >= 2, "two calls at 3002")
                hose.close()
                await all_arrived(hose, [first["3001"], later["3002"]])
                texts = texts_of(later["3002"])
                assert texts and texts[0].startswith("RINGEVENT|")
                for call in calls_of(texts):
                    check_call("3002", call)
            for call in calls_of(first["3001"].received[1:]):
                check_call("3001", call)


async def test_pools_replay_when_the_build_budget_is_spent():
    async with Emulator(DIRECTORY, port=0) as emu:
        async with sessions(emu, [("3001", "basic")]) as clients:
            hose = Firehose(emu, 20000, rng=random.Random(5), calls_per_group=2, build_share=1e-9)
            hose.start()
            await until(lambda: hose.stats()["replays"] > 0 and len(calls_of(texts_of(clients["3001"]))) >= 4,
                        "replayed calls")
            hose.close()
            await all_arrived(hose, clients.values())
            stats = hose.stats()
            assert stats["replays"] > 0
            texts = clients["3001"].received[1:]
            calls = calls_of(texts)
            for call in calls:
                check_call("3001", call)
            n_ids = len({fields(c[0])["UNIQUEID"] for c in calls})
            assert n_ids < len(calls)  # replayed calls carry the same unique ids again


async def test_rejects_bad_settings_and_idles_without_sessions():
    async with Emulator(DIRECTORY, port=0) as emu:
        for kw in ({"rate": 0}, {"rate": 10, "tick": 0}, {"rate": 10, "calls_per_group": 0}):
            try:
                Firehose(emu, **kw)
            except ValueError:
                pass
            else:
                raise AssertionError(f"accepted {kw}")
        hose = Firehose(emu, 1000)
        hose.start()
        await asyncio.sleep(0.1)
        assert hose.stats()["delivered"] == 0 and hose.stats()["active_groups"] == 0
        hose.close()
