"""``lguapi gateway --cluster URL``: a gateway whose Monitor is a cluster member and whose reads, feed and commands span the cluster.

:func:`cluster_gateway` builds a :class:`lguapi.gateway.Gateway` over a :class:`ClusterMonitor`:
the local Monitor (``cluster=URL``) wrapped so that

* ``GET /v1/extensions``, ``/v1/calls``, ``/v1/snapshot`` answer for every extension of the
  cluster: extensions this member holds from its own Monitor, the others from a
  :class:`ClusterView` kept up to date by reading every member's stream;
* the live feed (and the wallboard, and webhooks) also carries the other members' messages,
  turned into the gateway's message shapes (``event.<name>``, ``call.*``,
  ``extension.state``, and ``gap`` with ``type: gap.failover`` after a takeover);
* ``POST /v1/extensions/{exten}/{method}`` for an extension held elsewhere is routed to its
  owner (:mod:`lguapi.cluster.routing`) and answers with the owner's status and body;
* ``/metrics`` gains the cluster's gauges and counters (:class:`ClusterCollector`).
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from typing import Any, Iterator

from ._wait import finish
from .leases import LeaseConfig
from .node import ClusterNode
from .sinkworker import DEFAULT_GROUP, group_info
from .stream import CallRecord, message_body, stream_keys

__all__ = ["add_arguments", "cluster_gateway", "ClusterMonitor", "ClusterView", "ClusterCollector"]

log: logging.Logger = logging.getLogger("lguapi.cluster.gateway")

_CALL_STATE = {"ringing": "ringing", "held": "held"}  # any other live call state: talking


def add_arguments(p: Any) -> None:
    """``--cluster URL`` for ``lguapi gateway``."""
    p.add_argument("--cluster", metavar="URL", default=None,
                   help="join the cluster at redis://HOST:PORT/DB: share the accounts with the other gateways, "
                        "serve the whole cluster (docs/cluster.md)")


def cluster_gateway(config: Any, url: str, *, lease_config: LeaseConfig | None = None, freeze_gc: bool = False,
                    **node_options: Any) -> Any:
    """A Gateway (not started) whose Monitor joins the cluster at ``url`` (``node_options`` go to
    :class:`ClusterNode`; ``freeze_gc`` to the Monitor)."""
    from ..gateway.app import Gateway, make_monitor

    holder: dict[str, Any] = {}

    def factory(cfg: Any) -> ClusterMonitor:
        monitor = make_monitor(cfg, freeze_gc=freeze_gc, cluster=url,
                               cluster_options={"config": lease_config, **node_options})
        return ClusterMonitor(monitor, holder["gateway"])

    gateway = Gateway(config, monitor_factory=factory, wait_logins=False)
    holder["gateway"] = gateway
    return gateway


class ClusterView:
    """Every member's extensions and calls as their streams tell them (this member's included),
    and the other members' messages republished on the gateway's hub."""

    def __init__(self, node: ClusterNode, *, hub: Any = None, skip_events: Any = ("PING",), max_ended: int = 1000,
                 bootstrap: int = 2000, block: float = 1.0) -> None:
        self.node = node
        self.hub = hub
        self.skip = frozenset(s.upper() for s in skip_events)
        self.keys: list[str] = stream_keys(node.config.prefix, node.publisher.streams if node.publisher else 16)
        self.bootstrap = bootstrap
        self.block = block
        self.domain: dict[str, str | None] = {}
        self.offline_under: dict[str, str | None] = {}   # exten -> owner it was seen offline under
        self.since: dict[str, float] = {}
        self.active: dict[str, CallRecord] = {}
        self.ended: collections.deque[CallRecord] = collections.deque(maxlen=max_ended)
        self.states: dict[str, str] = {}
        self.counters: dict[str, dict[str, float]] = {}
        self._counted: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._task: asyncio.Task | None = None
        self._group_task: asyncio.Task | None = None
        self._stopping = False
        #: the sink consumer group's pending entries and lag, refreshed every few seconds
        self.sink_group: dict[str, int] = {"pending": 0, "lag": 0}
        self.stats: dict[str, int] = {"read": 0, "republished": 0, "errors": 0}
        self.lag_seconds: float = 0.0

    # -- reading ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="lguapi-cluster-view")
            self._group_task = asyncio.create_task(self._watch_group(), name="lguapi-cluster-sink-group")

    async def close(self) -> None:
        self._stopping = True
        if self._group_task is not None:
            self._group_task.cancel()  # sleeps between short calls
            await asyncio.gather(self._group_task, return_exceptions=True)
        await finish(self._task, self.block + 2.0)
        self._task = self._group_task = None

    async def _watch_group(self, group: str = DEFAULT_GROUP, every: float = 5.0) -> None:
        # the flag too, not only the cancel: a cancel that lands inside a redis call can come
        # out as a timeout error (caught below), and close() would then wait for ever
        while not self._stopping:
            try:
                self.sink_group = await group_info(self.node.redis, self.keys, group)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.debug("cluster view: sink group info: %s", e)
            if not self._stopping:
                await asyncio.sleep(every)

    async def _run(self) -> None:
        last: dict[str, Any] = {}
        while not self._stopping:
            try:
                if not last:
                    last = await self._bootstrap()
                reply = await self.node.blocking.xread(last, count=1000, block=int(self.block * 1000))
                for key, entries in reply or ():
                    key = key.decode() if isinstance(key, bytes) else key
                    for entry_id, fields in entries:
                        last[key] = entry_id
                        self._entry(fields, live=True)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.stats["errors"] += 1
                if self.stats["errors"] in (1, 10) or self.stats["errors"] % 100 == 0:
                    log.warning("cluster view: reading the streams failed (%s); retrying", e)
                await asyncio.sleep(0.5)

    async def _bootstrap(self) -> dict[str, Any]:
        """The recent past of every stream (state, calls), then read on from its newest entry."""
        last: dict[str, Any] = {}
        for key in self.keys:
            entries = await self.node.redis.xrevrange(key, count=self.bootstrap)
            last[key] = entries[0][0] if entries else "0-0"
            for _id, fields in reversed(entries):
                self._entry(fields, live=False)
        return last

    def _entry(self, fields: dict, *, live: bool) -> None:
        try:
            msg = json.loads(message_body(fields))
        except (TypeError, ValueError):
            return
        self.stats["read"] += 1
        if live and msg.get("kind") == "event" and isinstance(msg.get("ts"), (int, float)):
            self.lag_seconds = max(0.0, time.time() - msg["ts"])
        touched = self.apply(msg)
        if live and self.hub is not None and (msg.get("node") != self.node.member or _node_only(msg)):
            self._republish(msg)
        for exten in touched:
            self._state_changed(exten, publish=live)

    # -- state -------------------------------------------------------------------------------
    def apply(self, msg: dict) -> list[str]:
        """Fold one stream message in; returns the extensions whose state may have changed."""
        kind, exten, data = msg.get("kind"), msg.get("exten"), msg.get("data") or {}
        if exten and msg.get("domain"):
            self.domain[exten] = msg["domain"]
        if kind == "call":
            return self._call(msg.get("type"), data)
        if kind == "extension" and exten:
            typ = str(msg.get("type", "")).lower()
            if typ in ("released", "disconnected"):
                self.offline_under[exten] = msg.get("node")
            elif typ in ("logged_in", "reconnected"):
                self.offline_under.pop(exten, None)
            self.since[exten] = msg.get("ts") or time.time()
            return [exten]
        return []

    def _call(self, typ: Any, data: dict) -> list[str]:
        cid = data.get("id")
        if cid is None:
            return []
        rec = CallRecord(data)
        if typ == "call.ended":
            self.active.pop(cid, None)
            if data.get("end_reason") != "merged":
                self.ended.append(rec)
                self._count(rec)
        else:
            self.active[cid] = rec
        return list(rec.exten)

    def _count(self, rec: CallRecord) -> None:
        uids = set(rec.unique_ids) | {str(rec.id)}
        if uids & self._counted.keys():
            return  # another member's view of a call counted already
        for u in uids:
            self._counted[u] = None
        while len(self._counted) > 100_000:
            self._counted.popitem(last=False)
        dom = next((self.domain.get(x) for x in rec.exten if self.domain.get(x)), None) or "default"
        for key in (dom, "__total__"):
            c = self.counters.setdefault(key, dict.fromkeys(
                ("ended", "answered", "missed", "abandoned", "ring_sum", "ring_n", "talk_sum", "talk_n"), 0))
            c["ended"] += 1
            c["answered"] += rec.answered
            c["missed"] += rec.missed
            c["abandoned"] += rec.abandoned
            if rec.ring_seconds is not None:
                c["ring_sum"] += rec.ring_seconds
                c["ring_n"] += 1
            if rec.answered and rec.talk_seconds is not None:
                c["talk_sum"] += rec.talk_seconds
                c["talk_n"] += 1

    def state(self, exten: str) -> str:
        """offline, idle, ringing, talking or held, as the streams tell (the owner's lease decides online)."""
        owner = self.node.owner_of(exten)
        if owner is None or owner not in self.node.leases.members or (
                exten in self.offline_under and self.offline_under[exten] in (owner, None)):
            return "offline"
        best = "idle"
        for rec in self.active.values():
            if exten in rec.exten:
                st = _CALL_STATE.get(rec.state or "", "talking")
                if st == "talking":
                    return st
                if st == "held" or best == "idle":
                    best = st
        return best

    def _state_changed(self, exten: str, *, publish: bool) -> None:
        if self.node.holds(exten):
            return  # the local bridge speaks for it
        state = self.state(exten)
        previous = self.states.get(exten, "offline")
        if state == previous:
            return
        self.states[exten] = state
        self.since[exten] = time.time()
        if publish and self.hub is not None:
            call_id = next((c.id for c in self.active.values() if exten in c.exten), None)
            self.hub.publish("extension", "extension.state",
                             {"exten": exten, "domain": self.domain.get(exten), "state": state, "previous": previous,
                              "call_id": None if state in ("idle", "offline") else call_id},
                             exten=exten, domain=self.domain.get(exten))

    # -- the feed ------------------------------------------------------------------------------
    def _republish(self, msg: dict) -> None:
        from ..gateway.bridge import call_outcome
        from ..gateway.jsonable import to_jsonable

        kind, typ, data = msg.get("kind"), str(msg.get("type") or ""), msg.get("data") or {}
        exten, domain, ts = msg.get("exten"), msg.get("domain"), msg.get("ts")
        if kind in ("event", "extension") and "event" in data:
            if typ.upper() in self.skip:
                return
            data = {k: v for k, v in data.items() if k != "raw"}
            self.hub.publish("event", "event." + typ.lower(), to_jsonable(data), exten=exten, domain=domain, ts=ts)
        elif kind == "event":
            self.hub.publish("event", "event." + typ.lower(), to_jsonable(data), exten=exten, domain=domain, ts=ts)
        elif kind == "call":
            data = dict(data)
            if typ == "call.ended":
                data["outcome"] = call_outcome(CallRecord(data))
            first = (data.get("exten") or [None])[0]
            self.hub.publish("call", typ, data, exten=first, domain=self.domain.get(first or "", domain), ts=ts)
        elif kind == "gap":
            self.hub.publish("gap", "gap." + str(data.get("reason", "failover")), data, exten=exten, domain=domain,
                             ts=ts)
        else:
            return
        self.stats["republished"] += 1

    def counters_dict(self) -> dict:
        """Cluster-wide counters in :meth:`lguapi.Monitor.counters` shape (finished calls since
        this gateway started plus the streams' recent past)."""
        live: dict[str, list[int]] = {}
        for rec in self.active.values():
            dom = next((self.domain.get(x) for x in rec.exten if self.domain.get(x)), None) or "default"
            ringing = 1 if rec.state == "ringing" else 0
            for key in (dom, "__total__"):
                d = live.setdefault(key, [0, 0])
                d[0] += 1
                d[1] += ringing

        def one(key: str) -> dict:
            c = self.counters.get(key) or dict.fromkeys(("ended", "answered", "missed", "abandoned", "ring_sum",
                                                         "ring_n", "talk_sum", "talk_n"), 0)
            a, r = live.get(key, (0, 0))
            return {"active": a, "ringing": r, "talking": a - r, "ended": c["ended"], "answered": c["answered"],
                    "missed": c["missed"], "abandoned": c["abandoned"],
                    "avg_ring_seconds": round(c["ring_sum"] / c["ring_n"], 3) if c["ring_n"] else None,
                    "avg_talk_seconds": round(c["talk_sum"] / c["talk_n"], 3) if c["talk_n"] else None}

        doms = (set(self.counters) | set(live)) - {"__total__"}
        return {"total": one("__total__"), "domains": {d: one(d) for d in sorted(doms)}}


class _ClusterTracker:
    """The local tracker, with the other members' active and recently ended calls added."""

    def __init__(self, local: Any, view: ClusterView) -> None:
        self._local = local
        self._view = view

    def __getattr__(self, name: str) -> Any:
        return getattr(self._local, name)

    @property
    def active(self) -> dict:
        out = {cid: c for cid, c in self._view.active.items()}
        out.update(self._local.active)
        return out

    @property
    def ended(self) -> list:
        local_ids = {c.id for c in self._local.ended}
        out = list(self._local.ended) + [c for c in self._view.ended if c.id not in local_ids]
        out.sort(key=lambda c: c.end_at or 0.0)
        return out


class ClusterMonitor:
    """A cluster-mode :class:`lguapi.Monitor` seen cluster-wide (see the module docstring)."""

    def __init__(self, monitor: Any, gateway: Any) -> None:
        self._monitor = monitor
        self._gateway = gateway
        self.node: ClusterNode = _node_of(monitor)
        self.view: ClusterView = ClusterView(self.node)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._monitor, name)

    async def start(self, *, wait: bool = True) -> Any:
        gw = self._gateway
        self.view.hub = gw.hub
        self.view.skip = frozenset(s.upper() for s in gw.config.feed_skip_events)
        gw.registry.register(ClusterCollector(self.node, self.view))
        self.view.start()
        return await self._monitor.start(wait=wait)

    async def close(self) -> None:
        await self.view.close()
        await self._monitor.close()

    @property
    def tracker(self) -> _ClusterTracker:
        return _ClusterTracker(self._monitor.tracker, self.view)

    def _remote(self, exten: str) -> bool:
        return not self.node.holds(exten) and self.node.login_id_of(exten) is not None

    def line_state(self, exten: str) -> str:
        return self.view.state(exten) if self._remote(exten) else self._monitor.line_state(exten)

    def extension(self, exten: str) -> dict:
        info = self._monitor.extension(exten)
        if not self._remote(exten):
            return info
        calls = [c.id for c in self.view.active.values() if exten in c.exten]
        return {**info, "state": self.view.state(exten), "domain": self.view.domain.get(exten) or info["domain"],
                "since": self.view.since.get(exten, info["since"]), "calls": calls, "error": None,
                "owner": self.node.owner_of(exten)}

    def states(self) -> dict[str, str]:
        return {ex: (self.view.state(ex) if self._remote(ex) else st) for ex, st in self._monitor.states().items()}

    def client(self, exten: str) -> Any:
        if not self._remote(exten):
            return self._monitor.client(exten)
        return self.node.remote_client(exten, self._gateway.config.command_timeout + 1.0)

    def snapshot(self, *, calls: int = 200) -> dict:
        snap = self._monitor.snapshot(calls=calls)
        states = dict.fromkeys(snap["states"], 0)
        for ex, info in snap["extensions"].items():
            if self._remote(ex):
                info.update(self.extension(ex))
            states[info["state"]] = states.get(info["state"], 0) + 1
        snap["states"] = states
        local_ids = {c["id"] for c in snap["calls"]}
        room = max(0, calls - len(snap["calls"]))
        snap["calls"] += [c.to_dict() for c in list(self.view.active.values())[:room] if c.id not in local_ids]
        snap["counters"] = self.view.counters_dict()
        return snap


