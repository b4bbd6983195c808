"""``GET /openapi.json``: an OpenAPI 3.1 document built from the gateway's own route table.

Every :data:`~lguapi.gateway.app.ROUTES` entry becomes one operation, so the document
cannot list a route the app lacks or miss one it has (a test compares both with the real
aiohttp router). Query parameters, request bodies and the command methods with their
keyword arguments are described here.
"""
from __future__ import annotations

import re
from typing import Any

from .. import __version__ as _LGUAPI_VERSION
from .commands import METHODS, signature_of
from .errors import CODES

__all__ = ["openapi_document", "openapi_path"]

_PARAM = re.compile(r"\{([A-Za-z_]+)(?::[^}]*)?\}")

_FEED_QUERY = [
    ("exten", "Comma-separated extensions (a call matches when any of its extensions does)"),
    ("domain", "Comma-separated domains"),
    ("kinds", "Comma-separated kinds: call, extension, event"),
    ("since", "Resume after this message id (a gap message first when it left the buffer)"),
]
_QUERY: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("GET", "/v1/extensions"): [("domain", "Only this domain"), ("state", "Only this state")],
    ("GET", "/v1/calls"): [("state", "active (default) or ended"), ("since", "Ended at or after (epoch seconds)"),
                           ("exten", "Only calls of this extension"), ("limit", "At most this many (1..10000)")],
    ("GET", "/v1/events"): _FEED_QUERY,
    ("GET", "/v1/ws"): _FEED_QUERY,
    ("GET", "/v1/webhooks/deliveries"): [("status", "pending, delivered or failed"),
                                         ("limit", "At most this many (1..10000)")],
}
_ERRORS = {
    "read": (400, 401, 403, 404),
    "command": (400, 401, 403, 404, 409, 413, 415, 503, 504),
}


def openapi_path(path: str) -> str:
    """An aiohttp route path in OpenAPI form: ``/static/{path:.+}`` -> ``/static/{path}``."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def openapi_document(gateway: Any = None) -> dict:
    """The OpenAPI 3.1 document of every route (``gateway`` gives the server URL)."""
    from .app import ROUTES

    paths: dict[str, dict] = {}
    for r in ROUTES:
        paths.setdefault(openapi_path(r.path), {})[r.method.lower()] = _operation(r)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "lguapi gateway", "version": _LGUAPI_VERSION,
                 "description": "REST commands, a live feed, webhooks and metrics for LGUBaseOpenAPI extensions."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "accessToken": {"type": "apiKey", "in": "query", "name": "access_token",
                                "description": "The token as a query parameter (GET routes only)"},
            },
            "schemas": {"Error": {"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string", "enum": sorted(set(CODES.values()) | {"extension_offline"})},
                "message": {"type": "string"}}}},
        },
    }
    if gateway is not None and getattr(gateway, "url", None):
        doc["servers"] = [{"url": gateway.url}]
    return doc


def _operation(r: Any) -> dict:
    op: dict[str, Any] = {"summary": r.summary, "tags": [r.tag], "operationId": _operation_id(r)}
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in _PARAM.findall(r.path)]
    if r.path == "/v1/extensions/{exten}/{method}":
        params[1]["schema"] = {"type": "string", "enum": list(METHODS)}
    for name, desc in _QUERY.get((r.method, r.path), ()):
        params.append({"name": name, "in": "query", "required": False, "description": desc,
                       "schema": {"type": "string"}})
    if r.path == "/v1/events":
        params.append({"name": "Last-Event-ID", "in": "header", "required": False,
                       "description": "The last id received (what EventSource sends on reconnect)",
                       "schema": {"type": "string"}})
    if params:
        op["parameters"] = params
    if r.scope is None:
        op["security"] = []
    else:
        op["security"] = [{"bearer": []}, {"accessToken": []}] if r.method == "GET" else [{"bearer": []}]
        op["x-lguapi-scope"] = r.scope
    if r.path == "/v1/extensions/{exten}/{method}":
        op["requestBody"] = _command_body()
    op["responses"] = _responses(r)
    return op


def _operation_id(r: Any) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", openapi_path(r.path)).strip("_") or "index"
    return f"{r.method.lower()}_{words}"


def _responses(r: Any) -> dict:
    ctype = {"/v1/events": "text/event-stream", "/metrics": "text/plain", "/": "text/html"}.get(r.path,
                                                                                                 "application/json")
    out: dict[str, Any] = {"200": {"description": "OK", "content": {ctype: {}}}}
    if r.path == "/v1/ws":
        out = {"101": {"description": "Switching to WebSocket: one feed message per text frame"}}
    codes = _ERRORS.get(r.scope or "", (404,))
    if r.path in ("/v1/events", "/v1/ws"):
        codes += (503,)  # max_subscribers reached
    for code in codes:
        out[str(code)] = {"description": CODES[code].replace("_", " "),
                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return out


def _command_body() -> dict:
    variants = []
    for m in METHODS:
        props = {}
        required = []
        for a in signature_of(m):
            schema: dict[str, Any] = {"type": "boolean"} if a["name"] == "wait" else {
                "type": ["string", "integer", "number", "array"], "items": {"type": ["string", "integer"]}}
            if not a["required"]:
                schema["default"] = a["default"]
            else:
                required.append(a["name"])
            props[a["name"]] = schema
        v: dict[str, Any] = {"title": m, "type": "object", "properties": props}
        if required:
            v["required"] = required
        variants.append(v)
    return {"required": False, "description": "The method's keyword arguments (one schema per method)",
            "content": {"application/json": {"schema": {"anyOf": variants}}}}
