"""The live feed over HTTP: Server-Sent Events (``GET /v1/events``) and WebSocket (``GET /v1/ws``).

Both take ``?exten=3001,3002&domain=...&kinds=call,extension,event`` and ``?since=ID``;
SSE also ``Last-Event-ID`` (what a browser's EventSource sends when it reconnects).
SSE frames are ``id: N`` + ``data: <message JSON>`` (no ``event:`` line, so
``EventSource.onmessage`` gets them all), a ``: keep-alive`` comment every ``heartbeat``
seconds, and a final ``event: cut`` frame when the gateway cuts the stream off. WebSocket
sends one message per text frame; when cut off it sends ``{"error": ..., "message": ...}``
and closes with code 4000 (slow subscriber) or 1001 (shutting down).
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import Any

from aiohttp import WSMsgType, web

from .errors import ApiError
from .feed import KINDS, FeedFilter, Subscriber, SubscriberCut
from .jsonable import dumps
from .keys import GATEWAY, PRINCIPAL

__all__ = ["sse_handler", "ws_handler", "feed_filter", "feed_since"]

log = logging.getLogger("lguapi.gateway.streams")

_SHUTDOWN = "the gateway is shutting down"
_CLIENT_GONE = "the client closed the connection"
#: seconds between checks that an idle SSE client is still connected
_POLL = 1.0
#: seconds a cut-off client has to take the notice before its connection is aborted
_GOODBYE_SECONDS = 5.0


def _csv(query: Any, key: str) -> list[str] | None:
    if key not in query:
        return None
    items = [p.strip() for v in query.getall(key) for p in v.split(",")]
    items = [p for p in items if p]
    return items or None


def feed_filter(request: web.Request) -> FeedFilter:
    """The filter of ``?exten=&domain=&kinds=``, narrowed to what the caller may see."""
    kinds = _csv(request.query, "kinds")
    if kinds is not None and set(kinds) - set(KINDS):
        raise ApiError(400, None, f"kinds: unknown kind(s) {sorted(set(kinds) - set(KINDS))}; "
                                  f"kinds are {', '.join(KINDS)}")
    flt = FeedFilter(_csv(request.query, "exten"), _csv(request.query, "domain"), kinds)
    p = request[PRINCIPAL]
    return flt.narrowed(p.extensions, p.domains)


def feed_since(request: web.Request, *, header: bool) -> int | None:
    """``?since=ID`` (wins) or, for SSE, ``Last-Event-ID``; ``None`` when neither is given."""
    raw = request.query.get("since")
    name = "since"
    if raw is None and header:
        raw, name = request.headers.get("Last-Event-ID"), "Last-Event-ID"
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, None, f"{name} must be a message id (an integer >= 0), not {raw[:40]!r}") from None
    if value < 0:
        raise ApiError(400, None, f"{name} must be >= 0")
    return value


def _subscribe(request: web.Request, *, header: bool) -> Subscriber:
    gw = request.app[GATEWAY]
    flt = feed_filter(request)
    since = feed_since(request, header=header)
    try:
        return gw.hub.subscribe(flt, since=since, masked=request[PRINCIPAL].mask_numbers)
    except OverflowError as e:
        raise ApiError(503, None, str(e), headers={"Retry-After": "5"}) from None


async def sse_handler(request: web.Request) -> web.StreamResponse:
    """``GET /v1/events``: the feed as text/event-stream."""
    sub = _subscribe(request, header=True)
    timers = _abort_if_stuck(request, sub)
    heartbeat = request.app[GATEWAY].config.feed_heartbeat
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                       "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    resp.force_close()  # a stream ends its connection: never reused for another request
    try:
        await resp.prepare(request)
        await resp.write(b"retry: 2000\n\n")
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while True:
            try:
                batch = await sub.next_batch(min(_POLL, heartbeat))
            except SubscriberCut as cut:
                await resp.write(_sse_cut(str(cut)))
                break
            if not batch:
                if _gone(request):
                    break
                if loop.time() - quiet_since >= heartbeat:
                    await resp.write(b": keep-alive\n\n")
                    quiet_since = loop.time()
                continue
            quiet_since = loop.time()
            masked = sub.masked
            await resp.write(b"".join([e.sse(masked) for e in batch]))
    except (ConnectionError, asyncio.CancelledError):
        pass  # the client went away (or the server is stopping)
    finally:
        sub.stop(_CLIENT_GONE)
        for t in timers:
            t.cancel()
    return resp


def _abort_if_stuck(request: web.Request, sub: Subscriber) -> list[asyncio.TimerHandle]:
    """Once ``sub`` is cut off, give its client ``_GOODBYE_SECONDS`` to take what is queued
    and the notice, then abort the connection: a client that reads nothing at all must not
    hold a handler (blocked in a write) forever. Cancel the returned timer when done."""
    timers: list[asyncio.TimerHandle] = []
    loop = asyncio.get_running_loop()

    def abort() -> None:
        transport = request.transport
        if transport is not None and not transport.is_closing():
            log.warning("gateway feed: aborting a cut-off subscriber that reads nothing")
            sock = transport.get_extra_info("socket")
            if sock is not None:  # reset at once: do not leave the kernel trying to send to it
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()

    sub.on_cut = lambda: timers.append(loop.call_later(_GOODBYE_SECONDS, abort))
    return timers


async def _ws_goodbye(ws: web.WebSocketResponse, reason: str) -> None:
    await ws.send_str(_cut_body(reason))
    await ws.close(code=1001 if reason == _SHUTDOWN else 4000, message=reason[:120].encode("utf-8"))


def _gone(request: web.Request) -> bool:
    """Has the client closed the connection? (aiohttp does not cancel the handler for it.)"""
    transport = request.transport
    return transport is None or transport.is_closing()


def _cut_body(reason: str) -> str:
    code = "shutting_down" if reason == _SHUTDOWN else "slow_subscriber"
    return dumps({"error": code, "message": reason})


def _sse_cut(reason: str) -> bytes:
    return f"event: cut\ndata: {_cut_body(reason)}\n\n".encode("utf-8")


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    """``GET /v1/ws``: the feed over WebSocket (client messages are read and ignored)."""
    sub = _subscribe(request, header=False)
    timers = _abort_if_stuck(request, sub)
    heartbeat = request.app[GATEWAY].config.feed_heartbeat
    ws = web.WebSocketResponse(heartbeat=heartbeat, max_msg_size=64 * 1024)
    reader: asyncio.Task | None = None
    try:
        await ws.prepare(request)
        reader = asyncio.create_task(_read_until_closed(ws, sub), name="lguapi-gateway-ws-reader")
        while True:
            try:
                batch = await sub.next_batch(heartbeat)
            except SubscriberCut as cut:
                reason = str(cut)
                if reason != _CLIENT_GONE and not ws.closed:
                    await _ws_goodbye(ws, reason)
                break
            for e in batch:
                await ws.send_str(e.text(sub.masked))
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        sub.stop(_CLIENT_GONE)
        for t in timers:
            t.cancel()
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    return ws


async def _read_until_closed(ws: web.WebSocketResponse, sub: Subscriber) -> None:
    try:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        sub.stop(_CLIENT_GONE)
