"""One cluster member inside a Monitor: logs in exactly the extensions of the shards it leases, publishes their stream.

The Monitor (``Monitor(..., cluster="redis://...")``) hands every login decision to a
:class:`ClusterNode`: it logs an extension in only while this member holds the lease of the
extension's shard with time to spare (:meth:`may_login`), logs a shard's extensions out
before handing the shard over or when its lease reaches its deadline, re-logs in lines that
dropped while their lease is still valid, and after taking the shards of a member that
vanished publishes a ``gap`` notice per extension and reconciles (GETSTATUSPEERS against the
calls the stream shows open). Every event and call update goes to the cluster's streams.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from typing import Any

from ..events import LoggedIn
from ._wait import bounded, finish
from .adopt import CallAdopter, OpenCall
from .leases import Lease, LeaseConfig, ShardLeases, shard_of
from .routing import CommandServer, RemoteClient, command_key, request
from .stream import StreamPublisher, call_message, event_message, message_body, read_back, stream_key

__all__ = ["ClusterNode", "DEFAULT_STREAMS"]

log: logging.Logger = logging.getLogger("lguapi.cluster")

DEFAULT_STREAMS = 16
_LIVE = {"up", "ring", "ringing", "busy", "dialing", "talking", "connected", "hold", "held"}


def _member_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def connect(url: str, *, timeout: float | None = 1.5, connect_timeout: float = 1.5) -> Any:
    """A ``redis.asyncio.Redis`` for ``url`` with bounded socket waits (``timeout=None`` for a
    client that runs blocking reads such as BLPOP)."""
    import redis.asyncio as aioredis

    return aioredis.from_url(url, socket_timeout=timeout, socket_connect_timeout=connect_timeout,
                             retry_on_timeout=False)


class ClusterNode:
    """Cluster membership of one Monitor (see the module docstring and ``docs/cluster.md``).

    ``redis``: a URL or a ``redis.asyncio.Redis``. ``config``: a :class:`LeaseConfig` or a dict
    of its fields. ``streams``/``maxlen``: stream sharding and bound. ``login_margin``: a login is
    started only while the lease has this much time left (default ``renew_interval``).
    ``handover_wait``: how long a shard being handed over waits for its calls to end before
    its extensions are logged out anyway; ``leave_wait`` the same when the process leaves.
    ``reconcile_scan``: how many recent stream entries are read to find calls a vanished
    member left open; ``adopt_buffer``: events kept per taken extension while its takeover
    is reconciled (:class:`lguapi.cluster.adopt.CallAdopter`); ``reconcile_concurrency``:
    GETSTATUSPEERS requests at a time after a takeover.
    """

    def __init__(self, monitor: Any, redis: Any, *, config: LeaseConfig | dict | None = None,
                 member: str | None = None, streams: int = DEFAULT_STREAMS, maxlen: int = 100_000,
                 login_margin: float | None = None, handover_wait: float = 30.0, leave_wait: float = 5.0,
                 ready_timeout: float = 120.0, reconcile_scan: int = 5000, adopt_buffer: int = 1000,
                 reconcile_concurrency: int = 32, publish: bool = True) -> None:
        cfg = config if isinstance(config, LeaseConfig) else LeaseConfig(**(config or {}))
        cfg.validate()
        self.config = cfg
        self.monitor = monitor
        self._owns_redis = isinstance(redis, str)
        self.redis = connect(redis, timeout=cfg.redis_timeout) if isinstance(redis, str) else redis
        #: for blocking reads (BLPOP, XREAD BLOCK): no socket timeout, its own connections
        self.blocking = connect(redis, timeout=None) if isinstance(redis, str) else self.redis
        self.member: str = member or _member_id()
        self.login_margin: float = cfg.renew_interval if login_margin is None else login_margin
        self.handover_wait = handover_wait
        self.leave_wait = leave_wait
        self.ready_timeout = ready_timeout
        self.reconcile_scan = reconcile_scan
        if reconcile_concurrency < 1:
            raise ValueError("reconcile_concurrency must be >= 1")
        self.reconcile_concurrency = reconcile_concurrency
        self.leases: ShardLeases = ShardLeases(self.redis, self.member, cfg, on_acquire=self._acquired,
                                  on_release=self._release, on_lost=self._lost, on_handed_over=self._handed_over)
        self.commands: CommandServer = CommandServer(self.redis, self.blocking, cfg.prefix, self.member, self._local_client,
                                      on_wake=self.leases.wake)
        self.publisher: StreamPublisher | None = StreamPublisher(self.redis, cfg.prefix, streams=streams, maxlen=maxlen) if publish else None
        self._shard: dict[str, int] = {i: shard_of(i, cfg.shards) for i in monitor.account_ids()}
        self._ids: dict[int, list[str]] = {}
        for i, s in self._shard.items():
            self._ids.setdefault(s, []).append(i)
        self._meta: dict[str, tuple[str | None, str | None]] = {}
        self._by_exten: dict[str, str] = {}
        for i in self._shard:
            self._remember(i)
        self._logins = 0
        self._bg: set[asyncio.Future] = set()
        self._answered: set[str] = set()
        self._closing = False
        self._tasks: list[asyncio.Task] = []
        #: calls a vanished member left open, followed here to their end (lguapi.cluster.adopt)
        self.adopter: CallAdopter = CallAdopter(self._publish, max_buffered=adopt_buffer)
        self.stats: dict[str, int] = {"takeovers": 0, "gaps": 0, "reconciled_calls": 0, "handovers": 0, "forced_logouts": 0}
        monitor.add_event_hook(self._on_event)
        monitor.add_update_hook(self._on_update)

    # -- the Monitor's side ---------------------------------------------------------------
    def may_login(self, login_id: str) -> bool:
        """May this process (re)log ``login_id`` in now? Only while it holds the shard's lease
        with at least ``login_margin`` seconds before the step-down deadline."""
        s = self._shard.get(login_id)
        return s is not None and not self._closing and self.leases.valid(s, ahead=self.login_margin)

    def owner_of(self, exten: str) -> str | None:
        """The member that holds the lease of ``exten``'s shard (as of the last tick), or None."""
        i = self._by_exten.get(exten)
        return None if i is None else self.leases.owners.get(self._shard[i])

    def login_id_of(self, exten: str) -> str | None:
        return self._by_exten.get(exten)

    def holds(self, exten: str) -> bool:
        """Does this member hold the lease of ``exten``'s shard?"""
        i = self._by_exten.get(exten)
        return i is not None and self._shard[i] in self.leases.held

    def remote_client(self, exten: str, timeout: float) -> RemoteClient | None:
        """A stand-in Client routing commands to ``exten``'s owner, or None when no live member owns it."""
        owner = self.owner_of(exten)
        if owner is None or owner == self.member or owner not in self.leases.members:
            return None
        return RemoteClient(self._route, owner, exten, timeout)

    async def _route(self, owner: str, exten: str, method: str, kwargs: dict, timeout: float) -> Any:
        return await request(self.redis, self.blocking, self.config.prefix, owner, exten, method, kwargs, timeout)

    def _local_client(self, exten: str) -> Any:
        return self.monitor.client(exten) if self.holds(exten) else None

    def owned_ids(self) -> list[str]:
        """Login ids of the shards this member holds."""
        return [i for s in list(self.leases.held) for i in self._ids.get(s, ())]

    async def start(self) -> None:
        """Join: start the leases, the publisher and the re-login loop; return once the first
        assignment is logged in (or after ``ready_timeout``: Redis may be down)."""
        if self.publisher is not None:
            self.publisher.start()
        self.leases.start()
        self._tasks.append(asyncio.create_task(self._repair_loop(), name="lguapi-cluster-relogin"))
        self._tasks.append(asyncio.create_task(self.commands.run(), name="lguapi-cluster-commands"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout
        while loop.time() < deadline:
            target = self.leases.target()
            if target and set(self.leases.held) == target and self._logins == 0:
                return
            await asyncio.sleep(0.1)
        log.warning("cluster: first assignment not complete after %.0fs (Redis reachable: %s)", self.ready_timeout,
                    self.leases.connected)

    async def close(self) -> None:
        """Leave: hand every shard back (its extensions logged out first), flush the stream."""
        self._closing = True
        self.commands.stopping = True
        repair, commands = self._tasks
        repair.cancel()  # only sleeps and logins between its checks
        await asyncio.gather(repair, return_exceptions=True)
        await finish(commands, 3.0)
        self._tasks.clear()
        await self.commands.close()
        await self.leases.stop(release=True)
        if self.publisher is not None:
            await self.publisher.close()
        if self._owns_redis:
            await self.redis.aclose()
            await self.blocking.aclose()

    def snapshot(self) -> dict:
        """Ownership, lease and stream counters of this member (JSON-serialisable)."""
        owned = self.owned_ids()
        online = sum(1 for i in owned if self.monitor.account_info(i)["online"])
        counts: dict[str, int] = {}
        for owner in self.leases.owners.values():
            counts[owner] = counts.get(owner, 0) + 1
        pub = self.publisher
        return {
            "member": self.member, "members": list(self.leases.members), "redis_connected": self.leases.connected,
            "shards": self.config.shards, "owned_shards": len(self.leases.held), "owned_extensions": len(owned),
            "online_extensions": online, "balanced": self.leases.balanced(), "shards_by_member": counts, "leases": dict(self.leases.stats),
            "node": dict(self.stats), "adopted": dict(self.adopter.stats), "commands": dict(self.commands.stats),
            "stream": {**pub.stats, "backlog": pub.backlog} if pub is not None else None,
        }

    # -- lease callbacks ------------------------------------------------------------------
    def _ids_of(self, leases: list[Lease]) -> list[str]:
        return [i for ls in leases for i in self._ids.get(ls.shard, ())]

    async def _acquired(self, leases: list[Lease]) -> None:
        self._logins += 1
        taken = [ls for ls in leases if ls.takeover]
        watched = [e for i in self._ids_of(taken) if (e := self._meta.get(i, (None, None))[0])]
        self.adopter.watch(watched)
        try:
            await self.monitor.login_accounts(self._ids_of(leases))
            if taken:
                self.stats["takeovers"] += len(taken)
                await self._after_takeover(taken)
        finally:
            self.adopter.unwatch(watched)  # a takeover that failed half-way buffers nothing more
            self._logins -= 1
            for i in self._ids_of(leases):
                self._remember(i)

    async def _release(self, leases: list[Lease]) -> None:
        ids = self._ids_of(leases)
        wait = self.leave_wait if self._closing or self.leases.leaving else self.handover_wait
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while loop.time() < deadline and any(self._on_call(i) for i in ids):
            if not all(self.leases.valid(ls.shard, ahead=self.login_margin) for ls in leases):
                break  # the lease itself is running out: log out now
            await asyncio.sleep(0.1)
        self.stats["handovers"] += len(leases)
        await self._logout(ids, "handover")

    def _on_call(self, login_id: str) -> bool:
        info = self.monitor.account_info(login_id)
        return info["state"] not in ("offline", "idle") or self.adopter.busy(info["exten"] or "")

    def _handed_over(self, takers: dict[int, str]) -> None:
        """Wake each taker (a ``wake`` on its command list) so it takes the shards at once."""
        async def wake(members: set[str]) -> None:
            try:
                pipe = self.redis.pipeline(transaction=False)
                for m in members:
                    pipe.rpush(command_key(self.config.prefix, m), "wake")
                    pipe.expire(command_key(self.config.prefix, m), 60)
                await pipe.execute()
            except Exception as e:  # the taker ticks by itself anyway
                log.debug("cluster: could not wake %s: %s", members, e)

        t = asyncio.ensure_future(wake(set(takers.values()) - {self.member}))
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)

    async def _lost(self, leases: list[Lease]) -> None:
        self.stats["forced_logouts"] += len(leases)
        await self._logout(self._ids_of(leases), "lease lost")

    async def _logout(self, ids: list[str], reason: str) -> None:
        await self.monitor.logout_accounts(ids)
        for i in ids:
            exten, domain = self._meta.get(i, (None, None))
            if exten:
                self.adopter.release(exten, reason)
            self._publish({"kind": "extension", "type": "released", "ts": time.time(), "exten": exten,
                           "domain": domain, "data": {"state": "offline", "reason": reason}}, i)

    async def _repair_loop(self) -> None:
        """Log in again the owned extensions that dropped (never past :meth:`may_login`)."""
        while True:
            await asyncio.sleep(self.config.renew_interval)
            ids = []
            for i in self.owned_ids():
                info = self.monitor.account_info(i)
                if not info["online"] and not info["busy"] and not info["refused"] and self.may_login(i):
                    ids.append(i)
            if ids:
                log.info("cluster: logging %d owned extension(s) in again", len(ids))
                await self.monitor.login_accounts(ids)

    # -- takeover: gap notice and reconciliation -------------------------------------------
    async def _after_takeover(self, leases: list[Lease]) -> None:
        ids = self._ids_of(leases)
        extens = {}
        for i in ids:
            self._remember(i)
            exten, domain = self._meta.get(i, (None, None))
            if exten:
                extens[exten] = i
            self.stats["gaps"] += 1
            self._publish({"kind": "gap", "type": "gap", "ts": time.time(), "exten": exten, "domain": domain,
                           "data": {"reason": "failover", "member": self.member}}, i)
        try:
            open_calls = await self._open_calls({ls.shard for ls in leases}, set(extens))
        except Exception as e:
            log.warning("cluster: could not read the stream to reconcile a takeover: %s", e)
            open_calls = {}
        # extensions with calls to adopt first (their events wait in the buffer meanwhile),
        # ``reconcile_concurrency`` GETSTATUSPEERS at a time
        order = sorted(extens, key=lambda e: e not in open_calls)
        sem = asyncio.Semaphore(self.reconcile_concurrency)

        async def one(exten: str) -> None:
            async with sem:
                await self._reconcile(exten, extens[exten], open_calls.get(exten, []))

        await asyncio.gather(*(one(e) for e in order))

    async def _open_calls(self, shards: set[int], extens: set[str]) -> dict[str, list[OpenCall]]:
        """Per extension, the calls (one per view: member and call id) whose last update in the
        stream is not an end."""
        assert self.publisher is not None
        last: dict[tuple[str, str], tuple[str, dict, str]] = {}
        keys = {stream_key(self.config.prefix, s, self.publisher.streams) for s in shards}
        for key in keys:
            async for _id, fields in read_back(self.redis, key, self.reconcile_scan):
                msg = json.loads(message_body(fields))
                if msg.get("kind") != "call" or msg.get("exten") not in extens:
                    continue
                view = str(msg.get("view") or msg.get("node"))
                cid = str(msg["data"].get("id"))
                if (view, cid) not in last:  # newest first
                    last[(view, cid)] = (msg["type"], msg["data"], msg["exten"])
        out: dict[str, list[OpenCall]] = {}
        for (view, _cid), (typ, data, exten) in last.items():
            if typ != "call.ended" and view != self.member:
                out.setdefault(exten, []).append(OpenCall(data, view))
        return out

    async def _reconcile(self, exten: str, login_id: str, open_calls: list[OpenCall]) -> None:
        """GETSTATUSPEERS for a taken extension; its open calls are adopted (followed to their
        end, or closed now when the server says the extension is not on a call)."""
        _, domain = self._meta.get(login_id, (exten, None))
        up: bool | None = None
        rows: list[tuple] = []
        try:
            client = self.monitor.client(exten)
            statuses = await bounded(client.get_status_peers(exten), 10) if client is not None else []
            rows = [s.as_tuple() for s in statuses]
            up = any(r[0] == exten and str(r[1]).strip().lower() in _LIVE for r in rows)
        except Exception as e:
            log.warning("cluster: GETSTATUSPEERS for %s after takeover failed: %s (its open calls are followed)",
                        exten, e)
        self._publish({"kind": "event", "type": "reconciled", "ts": time.time(), "exten": exten, "domain": domain,
                       "data": {"statuses": rows, "open_calls": [c.data.get("id") for c in open_calls]}}, login_id)
        before = self.adopter.stats["closed"] + self.adopter.stats["ended"]
        self.adopter.adopt(exten, login_id, domain, open_calls, up=up)
        self.stats["reconciled_calls"] += self.adopter.stats["closed"] + self.adopter.stats["ended"] - before

    # -- publishing -----------------------------------------------------------------------
    def _remember(self, login_id: str) -> None:
        info = self.monitor.account_info(login_id)
        self._meta[login_id] = (info["exten"], info["domain"])
        if info["exten"]:
            self._by_exten[info["exten"]] = login_id

    def _publish(self, msg: dict, login_id: str | None) -> None:
        if self.publisher is None:
            return
        shard = self._shard.get(login_id, 0) if login_id else 0
        lease = self.leases.held.get(shard)
        msg["node"] = self.member
        msg["token"] = lease.token if lease is not None else None
        self.publisher.publish(msg, shard)

    def _on_event(self, ev: Any) -> None:
        self.adopter.on_event(ev)
        login_id = self._by_exten.get(ev.exten) if ev.exten else None
        if login_id is None and isinstance(ev, LoggedIn) and ev.result is not None:
            login_id = self._learn(ev.result)
        meta = self._meta.get(login_id, (ev.exten, None)) if login_id else (ev.exten, None)
        self._publish(event_message(ev, meta[0] or ev.exten, meta[1]), login_id)

    def _learn(self, result: Any) -> str | None:
        """An account listed without its extension: learn it from the login result."""
        login_id = getattr(result, "msg", "") and str(result.msg).split(",")[-1]
        if login_id in self._shard:
            self._remember(login_id)
            return login_id
        return None

    def _on_update(self, update: Any) -> None:
        call = update.call
        first_answer = False
        if update.kind == "ended":
            self._answered.discard(call.id)
        elif call.answer_at is not None and call.id not in self._answered:
            first_answer = update.kind != "new"
            self._answered.add(call.id)
        login_id = None
        for exten in getattr(call, "exten", ()) or ():
            i = self._by_exten.get(exten)
            if i is not None and self._shard[i] in self.leases.held:
                login_id = i
                break
        exten, domain = self._meta.get(login_id, (None, None)) if login_id else (None, None)
        self._publish(call_message(update, exten, domain, first_answer=first_answer), login_id)
