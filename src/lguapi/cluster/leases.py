"""Shard leases in Redis: member heartbeats, a balanced assignment, fenced leases renewed in one script call per tick.

Extensions are hashed into ``shards`` shards (:func:`shard_of`). A process (a *member*)
holds a shard through the key ``<prefix>:lease:<shard>`` = ``"<member>|<token>"`` with a
PX expiry of ``lease_ttl``; the token comes from ``INCR <prefix>:fence`` when the lease is
taken (a fencing token: it only grows while Redis keeps its data). Every
``renew_interval`` one Lua script call (:data:`TICK_SCRIPT`) heartbeats the member,
renews every lease it holds, takes the free shards it was assigned, releases the ones it
handed over, and answers the live members and every shard's owner. That is one Redis
call per member per tick, whatever the number of extensions.

Locally each lease has a *deadline* on the monotonic clock: the time the renewing call
was sent, plus ``lease_ttl / (1 + clock_drift)``, minus ``fence_margin``. Redis cannot
expire the key before that moment, so a member that steps down by its deadline (logs the
shard's extensions out) never overlaps with the next owner. ``docs/cluster.md`` has the
whole timing argument.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable

from ._wait import bounded, finish, wait_event

__all__ = ["LeaseConfig", "ShardLeases", "Lease", "TickResult", "shard_of", "assign", "TICK_SCRIPT"]

log: logging.Logger = logging.getLogger("lguapi.cluster")


def shard_of(login_id: str, shards: int) -> int:
    """The shard of one extension (by its login id: known before any login).

    >>> shard_of("07012343001", 64)
    40
    """
    return zlib.crc32(login_id.encode("utf-8")) % shards


def _rank(member: str, shard: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{member}\x1f{shard}".encode(), digest_size=8).digest(), "big")


def assign(shards: int, members: Iterable[str]) -> dict[int, str]:
    """Which member should own each shard: rendezvous hashing with a capacity of
    ``ceil(shards / members)`` each, so every member gets about 1/N and a member joining
    or leaving moves few shards. Deterministic: every member computes the same answer.

    >>> sorted(assign(4, ["a", "b"]).values())
    ['a', 'a', 'b', 'b']
    """
    ms = sorted(set(members))
    if not ms:
        return {}
    cap = math.ceil(shards / len(ms))
    load = dict.fromkeys(ms, 0)
    out: dict[int, str] = {}
    for s in range(shards):
        for m in sorted(ms, key=lambda m: _rank(m, s), reverse=True):
            if load[m] < cap:
                out[s] = m
                load[m] += 1
                break
    return out


@dataclass(frozen=True)
class LeaseConfig:
    """Timing and sizing of the leases (seconds). Checked by :meth:`validate`.

    ``lease_ttl`` must exceed the server's dead-session detection time (for the emulator,
    its ``idle_timeout``) plus ``renew_interval``: a paused holder's sessions are then
    closed by the server before the lease can pass to another member (docs/cluster.md).
    """

    shards: int = 64                 #: extensions are hashed into this many shards
    lease_ttl: float = 8.0          #: PX expiry of a lease key
    renew_interval: float = 1.5      #: seconds between ticks (one script call each)
    member_ttl: float = 5.0          #: a member without a heartbeat this long is gone
    fence_margin: float = 2.0        #: step down this long before the lease could expire
    clock_drift: float = 0.01        #: bound on |rate(local monotonic) / rate(Redis clock) - 1|
    max_moves: int = 8               #: shards handed over at a time (gradual rebalancing)
    settle: float | None = 2.0       #: membership must be stable this long before taking shards (None: member_ttl)
    redis_timeout: float = 1.5       #: bound on one Redis call
    prefix: str = "lguapi:cluster"   #: key prefix (one cluster per prefix)

    def validate(self) -> None:
        """Raise ValueError naming the first setting that breaks the timing argument."""
        if not 1 <= self.shards <= 4096:
            raise ValueError("shards must be within 1..4096")
        if self.renew_interval <= 0 or self.redis_timeout <= 0:
            raise ValueError("renew_interval and redis_timeout must be > 0")
        if not 0 <= self.clock_drift < 0.5:
            raise ValueError("clock_drift must be within 0..0.5")
        if self.fence_margin <= 0:
            raise ValueError("fence_margin must be > 0")
        budget = self.lease_ttl / (1 + self.clock_drift) - self.fence_margin
        if budget < 2 * self.renew_interval + self.redis_timeout:
            raise ValueError("lease_ttl too short: lease_ttl/(1+clock_drift) - fence_margin must be at least "
                             "2*renew_interval + redis_timeout (one renewal may fail without a step-down)")
        if self.member_ttl < 2 * self.renew_interval:
            raise ValueError("member_ttl must be at least 2*renew_interval")
        if self.max_moves < 1:
            raise ValueError("max_moves must be >= 1")
        if not self.prefix or any(c in self.prefix for c in " \r\n"):
            raise ValueError("prefix must be non-empty without spaces")

    @property
    def settle_seconds(self) -> float:
        return self.member_ttl if self.settle is None else self.settle


#: KEYS: none (the prefix is ARGV[1]; one Redis, not Redis Cluster).
#: ARGV: prefix, member, member_ttl_ms, lease_ttl_ms, shards, leaving(0/1),
#: n_renew, (shard, token)*, n_acquire, shard*, n_release, (shard, token)*.
#: Answers {members, renewed (1/0 per renewal), tokens ('' when taken), owners (per shard), now_ms}.
TICK_SCRIPT = """
local p, me = ARGV[1], ARGV[2]
local mttl, lttl, S = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mk = p .. ':members'
if ARGV[6] == '1' then redis.call('ZREM', mk, me) else redis.call('ZADD', mk, now + mttl, me) end
redis.call('ZREMRANGEBYSCORE', mk, '-inf', now)
local i = 7
local n = tonumber(ARGV[i]); i = i + 1
local renewed = {}
for j = 1, n do
  local k = p .. ':lease:' .. ARGV[i]
  local mine = me .. '|' .. ARGV[i + 1]
  i = i + 2
  local v = redis.call('GET', k)
  if v == mine then
    redis.call('PEXPIRE', k, lttl); renewed[j] = 1
  elseif not v then
    -- the key vanished while our deadline still runs: Redis lost its data; re-assert
    redis.call('SET', k, mine, 'PX', lttl); renewed[j] = 2
  else
    renewed[j] = 0
  end
