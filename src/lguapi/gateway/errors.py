"""The gateway's HTTP errors: one exception, one JSON body ``{"error": code, "message": ...}``.

>>> ApiError(404, "not_found", "no such extension").status
404
"""
from __future__ import annotations

from aiohttp import web

from .jsonable import dumps

__all__ = ["ApiError", "error_response", "CODES"]

#: the ``error`` code of each status the gateway answers with
CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 408: "request_timeout", 409: "command_refused", 411: "length_required",
    413: "payload_too_large", 415: "unsupported_media_type", 429: "too_many_requests",
    500: "internal_error", 503: "unavailable", 504: "timeout",
}


class ApiError(Exception):
    """Raise from a handler: answered as ``status`` with ``{"error": code, "message": message}``."""

    def __init__(self, status: int, code: str | None = None, message: str = "", *,
                 headers: dict | None = None) -> None:
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.headers = headers
        super().__init__(f"{status} {self.code}: {message}")


def error_response(status: int, code: str | None, message: str, headers: dict | None = None) -> web.Response:
    """The JSON error response."""
    body = dumps({"error": code or CODES.get(status, "error"), "message": message})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)
