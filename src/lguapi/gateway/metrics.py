"""``GET /metrics``: the gateway's Prometheus metrics, read at scrape time from the monitor and hub.

One :class:`prometheus_client.CollectorRegistry` per gateway (never the global one, so two
gateways in one process do not collide); the webhook dispatcher registers its own metrics
on it. The gateway's own values are kept as plain counters where they happen and turned
into metric families only when scraped (:class:`GatewayCollector`).
"""
from __future__ import annotations

from typing import Any, Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..monitor import STATES
from .keys import GATEWAY

__all__ = ["GatewayCollector", "new_registry", "metrics_handler"]


def new_registry(gateway: Any) -> CollectorRegistry:
    """A fresh registry holding the gateway's collector."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(GatewayCollector(gateway))
    return registry


class GatewayCollector:
    """Extensions by state, logins, reconnects, events, calls, the tracker's counts, feed and sink, per scrape."""

    def __init__(self, gateway: Any) -> None:
        self._gw = gateway

    def describe(self) -> list:
        return []  # families are known only at scrape time; nothing to check at register

    def collect(self) -> Iterator[Any]:
        gw = self._gw
        monitor, bridge, hub = gw.monitor, gw.bridge, gw.hub
        if monitor is None or bridge is None or hub is None:
            return
        snap = monitor.snapshot(calls=0)
        g = GaugeMetricFamily("lguapi_extensions", "Monitored extensions by state", labels=["state"])
        for state in STATES:
            g.add_metric([state], snap["states"].get(state, 0))
        yield g
        yield _counter("lguapi_logins", "Successful logins (first logins and logins after a reconnect)",
                       bridge.logins)
        yield _counter("lguapi_login_failures", "Initial logins that failed", snap["logins"]["failed"])
        yield _counter("lguapi_reconnects", "Connections logged in again after a loss", bridge.reconnects)
        c = CounterMetricFamily("lguapi_events", "Events received, by wire name", labels=["type"])
        for name, n in sorted(bridge.events_by_type.items()):
            c.add_metric([name], n)
        yield c
        c = CounterMetricFamily("lguapi_calls", "Finished calls by outcome", labels=["outcome"])
        for outcome, n in sorted(bridge.calls_by_outcome.items()):
            c.add_metric([outcome], n)
        yield c
        yield GaugeMetricFamily("lguapi_active_calls", "Calls in progress", value=snap["counters"]["total"]["active"])
        c = CounterMetricFamily("lguapi_tracker", "Call tracker counts: calls made, late duplicates dropped, "
                                "CHANNELOUTs kept and pushed out, merges, expiries, evictions, refused events",
                                labels=["count"])
        # (a tracker of the caller's own may keep no stats)
        for name, n in sorted(getattr(monitor.tracker, "stats", {}).items()):
            c.add_metric([name], n)
        yield c
        yield GaugeMetricFamily("lguapi_feed_subscribers", "Live feed connections (SSE and WebSocket)",
                                value=hub.subscribers)
        yield _counter("lguapi_feed_messages", "Feed messages published", hub.published)
        yield _counter("lguapi_feed_dropped_subscribers", "Feed subscribers cut off for falling behind",
                       hub.cut_count)
        sink = snap["sink"]
        yield GaugeMetricFamily("lguapi_sink_backlog", "Records waiting for the sink (sink lag)",
                                value=sink["backlog"])
        yield _counter("lguapi_sink_written", "Records written to the sink", sink["written"])
        yield _counter("lguapi_sink_dropped", "Records dropped because the sink fell too far behind",
                       sink["dropped"])


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


async def metrics_handler(request: web.Request) -> web.Response:
    """``GET /metrics`` in the Prometheus text format."""
    body = generate_latest(request.app[GATEWAY].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
