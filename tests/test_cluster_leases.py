"""Shard leases against a real redis-server: assignment balance, exactly-once ownership,
handover without overlap, step-down at the deadline, re-assertion after Redis loses its data."""
from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from lguapi.cluster.leases import LeaseConfig, ShardLeases, assign, shard_of

from kit.wait import until

FAST = LeaseConfig(shards=16, lease_ttl=3.0, renew_interval=0.3, member_ttl=1.0, fence_margin=0.5,
                   settle=0.4, redis_timeout=0.5, max_moves=4)


def test_assign_is_balanced_deterministic_and_moves_little():
    a3 = assign(64, ["p1", "p2", "p3"])
    counts = sorted(list(a3.values()).count(m) for m in ("p1", "p2", "p3"))
    assert sum(counts) == 64 and counts[-1] - counts[0] <= 2
    assert a3 == assign(64, ["p3", "p1", "p2"])
    a2 = assign(64, ["p1", "p2"])
    moved = sum(1 for s in range(64) if a3[s] != "p3" and a2[s] != a3[s])
    assert moved <= 8  # mostly only p3's shards move
    assert assign(8, []) == {}
    assert 0 <= shard_of("07012343001", 64) < 64


def test_config_validation_names_the_problem():
    with pytest.raises(ValueError, match="lease_ttl too short"):
        LeaseConfig(lease_ttl=2.0, renew_interval=1.0).validate()
    with pytest.raises(ValueError, match="shards"):
        LeaseConfig(shards=0).validate()
    LeaseConfig().validate()


class Member:
    """One ShardLeases with bookkeeping of what it 'logged in' (the overlap check)."""

    def __init__(self, r, name, registry, cfg=FAST):
        self.name = name
        self.registry = registry
        self.leases = ShardLeases(r, name, cfg, on_acquire=self.acquire, on_release=self.release,
                                  on_lost=self.lost)

    async def acquire(self, leases):
        for ls in leases:
            holder = self.registry.get(ls.shard)
            assert holder is None, f"shard {ls.shard} taken by {self.name} while {holder} holds it"
            self.registry[ls.shard] = self.name

    async def release(self, leases):
        await asyncio.sleep(0.05)  # a logout takes a moment
        for ls in leases:
            assert self.registry.pop(ls.shard) == self.name

    async def lost(self, leases):
        for ls in leases:
            if self.registry.get(ls.shard) == self.name:
                del self.registry[ls.shard]


async def test_three_members_share_every_shard_once_and_rebalance(redis_server):
    r = aioredis.from_url(redis_server.url)
    registry: dict[int, str] = {}
    ms = [Member(r, f"m{i}", registry) for i in range(3)]
    try:
        for m in ms:
            m.leases.start()
        await until(lambda: len(registry) == 16 and all(
            set(m.leases.held) == m.leases.target() for m in ms), what="all shards owned as assigned")
        counts = sorted(len(m.leases.held) for m in ms)
        assert counts[0] >= 4 and counts[-1] <= 6
        # one leaves gracefully: the other two take its shards over, never overlapping
        await ms[2].leases.stop()
        await until(lambda: len(registry) == 16 and set(registry.values()) == {"m0", "m1"}, what="handover")
        # a fourth joins: shards move to it gradually
        m3 = Member(r, "m3", registry)
        ms.append(m3)
        m3.leases.start()
        await until(lambda: len(m3.leases.held) >= 3 and len(registry) == 16, what="joiner gets its share")
        assert ms[0].leases.stats["rebalances"] + ms[1].leases.stats["rebalances"] >= 1
    finally:
        for m in ms:
            await m.leases.stop()
        await r.aclose()


async def test_a_silent_member_steps_down_before_its_lease_passes_on(redis_server):
    r = aioredis.from_url(redis_server.url)
    registry: dict[int, str] = {}
    a = Member(r, "a", registry)
    try:
        a.leases.start()
        await until(lambda: len(a.leases.held) == 16, what="a owns everything")
        redis_server.stop()  # Redis unreachable: a keeps its logins until each deadline, then steps down
        t0 = asyncio.get_running_loop().time()
        await until(lambda: not a.leases.held, timeout=10, what="step-down")
        waited = asyncio.get_running_loop().time() - t0
        assert waited < FAST.lease_ttl  # before the keys could expire in Redis
        assert a.leases.stats["fenced"] == 16 and not registry
        redis_server.start()  # data lost (no persistence): a rejoins and takes everything again
        await until(lambda: len(a.leases.held) == 16, what="rejoin", timeout=20)
    finally:
        await a.leases.stop()
        await r.aclose()


async def test_leases_are_reasserted_when_redis_loses_its_data(redis_server):
    r = aioredis.from_url(redis_server.url)
    registry: dict[int, str] = {}
    a, b = Member(r, "a", registry), Member(r, "b", registry)
    try:
        a.leases.start()
        b.leases.start()
        await until(lambda: len(registry) == 16 and len(a.leases.held) >= 6 and len(b.leases.held) >= 6,
                    what="both own their share")
        before = dict(registry)
        await r.flushall()  # every lease and heartbeat gone at once
        await until(lambda: a.leases.stats["reasserted"] and b.leases.stats["reasserted"], what="re-assertion")
        # past the settle time and a few ticks more, counted in ticks rather than slept
        ticks = {m: m.leases.stats["ticks"] + int(FAST.settle_seconds / FAST.renew_interval) + 4 for m in (a, b)}
        await until(lambda: all(m.leases.stats["ticks"] >= n for m, n in ticks.items()), what="ticks after settling")
        assert registry == before  # nobody took a shard that only looked free
        assert a.leases.stats["lost"] == b.leases.stats["lost"] == 0
    finally:
        await a.leases.stop()
        await b.leases.stop()
        await r.aclose()
