"""The emulator's admin interface: HTTP + JSON on loopback, playing the outside world.

Endpoints (issue 3 §6; every answer is JSON, errors are ``{"error": "..."}``):

=======  =============================  ====================================  =================
method   path                           body                                  answer
=======  =============================  ====================================  =================
POST     /calls                         ``{"from": "010...", "to": "070..."}``  201 ``{"id": ...}``
POST     /calls/{id}/answer             --                                    200 ``{"ok": true}``
POST     /calls/{id}/hangup             --                                    200 ``{"ok": true}``
GET      /calls                         --                                    200 active calls
GET      /calls/{id}                    --                                    200 one call (active or finished)
POST     /phones/{exten}/answer         --                                    200 ``{"ok": true}``
POST     /phones/{exten}/hangup         --                                    200 ``{"ok": true}``
POST     /phones/{exten}/dtmf           ``{"digits": "12#"}``                   200 ``{"ok": true}``
POST     /phones/{exten}/dial           ``{"to": "3002"}``                      201 ``{"id": ...}``
POST     /sms                           ``{"from", "to", "text"}``              200 ``{"ok": true}``
GET      /state                         --                                    200 ``Pbx.snapshot()``
GET      /sessions                      --                                    200 logged-in sessions
GET      /health                        --                                    200 ``{"ok": true, ...}``
GET      /stats                         --                                    200 traffic/firehose counters
=======  =============================  ====================================  =================

Status codes: 400 malformed request (bad JSON, missing or malformed field), 404 unknown
call, extension or path, 405 wrong method, 409 the PBX refuses in its current state
(answering a phone that is not ringing, ...), 413 body too large, 500 a bug (logged).
"""
from __future__ import annotations

import logging
import re
import time
from typing import Any, Callable

from .http import HTTPError, HTTPServer, Request, Response, Router

__all__ = ["AdminServer"]

log = logging.getLogger("lguapi.server.admin")

#: numbers and extensions: what may appear in an event field (no | : space = , ^)
_NUMBER = re.compile(r"^[0-9A-Za-z*#+._-]{1,40}$")
_DIGITS = re.compile(r"^[0-9*#A-Da-d]{1,64}$")
_SMS_MAX = 200


def json_error(status: int, message: str) -> Response:
    return Response.json({"error": message}, status)


def _body(request: Request) -> dict:
    data = request.json()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HTTPError(400, "request body must be a JSON object")
    return data


def _number(data: dict, key: str) -> str:
    value = data.get(key)
    if value is None:
        raise HTTPError(400, f"missing field {key!r}")
    if not isinstance(value, str) or not _NUMBER.match(value):
        raise HTTPError(400, f"field {key!r} must be a phone number or extension as a string "
                             "(letters, digits, * # + . _ -; at most 40)")
    return value


