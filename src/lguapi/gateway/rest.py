"""The JSON routes under ``/v1``: extensions, calls, snapshot, commands and webhook deliveries.

Every handler reads the caller (``request[PRINCIPAL]``, set by the auth middleware) and
shows only the extensions, calls and domains its token may see, with phone numbers masked
for a token with ``mask_numbers``. Errors are raised as :class:`~.errors.ApiError`.
"""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .commands import run_command
from .errors import ApiError
from .jsonable import dumps, mask_numbers
from .keys import GATEWAY, PRINCIPAL

__all__ = ["list_extensions", "get_extension", "list_calls", "get_call", "snapshot", "command",
           "list_deliveries", "retry_delivery", "health", "json_response"]

_MAX_LIMIT = 10_000


def json_response(request: web.Request, data: Any, status: int = 200) -> web.Response:
    """``data`` as JSON, masked when the caller's token says so."""
    if request[PRINCIPAL].mask_numbers:
        data = mask_numbers(data)
    return web.Response(status=status, text=dumps(data), content_type="application/json")


def _gateway(request: web.Request):
    return request.app[GATEWAY]


def _extension_dict(gw, exten: str) -> dict:
    info = gw.monitor.extension(exten)
    calls = info["calls"]
    return {"exten": exten, "domain": info["domain"], "state": info["state"],
            "call_id": calls[0] if calls else None, "calls": calls, "since": info["since"],
            "error": info["error"]}


def _visible_extension(request: web.Request, exten: str) -> dict:
    gw = _gateway(request)
    try:
        d = _extension_dict(gw, exten)
    except KeyError:
        raise ApiError(404, None, f"extension {exten!r} is not monitored by this gateway") from None
    if not request[PRINCIPAL].may_see(exten, d["domain"]):
        raise ApiError(403, None, f"this token may not use extension {exten!r}")
    return d


async def list_extensions(request: web.Request) -> web.Response:
    """``GET /v1/extensions[?domain=&state=]``."""
    gw = _gateway(request)
    p = request[PRINCIPAL]
    want_domain = request.query.get("domain")
    want_state = request.query.get("state")
    out = []
    for exten in gw.extens():
        try:
            d = _extension_dict(gw, exten)
        except KeyError:  # a login id whose extension is not known yet (before its first login)
            continue
        if not p.may_see(exten, d["domain"]):
            continue
        if (want_domain and d["domain"] != want_domain) or (want_state and d["state"] != want_state):
            continue
        out.append(d)
    return json_response(request, {"extensions": out})


async def get_extension(request: web.Request) -> web.Response:
    """``GET /v1/extensions/{exten}``."""
    return json_response(request, _visible_extension(request, request.match_info["exten"]))


