"""The traffic generator (docs/emulator-admin.md) against the real Emulator and PBX, sessions over real TCP."""
from __future__ import annotations

import asyncio
import collections
import contextlib
import random

import pytest

from kit.rawclient import RawClient
from kit.text import fields
from kit.wait import until
from lguapi.server import Directory, Emulator
from lguapi.server.traffic import DEFAULT_MIX, TrafficConfig, TrafficGenerator, parse_mix, plan_calls

FAST = dict(ring_mean=0.03, talk_mean=0.06, hold_mean=0.01)


def test_plan_is_a_function_of_the_seed():
    d = Directory.generate("3001-3050")
    cfg = TrafficConfig(rate=10, max_calls=300, hold=0.2, transfer=0.2)
    a = list(plan_calls(d, cfg, random.Random(42)))
    b = list(plan_calls(d, cfg, random.Random(42)))
    c = list(plan_calls(d, cfg, random.Random(43)))
    assert a == b and a != c and len(a) == 300
    assert [p.seq for p in a] == list(range(1, 301))
    assert all(x.at < y.at for x, y in zip(a, a[1:]))
    kinds = collections.Counter(p.kind for p in a)
    assert set(kinds) == set(DEFAULT_MIX) and kinds["inbound"] > kinds["internal"]
    for p in a:
        assert d.by_exten(p.agent) is not None
        if p.kind == "internal":
            assert d.by_exten(p.other) is not None and p.other != p.agent
            assert (p.src, p.dst) == (p.agent, p.other)
        else:
            assert p.other.startswith("010") and len(p.other) == 11
        if p.transfer_to is not None:
            assert p.transfer_to not in (p.agent, p.other)
    assert any(not p.answered for p in a) and any(p.hold_at is not None for p in a)
    assert any(p.transfer_to is not None for p in a)
    # bounded by duration too; the mix is respected
    timed = list(plan_calls(d, TrafficConfig(rate=50, duration=2.0), random.Random(1)))
    assert timed and timed[-1].at <= 2.0
    only_in = list(plan_calls(d, TrafficConfig(rate=5, max_calls=50, mix=parse_mix("inbound=1")), random.Random(1)))
    assert {p.kind for p in only_in} == {"inbound"}


def test_config_and_mix_errors():
    assert parse_mix("inbound=3, internal=1") == {"inbound": 3.0, "click": 0.0, "internal": 1.0}
    for bad in ("inbound", "outbound=1", "inbound=x"):
        with pytest.raises(ValueError, match="traffic mix"):
            parse_mix(bad)
    for kw in ({"rate": -1}, {"rate": float("inf")}, {"unanswered": 1.5}, {"ring_mean": -1},
               {"mix": {"inbound": 0}}, {"mix": {"other": 1}}, {"max_calls": -1}, {"outside_prefix": "0x"}):
        with pytest.raises(ValueError):
            TrafficConfig(**{"rate": 1, **kw}).validate()


async def _run(seed: int, n_ext: int = 10, calls: int = 60, rate: float = 150.0, **cfg):
    d = Directory.generate(f"3001-{3000 + n_ext}")
    async with Emulator(d, port=0, rng=random.Random(seed)) as emu:
        gen = TrafficGenerator(emu.pbx, d, TrafficConfig(rate=rate, max_calls=calls, hold=0.3, transfer=0.2,
                                                         **{**FAST, **cfg}), rng=random.Random(seed))
        gen.start()
        await asyncio.wait_for(gen.wait(), 30)
        snap = emu.pbx.snapshot()
        gen.close()
        return gen, snap


async def test_same_seed_same_calls_in_history():
    gen_a, snap_a = await _run(7)
    gen_b, snap_b = await _run(7)
    gen_c, snap_c = await _run(8)

    def seq(snap):
        hist = sorted(snap["history"], key=lambda h: (h["start"], int(h["id"].split(".")[1])))
        return [(h["direction"], h["from"], h["to"], h["answered"], h["hangup_cause"]) for h in hist]

    assert len(seq(snap_a)) >= 20
    assert seq(snap_a) == seq(snap_b)
    assert seq(snap_a) != seq(snap_c)
    assert gen_a.stats() == gen_b.stats()
    assert [p for p, _ in gen_a.placed] == [p for p, _ in gen_b.placed]
    # what was placed is what the history holds, in order
    placed = [(p.kind, p.src, p.dst) for p, cid in gen_a.placed if cid is not None]
    kind_of = {"inbound": "inbound", "click": "outbound", "internal": "internal"}
    hist = sorted(snap_a["history"], key=lambda h: (h["start"], int(h["id"].split(".")[1])))
    dst_of = {u.callerid: u.exten for u in Directory.generate("3001-3010").users()}
    assert [(kind_of[k], s, d) for k, s, d in placed] == [(h["direction"], h["from"], dst_of.get(h["to"], h["to"]))
                                                          for h in hist]