class AdminServer:
    """HTTP admin endpoint for one :class:`~lguapi.server.emulator.Emulator`.

    ``stats`` maps a name to a callable returning a JSON-serialisable dict (the traffic
    generator and firehose register theirs) for ``GET /stats``; the mapping is used as
    given, so entries added after construction show up too.

    >>> admin = AdminServer(emulator, port=0)     # doctest: +SKIP
    >>> await admin.start(); admin.port           # doctest: +SKIP
    """

    def __init__(self, emulator: Any, *, host: str = "127.0.0.1", port: int = 8087,
                 stats: dict[str, Callable[[], dict]] | None = None, max_body: int = 16 * 1024) -> None:
        self.emulator = emulator
        self.stats = stats if stats is not None else {}  # live: entries added later show up
        self._started = time.monotonic()
        r = Router()
        r.add("POST", "/calls", self._call_create)
        r.add("GET", "/calls", self._calls_list)
        r.add("GET", "/calls/{id}", self._call_get)
        r.add("POST", "/calls/{id}/answer", self._call_answer)
        r.add("POST", "/calls/{id}/hangup", self._call_hangup)
        r.add("POST", "/phones/{exten}/answer", self._phone_answer)
        r.add("POST", "/phones/{exten}/hangup", self._phone_hangup)
        r.add("POST", "/phones/{exten}/dtmf", self._phone_dtmf)
        r.add("POST", "/phones/{exten}/dial", self._phone_dial)
        r.add("POST", "/sms", self._sms)
        r.add("GET", "/state", self._state)
        r.add("GET", "/sessions", self._sessions)
        r.add("GET", "/health", self._health)
        r.add("GET", "/stats", self._stats)
        self.router = r
        self._http = HTTPServer(r, host=host, port=port, max_body=max_body, on_error=json_error, name="admin")

    @property
    def pbx(self) -> Any:
        return self.emulator.pbx

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        host = self._http.host if self._http.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        await self._http.start()

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> AdminServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- PBX calls, with errors mapped to HTTP --------------------------------------------

    def _pbx(self, what: str, fn: Callable, *args: Any) -> Any:
        """Run one Pbx outside-world method: KeyError -> 404, ValueError -> 409."""
        try:
            return fn(*args)
        except KeyError as exc:
            raise HTTPError(404, _reason(exc, f"{what}: not found")) from None
        except ValueError as exc:
            raise HTTPError(409, _reason(exc, f"{what}: refused")) from None

    def _exten(self, request: Request) -> str:
        exten = request.params["exten"]
        if not _NUMBER.match(exten):
            raise HTTPError(400, "malformed extension in the path")
        if self.emulator.directory.by_exten(exten) is None:
            raise HTTPError(404, f"no such extension: {exten}")
        return exten

    # --- handlers -----------------------------------------------------------------------

    def _call_create(self, request: Request) -> Response:
        data = _body(request)
        src, dst = _number(data, "from"), _number(data, "to")
        call_id = self._pbx("place call", self.pbx.external_call, src, dst)
        return Response.json({"id": call_id}, 201, headers=[("Location", f"/calls/{call_id}")])

    def _call_answer(self, request: Request) -> Response:
        self._pbx(f"call {request.params['id']}", self.pbx.external_answer, request.params["id"])
        return Response.json({"ok": True})

    def _call_hangup(self, request: Request) -> Response:
        self._pbx(f"call {request.params['id']}", self.pbx.external_hangup, request.params["id"])
        return Response.json({"ok": True})

    def _calls_list(self, request: Request) -> Response:
        return Response.json({"calls": self.pbx.snapshot().get("calls", [])})

    def _call_get(self, request: Request) -> Response:
        call_id = request.params["id"]
        snap = self.pbx.snapshot()
        for group in ("calls", "history"):
            for call in snap.get(group, []):
                if str(call.get("id")) == call_id:
                    return Response.json(dict(call, active=group == "calls"))
        raise HTTPError(404, f"no such call: {call_id}")

    def _phone_answer(self, request: Request) -> Response:
        exten = self._exten(request)
        self._pbx(f"phone {exten}", self.pbx.phone_answer, exten)
        return Response.json({"ok": True})

    def _phone_hangup(self, request: Request) -> Response:
        exten = self._exten(request)
        self._pbx(f"phone {exten}", self.pbx.phone_hangup, exten)
        return Response.json({"ok": True})

    def _phone_dtmf(self, request: Request) -> Response:
        exten = self._exten(request)
        digits = _body(request).get("digits")
        if not isinstance(digits, str) or not _DIGITS.match(digits):
            raise HTTPError(400, "field 'digits' must be a string of 0-9 * # A-D (1 to 64)")
        self._pbx(f"phone {exten}", self.pbx.phone_dtmf, exten, digits)
        return Response.json({"ok": True})

    def _phone_dial(self, request: Request) -> Response:
        exten = self._exten(request)
        to = _number(_body(request), "to")
        call_id = self._pbx(f"phone {exten}", self.pbx.phone_dial, exten, to)
        return Response.json({"id": call_id}, 201, headers=[("Location", f"/calls/{call_id}")])

    def _sms(self, request: Request) -> Response:
        data = _body(request)
        src, dst = _number(data, "from"), _number(data, "to")
        text = data.get("text")
        if not isinstance(text, str):
            raise HTTPError(400, "missing field 'text' (a string)")
        if len(text) > _SMS_MAX or any(c in text for c in "\r\n|"):
            raise HTTPError(400, f"field 'text' must be at most {_SMS_MAX} characters, without CR, LF or |")
        self._pbx("sms", self.pbx.inbound_sms, src, dst, text)
        return Response.json({"ok": True})

    def _state(self, request: Request) -> Response:
        return Response.json({**self.pbx.snapshot(),
                              "duplicate_login_byes": getattr(self.emulator, "duplicate_login_byes", 0)})

    def _sessions(self, request: Request) -> Response:
        out = []
        for s in self.emulator.sessions():
            peer = getattr(s, "peer", None)
            out.append({"exten": s.exten, "id": s.user.id if s.user else None, "cipher": s.cipher,
                        "peer": f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else None})
        return Response.json({"sessions": out})

    def _health(self, request: Request) -> Response:
        return Response.json({"ok": True, "sessions": len(self.emulator.sessions()),
                              "uptime": round(time.monotonic() - self._started, 3)})

    def _stats(self, request: Request) -> Response:
        return Response.json({name: fn() for name, fn in self.stats.items()})


def _reason(exc: BaseException, default: str) -> str:
    if exc.args and isinstance(exc.args[0], str) and exc.args[0]:
        return exc.args[0]
    return default