end
n = tonumber(ARGV[i]); i = i + 1
local tokens = {}
for j = 1, n do
  local k = p .. ':lease:' .. ARGV[i]
  i = i + 1
  if redis.call('EXISTS', k) == 0 then
    local tok = redis.call('INCR', p .. ':fence')
    redis.call('SET', k, me .. '|' .. tok, 'PX', lttl); tokens[j] = tostring(tok)
  else
    tokens[j] = ''
  end
end
n = tonumber(ARGV[i]); i = i + 1
for j = 1, n do
  local k = p .. ':lease:' .. ARGV[i]
  if redis.call('GET', k) == me .. '|' .. ARGV[i + 1] then redis.call('DEL', k) end
  i = i + 2
end
local keys = {}
for s = 0, S - 1 do keys[s + 1] = p .. ':lease:' .. s end
local owners = redis.call('MGET', unpack(keys))
for s = 1, S do if not owners[s] then owners[s] = '' end end
return {redis.call('ZRANGE', mk, 0, -1), renewed, tokens, owners, tostring(now)}
"""


@dataclass
class Lease:
    """A shard this member holds: its fencing token and its local step-down deadline (monotonic)."""

    shard: int
    token: int
    deadline: float
    takeover: bool = False    #: taken from a member that vanished (not handed over): gap notice


@dataclass
class TickResult:
    """What one tick changed (for callers and tests)."""

    members: list[str] = field(default_factory=list)
    acquired: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    reasserted: list[int] = field(default_factory=list)


ShardCallback = Callable[[list[Lease]], Awaitable[Any]]


class ShardLeases:
    """Hold this member's share of the shards, renewing and rebalancing in the background.

    ``on_acquire(leases)`` runs after new leases are held (log those extensions in);
    ``on_handed_over({shard: taker})`` right after handed-over leases were deleted (tell the
    takers to tick now rather than at their next interval: it shortens the handover gap);
    ``on_release(leases)`` runs before handing shards over (log them out — the lease is
    released only when it returns); ``on_lost(leases)`` runs when leases were lost or reached
    their deadline (log out at once). ``redis`` is a ``redis.asyncio.Redis``.
    """

    def __init__(self, redis: Any, member: str, config: LeaseConfig | None = None, *,
                 on_acquire: ShardCallback, on_release: ShardCallback, on_lost: ShardCallback,
                 on_handed_over: Callable[[dict[int, str]], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config: LeaseConfig = config or LeaseConfig()
        self.config.validate()
        if not member or "|" in member:
            raise ValueError("member id must be non-empty without '|'")
        self.redis = redis
        self.member = member
        self._script = redis.register_script(TICK_SCRIPT)
        self._on_acquire, self._on_release, self._on_lost = on_acquire, on_release, on_lost
        self._on_handed_over = on_handed_over
        self._clock = clock
        self.held: dict[int, Lease] = {}
        self._releasing: set[int] = set()        # logout in progress
        self._to_release: dict[int, int] = {}    # logged out, release at the next tick: shard -> token
        self.members: list[str] = []
        self.owners: dict[int, str] = {}
        self._last_owner: dict[int, str] = {}
        self._members_since = clock()
        self._last_ok: float | None = None
        self._ever_ok = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._bg: set[asyncio.Task] = set()
        self.leaving: bool = False
        self._stopping = False
        #: counters for /metrics and the snapshot
        self.stats: dict[str, int] = {"ticks": 0, "tick_errors": 0, "renewals": 0, "acquired": 0, "lost": 0, "fenced": 0,
                      "released": 0, "rebalances": 0, "reasserted": 0}

    # -- views ------------------------------------------------------------------------------
    def valid(self, shard: int, *, ahead: float = 0.0) -> bool:
        """Does this member hold ``shard`` with at least ``ahead`` seconds before its deadline?"""
        lease = self.held.get(shard)
        return lease is not None and shard not in self._releasing and self._clock() + ahead < lease.deadline

    def balanced(self) -> bool:
        """Does this member hold exactly its assigned shards, with no handover under way?"""
        return set(self.held) == self.target() and not self._releasing and not self._to_release

    def target(self) -> set[int]:
        """The shards the current assignment gives this member."""
        return {s for s, m in assign(self.config.shards, self.members).items() if m == self.member}

    @property
    def connected(self) -> bool:
        """Did the last tick reach Redis?"""
        return self._last_ok is not None and self._clock() - self._last_ok < 2 * self.config.renew_interval + \
            self.config.redis_timeout

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Run the tick loop and the step-down guard in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="lguapi-cluster-leases")

    async def stop(self, *, release: bool = True) -> None:
        """Stop ticking; with ``release`` hand every shard back (after ``on_release``) and leave."""
        self.leaving = True
        self._stopping = True
        self.wake()
        await finish(self._task, self.config.renew_interval + self.config.redis_timeout + 1.0)
        self._task = None
        for t in list(self._bg):
            t.cancel()
        await asyncio.gather(*self._bg, return_exceptions=True)
        leases = list(self.held.values())
        if leases:
            await self._on_release(leases) if release else await self._on_lost(leases)
        self._to_release.update({ls.shard: ls.token for ls in leases})
        self.held.clear()
        if release:
            try:
                await self.tick()
            except Exception as e:  # Redis down: the leases expire by themselves
                log.warning("cluster: could not release the leases on leaving (%s); they expire in %.0fs",
                            e, self.config.lease_ttl)

    def wake(self) -> None:
        """Tick now (a handover finished)."""
        self._wake.set()

    async def _run(self) -> None:
        cfg = self.config
        while not self._stopping:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.stats["tick_errors"] += 1
                if self.stats["tick_errors"] in (1, 10) or self.stats["tick_errors"] % 100 == 0:
                    log.warning("cluster: lease tick failed (%s: %s); %d shard(s) held until their deadline",
                                type(e).__name__, e, len(self.held))
            await self._fence()
            timeout = cfg.renew_interval
            if self.held:
                timeout = max(0.0, min(timeout, min(ls.deadline for ls in self.held.values()) - self._clock()))
            await wait_event(self._wake, timeout)
            self._wake.clear()
            if self._stopping:
                return
            await self._fence()

    async def _fence(self) -> None:
        """Step down from every lease whose deadline has come (Redis unreachable, process paused)."""
        now = self._clock()
        due = [ls for ls in self.held.values() if now >= ls.deadline]
        if not due:
            return
        for ls in due:
            del self.held[ls.shard]
            self._releasing.discard(ls.shard)
        self.stats["fenced"] += len(due)
        log.warning("cluster: %d lease(s) reached their deadline without renewal: logging their extensions out",
                    len(due))
        await self._on_lost(due)

    # -- one tick ---------------------------------------------------------------------------
    async def tick(self) -> TickResult:
        """One script call: heartbeat, renew, take, release; then plan the next moves."""
        cfg = self.config
        sent = self._clock()
        renew = [ls for ls in self.held.values() if sent < ls.deadline]
        acquire = [] if self.leaving else self._wanted(sent)
        release = dict(self._to_release)
        args: list[Any] = [cfg.prefix, self.member, int(cfg.member_ttl * 1000), int(cfg.lease_ttl * 1000),
                           cfg.shards, 1 if self.leaving else 0, len(renew)]
        for ls in renew:
            args += [ls.shard, ls.token]
        args.append(len(acquire))
        args += acquire
        args.append(len(release))
        for s, tok in release.items():
            args += [s, tok]
        reply = await bounded(self._script(args=args), cfg.redis_timeout)
        members, renewed, tokens, owners, _now = reply
        self.stats["ticks"] += 1
        self._last_ok = self._clock()
        out = TickResult(members=sorted(_s(m) for m in members))  # ZRANGE orders by expiry: changes every tick
        deadline = sent + cfg.lease_ttl / (1 + cfg.clock_drift) - cfg.fence_margin
        lost = []
        for ls, r in zip(renew, renewed):
            if int(r) == 0:
                lost.append(ls)
            else:
                ls.deadline = deadline
                self.stats["renewals"] += 1
                if int(r) == 2:
                    out.reasserted.append(ls.shard)
                    self.stats["reasserted"] += 1
        for s in release:
            self._to_release.pop(s, None)
            out.released.append(s)
        self.stats["released"] += len(release)
        if release and self._on_handed_over is not None and not self.leaving:
            takers = assign(cfg.shards, [_s(m) for m in members])
            self._on_handed_over({s: takers[s] for s in release if s in takers})
        new: list[Lease] = []
        for s, raw_tok in zip(acquire, tokens):
            token_text = _s(raw_tok)
            if token_text:
                prev = self._last_owner.get(s, "")
                takeover = bool(prev) and prev != self.member and prev not in out.members
                new.append(Lease(s, int(token_text), deadline, takeover))
        self._view(out.members, owners)
        for ls in lost:
            self.held.pop(ls.shard, None)
            self._releasing.discard(ls.shard)
        if lost:
            self.stats["lost"] += len(lost)
            out.lost = [ls.shard for ls in lost]
            log.error("cluster: %d lease(s) now held by another member: logging out at once", len(lost))
            await self._on_lost(lost)
        for ls in new:
            self.held[ls.shard] = ls
        if new:
            log.info("cluster: %s took %d shard(s) (%d from vanished members)", self.member, len(new),
                     sum(ls.takeover for ls in new))
            self.stats["acquired"] += len(new)
            out.acquired = [ls.shard for ls in new]
            self._spawn(self._on_acquire(new))
        self._hand_over()
        if not self.leaving and self._wanted(self._clock()):
            self.wake()  # free shards for this member just appeared: take them now, not a tick later
        return out

    def _view(self, members: list[str], owners: list[Any]) -> None:
        if members != self.members:
            self.members = members
            self._members_since = self._clock()
        self.owners = {s: _s(o).split("|", 1)[0] for s, o in enumerate(owners) if _s(o)}
        self._last_owner.update(self.owners)  # kept when a lease expires: who held it last

    def _wanted(self, now: float) -> list[int]:
        """Free shards assigned to this member, once membership is stable. Taking a free shard
        logs nobody out, so it is not throttled (``max_moves`` bounds handovers); the logins
        themselves are bounded by the monitor's ``login_concurrency``. (Right after a Redis
        restart the view is rebuilt: the settle time lets every member re-assert its leases
        before anyone takes a shard that merely looks free.)"""
        if self.member not in self.members or now - self._members_since < self.config.settle_seconds:
            return []
        return sorted(s for s in self.target() if s not in self.held and s not in self.owners)

    def _hand_over(self) -> None:
        """Give up to ``max_moves`` shards that another live member should own (logout first)."""
        if self.leaving or self._clock() - self._members_since < self.config.settle_seconds:
            return
        mine = self.target()
        extra = sorted(s for s in self.held if s not in mine and s not in self._releasing)
        moves = extra[:max(0, self.config.max_moves - len(self._releasing))]
        if not moves:
            return
        self.stats["rebalances"] += 1
        leases = [self.held[s] for s in moves]
        self._releasing.update(moves)
        self._spawn(self._release(leases))

    async def _release(self, leases: list[Lease]) -> None:
        try:
            await self._on_release(leases)
        finally:
            for ls in leases:
                if self.held.get(ls.shard) is ls:
                    del self.held[ls.shard]
                    self._to_release[ls.shard] = ls.token
                self._releasing.discard(ls.shard)
            self.wake()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        t = asyncio.ensure_future(coro)
        self._bg.add(t)
        t.add_done_callback(self._done)

    def _done(self, t: asyncio.Task) -> None:
        self._bg.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("cluster: a shard callback failed", exc_info=t.exception())


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