async def test_bounded_run_gives_consistent_calls_to_every_session():
    d = Directory.generate("3001-3006")
    users = d.users()
    async with Emulator(d, port=0) as emu:
        clients = []
        async with contextlib.AsyncExitStack() as stack:
            for u, cipher in zip(users, ["seed", "basic", "none"] * 2):
                c = await stack.enter_async_context(RawClient.connect("127.0.0.1", emu.port, cipher=cipher))
                assert (await c.login(u.id, u.password)).startswith("LOGINRESULT|STATUS:1|")
                clients.append(c)
            gen = TrafficGenerator(emu.pbx, d, TrafficConfig(rate=60, max_calls=50, hold=0.3, transfer=0.2, **FAST),
                                   rng=random.Random(3))
            gen.start()
            await asyncio.wait_for(gen.wait(), 30)
            stats = gen.stats()
            snap = emu.pbx.snapshot()
            assert stats["arrived"] == 50 and stats["active"] == 0 and stats["errors"] == 0
            assert stats["answered"] > 0 and stats["completed"] > 0
            assert snap["calls"] == [] and all(p["state"] == "idle" for p in snap["phones"].values())
            assert len(snap["history"]) == stats["placed"]
            directions = {h["direction"] for h in snap["history"]}
            assert directions == {"inbound", "outbound", "internal"}
            def cdrs(exten: str, c: RawClient) -> list[str]:
                return [t for t in c.received[1:] if t.startswith("CDREVENT|")]

            def history(exten: str) -> list[dict]:
                return [h for h in snap["history"] if exten in h["extensions"]]

            await until(lambda: all(len(cdrs(u.exten, c)) >= len(history(u.exten)) for u, c in zip(users, clients)),
                        "the last events")
            for u, c in zip(users, clients):
                texts = [t for t in c.received[1:] if t != "PING"]
                _check_session_stream(u.exten, texts)
                cdrs = [t for t in texts if t.startswith("CDREVENT|")]
                mine = [h for h in snap["history"] if u.exten in h["extensions"]]
                assert len(cdrs) == len(mine), u.exten


def _check_session_stream(exten: str, texts: list[str]) -> None:
    """Each event is about this extension's calls, and every channel of its own phone that
    appeared ends exactly once, after it appeared: with a CHANNELOUT, or (a ringing channel)
    by being answered, which connects a new channel in the CHANNELLIST (manual §5.2)."""
    own = f"SIP/{exten}-"
    seen: set[str] = set()
    ringing: dict[str, str] = {}   # unique id of the call -> our ringing channel
    ended: collections.Counter = collections.Counter()
    for t in texts:
        name, f = t.split("|", 1)[0], fields(t)
        if name == "RINGEVENT":
            assert f["AGENT"] == exten, t
            seen.update((f["CHANNEL"], f["RECHANNEL"]))
            if f["ISDIAL"] == "0":
                ringing[f["UNIQUEID"]] = f["CHANNEL"]
        elif name == "CHANNELLIST":
            assert own in f["CHANNEL1"] + f["CHANNEL2"], t
            seen.update((f["CHANNEL1"], f["CHANNEL2"]))
            ring = ringing.pop(f["UNIQUEID1"], None)
            if ring is not None and ring not in (f["CHANNEL1"], f["CHANNEL2"]) and ring not in ended:
                ended[ring] += 1   # answered: the ringing channel gave way to a new one
        elif name == "CHANNELOUT":
            assert f["CHANNEL"].startswith(own) and f["CHANNEL"] in seen, t
            ended[f["CHANNEL"]] += 1
        else:
            assert name in ("CDREVENT", "CMDRESULT"), t
    mine = {ch for ch in seen if ch.startswith(own)}
    assert mine and set(ended) == mine and set(ended.values()) == {1}, (exten, mine - set(ended), ended)


async def test_close_stops_arrivals_and_actions():
    d = Directory.generate("3001-3010")
    async with Emulator(d, port=0) as emu:
        gen = TrafficGenerator(emu.pbx, d, TrafficConfig(rate=200, ring_mean=5, talk_mean=5), rng=random.Random(1))
        gen.start()
        await until(lambda: gen.stats()["arrived"] > 0, "a first arrival")
        gen.close()
        arrived = gen.stats()["arrived"]
        assert arrived > 0 and gen.active == 0
        await asyncio.sleep(0.2)  # a while closed: nothing more may arrive
        assert gen.stats()["arrived"] == arrived
        await asyncio.wait_for(gen.wait(), 1)  # closed counts as idle
        with pytest.raises(RuntimeError):
            gen.start()


async def test_stop_lets_calls_in_progress_finish():
    d = Directory.generate("3001-3010")
    async with Emulator(d, port=0) as emu:
        gen = TrafficGenerator(emu.pbx, d, TrafficConfig(rate=100, **FAST), rng=random.Random(2))
        gen.start()
        await until(lambda: gen.active > 0, "a call in progress")
        gen.stop()
        await asyncio.wait_for(gen.wait(), 10)
        assert gen.active == 0 and emu.pbx.snapshot()["calls"] == []
        assert gen.stats()["completed"] + gen.stats()["abandoned"] > 0


async def test_answers_that_happened_already_do_not_abort_the_call():
    """With the PBX's auto answer, outside numbers answer before the generator would."""
    d = Directory.generate("3001-3004")
    async with Emulator(d, port=0, auto_answer=0.0) as emu:
        gen = TrafficGenerator(emu.pbx, d, TrafficConfig(rate=50, max_calls=20, mix=parse_mix("click=1"), **FAST),
                               rng=random.Random(5))
        gen.start()
        await asyncio.wait_for(gen.wait(), 30)
        history = emu.pbx.snapshot()["history"]
        answered = [h for h in history if h["answered"]]
        stats = gen.stats()
        assert stats["errors"] == 0 and stats["refused"] == 0 and len(answered) > 0
        # (a call planned to be abandoned may be auto-answered first: then it is hung up instead)
        assert stats["answered"] <= len(answered) and stats["completed"] + stats["abandoned"] == len(history)