def _float_param(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise ApiError(400, None, f"{name} must be a number (epoch seconds), not {raw[:40]!r}") from None


def _limit(request: web.Request, default: int = 100) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(400, None, f"limit must be an integer, not {raw[:40]!r}") from None
    if not 1 <= n <= _MAX_LIMIT:
        raise ApiError(400, None, f"limit must be 1..{_MAX_LIMIT}")
    return n


async def list_calls(request: web.Request) -> web.Response:
    """``GET /v1/calls`` (active) or ``?state=ended&since=<epoch seconds>&limit=N`` (recent ended)."""
    gw = _gateway(request)
    state = request.query.get("state", "active")
    since = _float_param(request, "since")
    limit = _limit(request, 1000)
    exten = request.query.get("exten")
    if state == "active":
        calls = [c.to_dict() for c in list(gw.monitor.tracker.active.values())]
    elif state == "ended":
        calls = [c.to_dict() for c in list(gw.monitor.tracker.ended)
                 if since is None or (c.end_at or 0) >= since]
        calls.reverse()  # newest first
    else:
        raise ApiError(400, None, f"state must be 'active' or 'ended', not {state[:40]!r}")
    p = request[PRINCIPAL]
    out = []
    for c in calls:
        if exten and exten not in c["exten"]:
            continue
        if p.may_see_call(c, gw.bridge.domain_of):
            out.append(c)
            if len(out) >= limit:
                break
    return json_response(request, {"calls": out})


async def get_call(request: web.Request) -> web.Response:
    """``GET /v1/calls/{id}``: an active call or a recently ended one."""
    gw = _gateway(request)
    call_id = request.match_info["id"]
    tracker = gw.monitor.tracker
    call = tracker.active.get(call_id)
    if call is None:
        call = next((c for c in reversed(tracker.ended) if c.id == call_id), None)
    if call is None:
        raise ApiError(404, None, f"no active or recent call {call_id!r}")
    d = call.to_dict()
    if not request[PRINCIPAL].may_see_call(d, gw.bridge.domain_of):
        raise ApiError(403, None, "this token may not see that call")
    return json_response(request, d)


async def snapshot(request: web.Request) -> web.Response:
    """``GET /v1/snapshot``: :meth:`lguapi.Monitor.snapshot` plus the feed's position."""
    gw = _gateway(request)
    snap = gw.monitor.snapshot()
    p = request[PRINCIPAL]
    if p.limited:
        snap["extensions"] = {ex: d for ex, d in snap["extensions"].items() if p.may_see(ex, d["domain"])}
        snap["calls"] = [c for c in snap["calls"] if p.may_see_call(c, gw.bridge.domain_of)]
        if p.domains is not None:  # the totals would tell about other domains
            counters = snap["counters"]
            counters["domains"] = {d: v for d, v in counters["domains"].items() if d in p.domains}
            counters.pop("total", None)
    snap["feed"] = {"last_id": gw.hub.last_id, "oldest_id": gw.hub.oldest_id, "subscribers": gw.hub.subscribers}
    return json_response(request, snap)


async def command(request: web.Request) -> web.Response:
    """``POST /v1/extensions/{exten}/{method}`` with the method's keyword arguments as JSON."""
    exten = request.match_info["exten"]
    method = request.match_info["method"]
    gw = _gateway(request)
    _visible_extension(request, exten)
    kwargs = await _json_object(request)
    result = await run_command(gw.monitor.client(exten), exten, method, kwargs, deny=gw.config.deny_methods,
                               timeout=gw.config.command_timeout)
    return json_response(request, {"exten": exten, "method": method, "result": result})


async def _json_object(request: web.Request) -> dict:
    """The body as a JSON object (an empty body is ``{}``); 400/415 otherwise.

    A body that is JSON is taken whatever its Content-Type says (``curl -d '{...}'`` sends
    a form type); one that is not JSON is 400 when it claims to be, else 415."""
    raw = await request.read()  # bounded by the application's client_max_size (413 beyond)
    if not raw.strip():
        return {}
    ctype = request.content_type
    claims_json = ctype == "application/json" or ctype.endswith("+json")
    try:
        value = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ApiError(400, None, "the JSON body is nested too deeply") from None
    except UnicodeDecodeError as e:
        if not claims_json:
            raise _not_json(ctype) from None
        raise ApiError(400, None, f"the body is not valid UTF-8 (byte {e.start})") from None
    except ValueError as e:
        if not claims_json:
            raise _not_json(ctype) from None
        raise ApiError(400, None, f"the body is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise ApiError(400, None, "the body must be a JSON object of keyword arguments")
    return value


def _not_json(ctype: str) -> ApiError:
    return ApiError(415, None, f"the body must be a JSON object (Content-Type: application/json), not {ctype!r}")


async def list_deliveries(request: web.Request) -> web.Response:
    """``GET /v1/webhooks/deliveries[?status=pending|delivered|failed&limit=N]``."""
    disp = _dispatcher(request)
    status = request.query.get("status") or None
    try:
        rows = disp.deliveries(status, _limit(request))
    except ValueError as e:
        raise ApiError(400, None, str(e)) from None
    return json_response(request, {"deliveries": rows})


async def retry_delivery(request: web.Request) -> web.Response:
    """``POST /v1/webhooks/deliveries/{id}/retry``: a failed delivery goes back to pending."""
    disp = _dispatcher(request)
    delivery_id = request.match_info["id"]
    try:
        row = await disp.retry(delivery_id)
    except ValueError as e:
        raise ApiError(409, None, str(e)) from None
    if row is None:
        raise ApiError(404, None, f"no delivery {delivery_id!r}")
    return json_response(request, row)


def _dispatcher(request: web.Request):
    disp = _gateway(request).dispatcher
    if disp is None:
        raise ApiError(404, None, "no webhooks are configured")
    return disp


async def health(request: web.Request) -> web.Response:
    """``GET /v1/health``: is the gateway up, and how far are the logins (no details)."""
    gw = _gateway(request)
    p = gw.monitor.login_progress
    return web.Response(text=dumps({"status": "ok", "logins": {"done": p.done, "total": p.total,
                                                                "failed": p.failed}}),
                        content_type="application/json")
