"""A sink as a Redis Streams consumer-group worker: every event and finished call of the cluster, at least once, stored once.

:class:`SinkWorker` reads the cluster's streams with ``XREADGROUP`` (group ``lguapi-sink`` by
default), writes events and finished calls to a :mod:`lguapi.sinks` sink, flushes it, and
only then ``XACK``\\ s what it wrote. A worker killed at any moment leaves its entries pending:
restarted under the same consumer name it reads them again first; another worker claims
entries idle longer than ``claim_idle`` (``XAUTOCLAIM``). Records written twice are skipped
by the sink's idempotency keys (events are rebuilt field for field, so their keys are the
publishing process's keys).

A call between extensions owned by different members is tracked by each of them, each seeing
its own legs (a transfer to another member's extension even gets another call id there). The
worker groups call updates whose unique ids overlap; when every view of a group has ended and
``merge_window`` seconds passed, it merges them (:func:`lguapi.cluster.stream.merge_call_dicts`),
writes one record and acknowledges every entry of the group. Updates of calls still in progress
stay pending (unacknowledged) until then, so a restarted worker rebuilds the same groups. A view
arriving after its call was written is acknowledged and counted in ``stats["late_views"]``.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import socket
import time
from typing import Any

from .stream import CallRecord, event_from_dict, merge_call_dicts, message_body, stream_keys

__all__ = ["SinkWorker", "DEFAULT_GROUP", "group_info"]

log: logging.Logger = logging.getLogger("lguapi.cluster.sink")

DEFAULT_GROUP = "lguapi-sink"


async def group_info(redis: Any, keys: list[str], group: str) -> dict:
    """``{"pending", "lag"}`` of ``group`` summed over ``keys`` (lag: entries not yet delivered)."""
    pending = lag = 0
    for key in keys:
        try:
            groups = await redis.xinfo_groups(key)
        except Exception:  # the stream does not exist yet
            continue
        for g in groups:
            name = g.get("name")
            if (name.decode() if isinstance(name, bytes) else name) == group:
                pending += int(g.get("pending") or 0)
                lag += int(g.get("lag") or 0)
    return {"pending": pending, "lag": lag}


class _Group:
    """The views of one call, as the members published them, and the stream entries they came in."""

    __slots__ = ("uids", "views", "live", "ended", "where", "first", "last_end")

    def __init__(self) -> None:
        self.uids: set[str] = set()
        self.views: dict[str, dict] = {}   # "<member>|<call id>" -> latest call dict
        self.live: set[str] = set()        # views not ended yet
        self.ended: set[str] = set()
        self.where: set[tuple[str, Any]] = set()
        self.first = time.monotonic()
        self.last_end = self.first

    def absorb(self, other: _Group) -> None:
        self.uids |= other.uids
        self.views.update(other.views)
        self.live |= other.live
        self.ended |= other.ended
        self.where |= other.where
        self.first = min(self.first, other.first)
        self.last_end = max(self.last_end, other.last_end)


class SinkWorker:
    """Consume the cluster's streams into ``sink`` (see the module docstring).

    ``batch``: entries per read; ``block``: seconds a read waits for new entries;
    ``merge_window``: seconds a finished call waits for other members' views of it;
    ``claim_idle``: seconds after which another consumer's unacknowledged entries are taken over;
    ``max_held_calls``: bound on calls waiting in the merge window (beyond it they are written at once).
    """

    def __init__(self, redis: Any, sink: Any, *, prefix: str = "lguapi:cluster", streams: int = 16,
                 group: str = DEFAULT_GROUP, consumer: str | None = None, batch: int = 500, block: float = 1.0,
                 merge_window: float = 3.0, claim_idle: float = 30.0, max_held_calls: int = 100_000,
                 max_call_hold: float = 4 * 3600.0, remember_calls: int = 200_000) -> None:
        if batch < 1 or streams < 1 or max_held_calls < 1:
            raise ValueError("batch, streams and max_held_calls must be >= 1")
        if block <= 0 or merge_window < 0 or claim_idle <= 0:
            raise ValueError("block and claim_idle must be > 0, merge_window >= 0")
        self.redis = redis
        self.sink = sink
        self.keys: list[str] = stream_keys(prefix, streams)
        self.group = group
        self.consumer: str = consumer or socket.gethostname()
        self.batch = batch
        self.block = block
        self.merge_window = merge_window
        self.claim_idle = claim_idle
        self.max_held_calls = max_held_calls
        self.max_call_hold = max_call_hold
        self._groups: list[_Group] = []
        self._by_uid: dict[str, _Group] = {}
        self._written_uids: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._remember = remember_calls
        self._ack: list[tuple[str, str]] = []
        self._last_claim = 0.0
        self.stats: dict[str, int] = {"entries": 0, "events": 0, "calls": 0, "merged_views": 0, "late_views": 0, "skipped": 0,
                      "expired_live": 0, "acked": 0, "redelivered": 0, "claimed": 0, "bad": 0}

    async def setup(self) -> None:
        """Create the consumer group on every stream (from the start of each stream)."""
        from redis.exceptions import ResponseError

        for key in self.keys:
            try:
                await self.redis.xgroup_create(key, self.group, id="0", mkstream=True)
            except ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; then write what is held and acknowledge it."""
        await self.setup()
        await self.replay_pending()
        while not stop.is_set():
            await self.step()
        await self._finish(force=True)

    async def replay_pending(self) -> int:
        """Read again what this consumer had been given but not acknowledged (a restart)."""
        n = 0
        after = dict.fromkeys(self.keys, "0")
        while True:
            reply = await self.redis.xreadgroup(self.group, self.consumer, after, count=self.batch)
            got = 0
            for key, entries in reply or ():
                if entries:
                    got += len(entries)
                    after[key.decode() if isinstance(key, bytes) else key] = entries[-1][0]
            if not got:
                break
            n += got
            await self._handle(reply)
            await self._finish()
        self.stats["redelivered"] += n
        return n

    async def step(self) -> int:
        """One read (waiting up to ``block``), writes, flush, acknowledgements; returns entries read."""
        now = time.monotonic()
        if now - self._last_claim >= self.claim_idle / 2:
            self._last_claim = now
            await self._claim()
        from redis.exceptions import ResponseError

        try:
            reply = await self.redis.xreadgroup(self.group, self.consumer, dict.fromkeys(self.keys, ">"),
                                                count=self.batch, block=int(self.block * 1000))
        except ResponseError as e:
            if "NOGROUP" not in str(e):
                raise
            log.warning("lguapi sink: the consumer group is gone (Redis lost its data?): creating it again")
            await self.setup()
            return 0
        n = await self._handle(reply)
        await self._finish()
        return n

    async def _claim(self) -> None:
        for key in self.keys:
            start = "0-0"
            while True:
                try:
                    res = await self.redis.xautoclaim(key, self.group, self.consumer, int(self.claim_idle * 1000),
                                                      start_id=start, count=self.batch)
                except Exception as e:  # the group may not exist yet on a brand-new stream
                    log.debug("xautoclaim %s: %s", key, e)
                    break
                start, entries = res[0], res[1]
                if entries:
                    self.stats["claimed"] += len(entries)
                    await self._handle([(key, entries)])
                if not entries or start in (b"0-0", "0-0"):
                    break

    async def _handle(self, reply: Any) -> int:
        n = 0
        for key, entries in reply or ():
            key = key.decode() if isinstance(key, bytes) else key
            for entry_id, fields in entries:
                if fields is None:  # trimmed away by MAXLEN before we read it
                    self._ack.append((key, entry_id))
                    continue
                n += 1
                await self._one(key, entry_id, fields)
        self.stats["entries"] += n
        return n

    async def _one(self, key: str, entry_id: Any, fields: dict) -> None:
        try:
            msg = json.loads(message_body(fields))
            kind, data = msg["kind"], msg.get("data") or {}
        except (TypeError, ValueError, KeyError):
            self.stats["bad"] += 1
            log.error("%s %s: not a cluster message; acknowledged and skipped", key, entry_id)
            self._ack.append((key, entry_id))
            return
        if kind in ("event", "extension") and "event" in data:
            try:
                ev = event_from_dict(data)
            except (TypeError, ValueError) as e:
                self.stats["bad"] += 1
                log.error("%s %s: cannot rebuild the event (%s); skipped", key, entry_id, e)
            else:
                await self.sink.write_event(ev)
                self.stats["events"] += 1
            self._ack.append((key, entry_id))
        elif kind == "call" and data.get("id") is not None:
            self._call_message(msg, data, (key, entry_id))
        else:
            self.stats["skipped"] += 1
            self._ack.append((key, entry_id))

    def _call_message(self, msg: dict, data: dict, where: tuple[str, Any]) -> None:
        """Fold one call update into its group (views sharing a unique id are one call)."""
        uids = {str(u) for u in data.get("unique_ids") or ()} | {str(data.get("id"))}
        if uids & self._written_uids.keys():
            self.stats["late_views"] += msg.get("type") == "call.ended"
            self._ack.append(where)
            return
        group = self._group_for(uids)
        if where in group.where:  # delivered again (a claim of our own pending entry)
            return
        group.where.add(where)
        # an adopted call's updates continue the vanished member's view (lguapi.cluster.adopt)
        view = f"{msg.get('view') or msg.get('node')}|{data.get('id')}"
        if msg.get("type") != "call.ended":
            group.views[view] = data
            group.live.add(view)
            return
        group.last_end = time.monotonic()
        if data.get("end_reason") == "merged":  # folded into another view of the member's tracker
            group.views.pop(view, None)
            group.live.discard(view)
            return
        group.views[view] = data
        group.live.discard(view)
        group.ended.add(view)
        if data.get("end_reason") == "failover" and "view" not in msg:  # closed for a vanished member (older taker)
            for v in [v for v in group.live if v.endswith(f"|{data.get('id')}")]:
                group.live.discard(v)
                group.views.pop(v, None)

    def _group_for(self, uids: set[str]) -> _Group:
        found = {id(g): g for u in uids if (g := self._by_uid.get(u)) is not None}
        groups = list(found.values())
        if not groups:
            group = _Group()
            self._groups.append(group)
        else:
            group = groups[0]
            for other in groups[1:]:
                group.absorb(other)
                self._groups.remove(other)
                for u in other.uids:
                    self._by_uid[u] = group
        for u in uids:
            group.uids.add(u)
            self._by_uid[u] = group
        return group

    async def _finish(self, *, force: bool = False) -> None:
        """Write the calls that are over (every view ended ``merge_window`` ago; with ``force``
        at once), flush the sink, then acknowledge. Calls still in progress stay pending."""
        now = time.monotonic()
        over = len(self._groups) - self.max_held_calls
        for group in list(self._groups):
            expired = now - group.first > self.max_call_hold or over > 0
            done = not group.live and group.views and (force or now - group.last_end >= self.merge_window)
            if not (done or expired or (not group.views and not group.live)):
                continue
            over -= 1
            self._groups.remove(group)
            for u in group.uids:
                self._by_uid.pop(u, None)
            ended = [group.views[v] for v in group.ended if v in group.views]
            if ended:
                if len(ended) > 1:
                    self.stats["merged_views"] += len(ended) - 1
                await self.sink.write_call(CallRecord(merge_call_dicts(ended)))
                self.stats["calls"] += 1
                for u in group.uids:
                    self._written_uids[u] = None
                while len(self._written_uids) > self._remember:
                    self._written_uids.popitem(last=False)
            elif group.live:
                self.stats["expired_live"] += 1
            self._ack.extend(group.where)
        if not self._ack:
            return
        await self.sink.flush()
        by_key: dict[str, list[Any]] = {}
        for key, entry_id in self._ack:
            by_key.setdefault(key, []).append(entry_id)
        self._ack = []
        pipe = self.redis.pipeline(transaction=False)
        for key, ids in by_key.items():
            pipe.xack(key, self.group, *ids)
        for n in await pipe.execute():
            self.stats["acked"] += int(n)

    async def info(self) -> dict:
        """Counters plus the group's pending entries and lag (for /metrics and status lines)."""
        return {**self.stats, "held_calls": len(self._groups), **await group_info(self.redis, self.keys, self.group)}