def _node_only(msg: dict) -> bool:
    """Messages only the cluster node makes (the local bridge never sees them): gap notices and
    takeover reconciliations."""
    return msg.get("kind") == "gap" or (msg.get("kind") == "event" and "event" not in (msg.get("data") or {}))


def _node_of(monitor: Any) -> ClusterNode:
    node = monitor.cluster_node
    if node is None:
        raise ValueError("the monitor was not made with cluster=...")
    return node


class ClusterCollector:
    """``/metrics`` families of the cluster: owned extensions and shards, lease renewals, losses
    and step-downs, rebalances, takeovers, stream publishing, the view's read lag."""

    def __init__(self, node: ClusterNode, view: ClusterView | None = None) -> None:
        self.node = node
        self.view = view

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snap = self.node.snapshot()
        member = snap["member"]
        g = GaugeMetricFamily("lguapi_cluster_owned_extensions", "Extensions this member holds", labels=["member"])
        g.add_metric([member], snap["owned_extensions"])
        yield g
        g = GaugeMetricFamily("lguapi_cluster_owned_shards", "Shards each member holds (this member's view)",
                              labels=["member"])
        for m, n in sorted(snap["shards_by_member"].items()):
            g.add_metric([m], n)
        yield g
        yield GaugeMetricFamily("lguapi_cluster_members", "Live members", value=len(snap["members"]))
        yield GaugeMetricFamily("lguapi_cluster_redis_connected", "1 when the last lease tick reached Redis",
                                value=1 if snap["redis_connected"] else 0)
        for key, doc in (("renewals", "Lease renewals"), ("lost", "Leases found held by another member"),
                         ("fenced", "Leases stepped down from at their deadline"),
                         ("acquired", "Leases taken"), ("released", "Leases handed over"),
                         ("rebalances", "Handover rounds started"), ("tick_errors", "Lease ticks that failed")):
            yield CounterMetricFamily(f"lguapi_cluster_lease_{key}", doc, value=snap["leases"][key])
        yield CounterMetricFamily("lguapi_cluster_takeovers", "Shards taken from a vanished member",
                                  value=snap["node"]["takeovers"])
        stream = snap["stream"] or {}
        yield CounterMetricFamily("lguapi_cluster_stream_published", "Messages appended to the streams",
                                  value=stream.get("published", 0))
        yield CounterMetricFamily("lguapi_cluster_stream_dropped", "Messages dropped (backlog full)",
                                  value=stream.get("dropped", 0))
        yield GaugeMetricFamily("lguapi_cluster_stream_backlog", "Messages waiting to be appended",
                                value=stream.get("backlog", 0))
        if self.view is not None:
            yield GaugeMetricFamily("lguapi_cluster_view_lag_seconds",
                                    "Age of the newest event read from the streams", value=self.view.lag_seconds)
            yield GaugeMetricFamily("lguapi_cluster_sink_pending", "Entries the sink consumer group holds unacknowledged",
                                    value=self.view.sink_group["pending"])
            yield GaugeMetricFamily("lguapi_cluster_sink_lag", "Entries not yet delivered to the sink consumer group",
                                    value=self.view.sink_group["lag"])
