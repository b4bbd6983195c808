"""The gateway process: a Monitor, the feed hub, webhooks and an aiohttp.web app on one event loop.

>>> async def main():                                                   # doctest: +SKIP
...     gw = Gateway(GatewayConfig(upstream_port=8086, extensions="3001-3010", anonymous={"read"}))
...     await gw.start()
...     print(gw.url)          # http://127.0.0.1:8090
...     await gw.close()

:data:`ROUTES` is the one route table: the app is built from it, the auth middleware reads
each route's scope from it and ``/openapi.json`` documents it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from aiohttp import web

from .auth import Authenticator, Principal, request_token
from .bridge import MonitorBridge
from .config import GatewayConfig
from .errors import ApiError, error_response
from .feed import Hub
from .metrics import metrics_handler, new_registry
from . import rest, streams
from .keys import GATEWAY, PRINCIPAL

if TYPE_CHECKING:  # pragma: no cover
    from ..monitor import Monitor

__all__ = ["Gateway", "ROUTES", "Route", "STATIC_DIR", "make_monitor", "build_app"]

log: logging.Logger = logging.getLogger("lguapi.gateway")

#: the wallboard's static files (index.html, CSS, JavaScript)
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One route: ``scope`` is ``read``/``command``, or ``None`` for a public route."""

    method: str
    path: str
    handler: Handler
    scope: str | None
    summary: str
    tag: str = "gateway"


async def _index(request: web.Request) -> web.StreamResponse:
    path = os.path.join(STATIC_DIR, "index.html")
    if not os.path.isfile(path):
        raise ApiError(404, None, "the wallboard is not installed (no static/index.html)")
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["path"]
    root = os.path.realpath(STATIC_DIR)
    full = os.path.realpath(os.path.join(root, name))
    if not full.startswith(root + os.sep) or not os.path.isfile(full):
        raise ApiError(404, None, f"no static file {name[:80]!r}")
    return web.FileResponse(full, headers={"Cache-Control": "no-cache"})


async def _openapi(request: web.Request) -> web.Response:
    from .openapi import openapi_document

    return web.json_response(openapi_document(ROUTES, request.app[GATEWAY]))


ROUTES: tuple[Route, ...] = (
    Route("GET", "/", _index, None, "The web wallboard (static HTML)", "wallboard"),
    Route("GET", "/static/{path:.+}", _static, None, "The wallboard's static files", "wallboard"),
    Route("GET", "/openapi.json", _openapi, None, "This OpenAPI 3.1 document", "meta"),
    Route("GET", "/metrics", metrics_handler, "read", "Prometheus metrics (text format)", "meta"),
    Route("GET", "/v1/health", rest.health, None, "Liveness and login progress", "meta"),
    Route("GET", "/v1/extensions", rest.list_extensions, "read", "Every monitored extension", "extensions"),
    Route("GET", "/v1/extensions/{exten}", rest.get_extension, "read", "One extension", "extensions"),
    Route("POST", "/v1/extensions/{exten}/{method}", rest.command, "command",
          "Run a Client method as this extension", "commands"),
    Route("GET", "/v1/calls", rest.list_calls, "read", "Active calls, or recent ended ones", "calls"),
    Route("GET", "/v1/calls/{id}", rest.get_call, "read", "One active or recent call", "calls"),
    Route("GET", "/v1/snapshot", rest.snapshot, "read", "Wallboard counters and states", "calls"),
    Route("GET", "/v1/events", streams.sse_handler, "read", "The live feed as Server-Sent Events", "feed"),
    Route("GET", "/v1/ws", streams.ws_handler, "read", "The live feed over WebSocket", "feed"),
    Route("GET", "/v1/webhooks/deliveries", rest.list_deliveries, "read", "Webhook deliveries", "webhooks"),
    Route("POST", "/v1/webhooks/deliveries/{id}/retry", rest.retry_delivery, "command",
          "Retry a failed webhook delivery", "webhooks"),
)
_BY_KEY = {(r.method, r.path): r for r in ROUTES}
_PUBLIC = Principal("public", frozenset())  # the caller of a public route


class Gateway:
    """``lguapi gateway`` in-process: :meth:`start` logs in and listens, :meth:`close` stops.

    ``monitor``: serve a :class:`lguapi.Monitor` the caller made and starts/closes itself (it
    must not be started yet, so the gateway sees every login); else the gateway makes one
    from the configuration (``monitor_factory(config)`` replaces how). ``wait_logins`` makes
    :meth:`start` return only after every initial login.
    """

    def __init__(self, config: GatewayConfig, *, monitor: Any = None,
                 monitor_factory: Callable[[GatewayConfig], Any] | None = None, wait_logins: bool = True) -> None:
        self.config = config
        self._monitor_factory = monitor_factory or make_monitor
        self._owns_monitor = monitor is None
        self._wait_logins = wait_logins
        self.monitor: Any = monitor
        self.hub: Hub | None = None
        self.bridge: MonitorBridge | None = None
        self.dispatcher: Any = None
        self.registry = new_registry(self)
        self.auth: Authenticator = Authenticator(config.tokens, config.anonymous)
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._started = False
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Start webhooks, the HTTP server, then the logins (waits for them with ``wait_logins``)."""
        if self._started:
            raise RuntimeError("Gateway.start() called twice")
        self._started = True
        cfg = self.config
        if self._owns_monitor:
            self.monitor = self._monitor_factory(cfg)
        hub = self.hub = Hub(buffer=cfg.feed_buffer, queue=cfg.feed_queue, max_subscribers=cfg.max_subscribers)
        try:
            await self._start_webhooks(hub)
            await self._start_http()
            # hooked into the monitor only once listening (a failed start leaves no hook behind);
            # no request can run before: nothing awaits in between
            self.bridge = MonitorBridge(self.monitor, hub, skip_events=cfg.feed_skip_events)
            if self._owns_monitor:
                await self.monitor.start(wait=self._wait_logins)
        except BaseException:
            await self.close()
            raise

    async def _start_webhooks(self, hub: Hub) -> None:
        cfg = self.config
        if not cfg.webhooks and cfg.webhook_outbox is None:
            return
        from .webhooks import WebhookDispatcher

        outbox = cfg.webhook_outbox or "lguapi-webhooks.sqlite3"
        self.dispatcher = WebhookDispatcher(outbox, cfg.webhooks, registry=self.registry, **cfg.webhook_options)
        await self.dispatcher.start()
        hub.add_listener(self.dispatcher.offer)

    async def _start_http(self) -> None:
        cfg = self.config
        self.app = build_app(self)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        ctx = _ssl_context(cfg)
        for warning in cfg.exposure_warnings():
            log.warning("gateway: %s", warning)
        site = web.TCPSite(self._runner, cfg.host, cfg.port, ssl_context=ctx)
        await site.start()
        addresses = self._runner.addresses  # the real (host, port, ...) of every listening socket
        self._port = addresses[0][1] if addresses else cfg.port
        log.info("gateway: listening on %s", self.url)

    async def close(self) -> None:
        """Cut the feeds, stop the HTTP server, then webhooks, then log every extension out
        (a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        if self.hub is not None:
            self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.dispatcher is not None:
            try:
                await self.dispatcher.close()
            except Exception:
                log.exception("gateway: closing the webhook dispatcher failed")
        if self.monitor is not None and self._owns_monitor:
            await self.monitor.close()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- views ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http(s)://host:port`` the gateway listens on (the real port when 0 was asked)."""
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.config.tls else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def port(self) -> int:
        """The port the gateway listens on (the real one when 0 was asked, once started)."""
        return self._port if self._port is not None else self.config.port

    def extens(self) -> list[str]:
        """Every monitored extension (or login id before its first login)."""
        return list(self.monitor.states())


def make_monitor(cfg: GatewayConfig, *, freeze_gc: bool = False, **options: Any) -> Monitor:
    """The :class:`lguapi.Monitor` the configuration describes (``freeze_gc`` and ``options``,
    e.g. ``cluster=``: see Monitor)."""
    from ..monitor import Monitor

    accounts = cfg.accounts
    if accounts is None:
        from ..accounts import Directory

        accounts = Directory.generate(cfg.extensions or "", domain=cfg.domain)
    opts = dict(cfg.client_options)
    if cfg.oam:
        opts.setdefault("oam", cfg.oam)
    return Monitor(cfg.upstream_host, cfg.upstream_port, accounts=accounts, cipher=cfg.cipher, sink=cfg.sink,
                   login_concurrency=cfg.login_concurrency, ring_expiry=cfg.ring_expiry, client_options=opts,
                   freeze_gc=freeze_gc, **options)


def _ssl_context(cfg: GatewayConfig) -> ssl.SSLContext | None:
    if not cfg.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    return ctx


# -- the aiohttp application -----------------------------------------------------------------------
def build_app(gateway: Gateway) -> web.Application:
    """The aiohttp application of ``gateway``: :data:`ROUTES` behind the error, CORS and auth
    middlewares, request bodies bounded by ``max_body_bytes``."""
    app = web.Application(client_max_size=gateway.config.max_body_bytes,
                          middlewares=[_cors_middleware, _error_middleware, _auth_middleware])
    app[GATEWAY] = gateway
    if gateway.config.cors_origins:
        app.on_response_prepare.append(_cors_headers)
    for r in ROUTES:
        app.router.add_route(r.method, r.path, r.handler)
    return app


@web.middleware
async def _error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as JSON ``{"error", "message"}``; never a traceback to the client."""
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(e.status, e.code, e.message, e.headers)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        message = e.text if e.text and e.text != f"{e.status}: {e.reason}" else e.reason
        if e.status == 413:
            message = f"the body is larger than max_body_bytes ({request.app[GATEWAY].config.max_body_bytes})"
        elif e.status == 404:
            message = f"no route {request.method} {request.path[:200]}"
        headers = {k: v for k, v in e.headers.items() if k in ("Allow", "Retry-After")}
        return error_response(e.status, None, message, headers)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("gateway: %s %s failed", request.method, request.path[:200])
        return error_response(500, None, "internal error (logged by the gateway)")


_CORS_HEADERS = "Authorization, Content-Type, Last-Event-ID"


@web.middleware
async def _cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer preflights and add ``Access-Control-Allow-Origin`` for the configured origins."""
    origins = request.app[GATEWAY].config.cors_origins
    origin = request.headers.get("Origin")
    allowed = origin is not None and ("*" in origins or origin in origins)
    if request.method == "OPTIONS" and origin is not None and allowed and \
            "Access-Control-Request-Method" in request.headers:
        return web.Response(status=204, headers={
            "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": _CORS_HEADERS, "Access-Control-Max-Age": "600", "Vary": "Origin"})
    return await handler(request)  # _cors_headers adds the headers as any response is prepared


async def _cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the CORS headers, also on streams (SSE) and errors."""
    origins = request.app[GATEWAY].config.cors_origins
    origin = request.headers.get("Origin")
    if origin is not None and ("*" in origins or origin in origins):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


@web.middleware
async def _auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 without a valid token, 403 when the token lacks the route's scope."""
    route = _route_of(request)
    if route is None or route.scope is None or _public_metrics(request, route):
        request[PRINCIPAL] = _PUBLIC
        return await handler(request)
    gw = request.app[GATEWAY]
    token, problem = request_token(request)
    if problem:
        raise ApiError(401, None, problem, headers={"WWW-Authenticate": "Bearer"})
    principal = gw.auth.identify(token, request.remote)
    if principal is None:
        message = "no token given (Authorization: Bearer <token>)" if token is None else "unknown token"
        raise ApiError(401, None, message, headers={"WWW-Authenticate": "Bearer"})
    if route.scope not in principal.scopes:
        raise ApiError(403, None, f"this token lacks the {route.scope!r} scope")
    request[PRINCIPAL] = principal
    return await handler(request)


def _route_of(request: web.Request) -> Route | None:
    info = request.match_info
    if info.http_exception is not None:
        return None
    resource = info.route.resource
    if resource is None:
        return None
    return _BY_KEY.get((request.method, resource.canonical))


def _public_metrics(request: web.Request, route: Route) -> bool:
    return route.path == "/metrics" and request.app[GATEWAY].config.metrics_public

