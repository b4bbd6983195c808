"""A tiny asyncio HTTP/1.1 server for the emulator's OAM and admin endpoints.

Just enough HTTP for small JSON and form requests from curl, scripts and the lguapi
client: request line and headers, ``Content-Length`` bodies up to a limit, keep-alive,
``Expect: 100-continue``, optional TLS. Everything else gets a clear status and the
connection closes: 400 malformed request, 404 unknown path, 405 wrong method (with
``Allow``), 408 too slow, 413 body too large, 431 header too large, 501 chunked bodies,
505 other HTTP versions, 503 too many connections, 500 (logged) when a handler fails.

>>> router = Router()
>>> router.add("GET", "/hello/{name}", lambda req: Response.json({"hi": req.params["name"]}))
>>> server = HTTPServer(router, port=0)       # then: await server.start(); server.port
"""
from __future__ import annotations

import asyncio
import email.utils
import http
import inspect
import json
import logging
import re
import ssl as _ssl
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Union
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["HTTPError", "Request", "Response", "Router", "HTTPServer", "Handler"]

log: logging.Logger = logging.getLogger("lguapi.server.http")

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSIONS = ("HTTP/1.0", "HTTP/1.1")


class HTTPError(Exception):
    """An HTTP error answer: ``status`` and a one-line ``message`` for the client."""

    def __init__(self, status: int, message: str, *, headers: list[tuple[str, str]] | None = None,
                 close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers: list[tuple[str, str]] = headers or []
        self.close = close


#: deepest nesting of arrays and objects a JSON body may have (json.loads recurses per level)
MAX_JSON_DEPTH = 32

_OPEN, _CLOSE, _QUOTE, _BACKSLASH = b"[{", b"]}", 0x22, 0x5C


def json_depth(body: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in ``body`` (one linear pass; brackets in strings ignored).

    >>> json_depth(b'{"a": [1, "[[["]}')
    2
    """
    depth = deepest = 0
    in_str = escaped = False
    for c in body:
        if in_str:
            if escaped:
                escaped = False
            elif c == _BACKSLASH:
                escaped = True
            elif c == _QUOTE:
                in_str = False
        elif c == _QUOTE:
            in_str = True
        elif c in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
        elif c in _CLOSE:
            depth -= 1
    return deepest


@dataclass
class Request:
    """One parsed request. ``headers`` has lower-case names; ``params`` holds route parameters."""

    method: str
    target: str
    path: str
    query: dict[str, str]
    version: str
    headers: dict[str, str]
    body: bytes = b""
    peer: Any = None
    sockname: Any = None
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty); HTTPError 400 when it is not JSON."""
        if not self.body.strip():
            return None
        depth = json_depth(self.body)
        if depth > MAX_JSON_DEPTH:
            raise HTTPError(400, f"request body nests JSON {depth} levels deep (the limit is {MAX_JSON_DEPTH})")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise HTTPError(400, f"request body is not valid JSON: {exc}") from None

    def form(self) -> dict[str, str]:
        """The body as ``application/x-www-form-urlencoded`` fields (first value of each name)."""
        try:
            text = self.body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise HTTPError(400, f"request body is not a valid form: {exc}") from None
        out: dict[str, str] = {}
        for k, v in pairs:
            out.setdefault(k, v)
        return out


@dataclass
class Response:
    """An answer: status, body bytes, content type and extra headers."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        return cls(status, body, "application/json", headers or [])

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode("utf-8"))


Handler = Callable[[Request], Union[Response, Awaitable[Response]]]
ErrorFormatter = Callable[[int, str], Response]


def plain_error(status: int, message: str) -> Response:
    """The default error body: the message as one line of text."""
    return Response.text(message + "\n", status)


class Router:
    """Maps ``(method, path pattern)`` to handlers; ``{name}`` matches one path segment.

    Calling the router with a request runs the matching handler; a known path with another
    method raises 405 with ``Allow``, an unknown path 404.
    """

    def __init__(self) -> None:
        self._routes: list[tuple[re.Pattern[str], str, dict[str, Handler]]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern)) + "/?$")
        for rx, pat, handlers in self._routes:
            if pat == pattern:
                handlers[method.upper()] = handler
                return
        self._routes.append((regex, pattern, {method.upper(): handler}))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        for rx, _pat, handlers in self._routes:
            m = rx.match(path)
            if m is None:
                continue
            handler = handlers.get(method)
            if handler is None and method == "HEAD":
                handler = handlers.get("GET")
            if handler is None:
                allow = ", ".join(sorted(handlers))
                raise HTTPError(405, f"method {method} not allowed on {path}; allowed: {allow}",
                                headers=[("Allow", allow)])
            return handler, {k: unquote(v) for k, v in m.groupdict().items()}
        raise HTTPError(404, f"no such path: {path}")

    async def __call__(self, request: Request) -> Response:
        handler, request.params = self.resolve(request.method, request.path)
        result = handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result


class HTTPServer:
    """Serves ``handler`` (a :class:`Router` or any ``Request -> Response`` callable) on TCP.

    Limits are keywords: ``max_body`` bytes of body, ``max_head`` bytes of request line plus
    headers, ``max_headers`` header lines, ``max_connections`` open connections,
    ``idle_timeout`` seconds to wait for a request head, ``body_timeout`` for its body.
    ``on_error(status, message)`` formats error answers (plain text by default).
    """

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0,
                 ssl: _ssl.SSLContext | None = None, max_body: int = 64 * 1024, max_head: int = 16 * 1024,
                 max_headers: int = 100, max_connections: int = 256, idle_timeout: float = 30.0,
                 body_timeout: float = 10.0, on_error: ErrorFormatter = plain_error, name: str = "http") -> None:
        if max_body < 0 or max_head < 256 or max_headers < 1 or max_connections < 1:
            raise ValueError("HTTP limits must be positive (max_head at least 256)")
        self.handler = handler
        self.host = host
        self._port = port
        self.ssl = ssl
        self.max_body = max_body
        self.max_head = max_head
        self.max_headers = max_headers
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.body_timeout = body_timeout
        self.on_error = on_error
        self.name = name
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return self._server.sockets[0].getsockname()[1]

    @property
    def scheme(self) -> str:
        return "https" if self.ssl is not None else "http"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connection, self.host, self._port, ssl=self.ssl, limit=self.max_head,
            ssl_handshake_timeout=10.0 if self.ssl is not None else None)
        log.info("%s listening on %s://%s:%d", self.name, self.scheme, self.host, self.port)

    async def close(self) -> None:
        """Stop listening and end every open connection."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> HTTPServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- per connection -----------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if len(self._tasks) > self.max_connections or self._closing:
                await self._send(writer, self.on_error(503, "too many connections"), "HTTP/1.1", False)
                await self._linger(reader, writer)
                return
            while True:
                keep = await self._one_request(reader, writer)
                if not keep:
                    break
        except asyncio.CancelledError:
            pass
        except (ConnectionError, _ssl.SSLError, OSError) as exc:
            log.debug("%s connection error: %s", self.name, exc)
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, _ssl.SSLError, OSError, asyncio.CancelledError):
                pass

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read, handle and answer one request; False when the connection should close."""
        version = "HTTP/1.1"
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout)
            except asyncio.IncompleteReadError as exc:
                if exc.partial.strip():
                    raise HTTPError(400, "incomplete request head", close=True) from None
                return False  # the client closed between requests
            except asyncio.LimitOverrunError:
                raise HTTPError(431, f"request head larger than {self.max_head} bytes", close=True) from None
            except asyncio.TimeoutError:
                return False  # idle keep-alive connection: just close it
            request = self._parse_head(head, writer)
            version = request.version
            keep = self._keep_alive(request)
            await self._read_body(request, reader, writer)
        except HTTPError as err:
            resp = self.on_error(err.status, err.message)
            resp.headers.extend(err.headers)
            await self._send(writer, resp, version, False)
            await self._linger(reader, writer)
            return False
        try:
            response = self.handler(request)
            if inspect.isawaitable(response):
                response = await response
            if not isinstance(response, Response):
                raise TypeError(f"handler returned {type(response).__name__}, not Response")
        except HTTPError as err:
            response = self.on_error(err.status, err.message)
            response.headers.extend(err.headers)
            keep = keep and not err.close
        except asyncio.CancelledError:
            raise
        except Exception:  # a handler bug: answer 500, keep serving, log it
            log.exception("%s: handler failed for %s %s", self.name, request.method, request.path)
            response = self.on_error(500, "internal error (see the emulator log)")
        if request.method == "HEAD":
            response = Response(response.status, b"", response.content_type,
                                response.headers + [("Content-Length", str(len(response.body)))])
        await self._send(writer, response, version, keep)
        return keep

    def _parse_head(self, head: bytes, writer: asyncio.StreamWriter) -> Request:
        lines = head[:-4].decode("latin-1").split("\r\n")
        while lines and not lines[0]:
            lines.pop(0)  # tolerate stray CRLF before a request (RFC 9112 §2.2)
        if not lines:
            raise HTTPError(400, "empty request", close=True)
        parts = lines[0].split(" ")
        if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1]:
            raise HTTPError(400, "malformed request line", close=True)
        method, target, version = parts
        if not version.startswith("HTTP/"):
            raise HTTPError(400, "malformed request line", close=True)
        if version not in _VERSIONS:
            raise HTTPError(505, f"{version} is not supported; use HTTP/1.1", close=True)
        if len(lines) - 1 > self.max_headers:
            raise HTTPError(431, f"more than {self.max_headers} header lines", close=True)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not _TOKEN.match(name):
                raise HTTPError(400, f"malformed header line {line[:40]!r}", close=True)
            key = name.lower()
            value = value.strip(" \t")
            if key in headers:
                if key in ("content-length", "host"):
                    if headers[key] != value:
                        raise HTTPError(400, f"conflicting {name} headers", close=True)
                    continue
                headers[key] = headers[key] + ", " + value
            else:
                headers[key] = value
        if target.startswith("/"):
            split = urlsplit(target)
        elif target.startswith(("http://", "https://")):
            split = urlsplit(target)
        else:
            raise HTTPError(400, "request target must be an absolute path", close=True)
        try:
            query = dict(parse_qsl(split.query, keep_blank_values=True))
        except ValueError:
            raise HTTPError(400, "malformed query string", close=True) from None
        return Request(method=method, target=target, path=split.path or "/", query=query, version=version,
                       headers=headers, peer=writer.get_extra_info("peername"),
                       sockname=writer.get_extra_info("sockname"))

    @staticmethod
    def _keep_alive(request: Request) -> bool:
        conn = request.headers.get("connection", "").lower()
        if request.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn

    async def _read_body(self, request: Request, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        if "transfer-encoding" in request.headers:
            raise HTTPError(501, "Transfer-Encoding is not supported; send a Content-Length body", close=True)
        raw = request.headers.get("content-length")
        if raw is None:
            return
        if not raw.isdigit() or not raw.isascii():
            raise HTTPError(400, f"bad Content-Length {raw[:20]!r}", close=True)
        length = int(raw)
        if length > self.max_body:
            raise HTTPError(413, f"request body of {length} bytes is larger than the limit of {self.max_body}",
                            close=True)
        if request.headers.get("expect", "").lower() == "100-continue":
            writer.write(b"%s 100 Continue\r\n\r\n" % request.version.encode())
        try:
            request.body = await asyncio.wait_for(reader.readexactly(length), self.body_timeout)
        except asyncio.IncompleteReadError:
            raise HTTPError(400, "connection closed before the whole body arrived", close=True) from None
        except asyncio.TimeoutError:
            raise HTTPError(408, f"body did not arrive within {self.body_timeout:g} s", close=True) from None

    @staticmethod
    async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Half-close after an error answer and drain what the client still sends (briefly),
        so closing with unread input does not reset the connection before the answer is read."""
        try:
            if writer.can_write_eof():
                writer.write_eof()
            deadline = asyncio.get_running_loop().time() + 1.0
            drained = 0
            while drained < (1 << 20):
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                chunk = await asyncio.wait_for(reader.read(65536), left)
                if not chunk:
                    break
                drained += len(chunk)
        except (asyncio.TimeoutError, ConnectionError, OSError, _ssl.SSLError):
            pass

    async def _send(self, writer: asyncio.StreamWriter, response: Response, version: str, keep: bool) -> None:
        try:
            reason = http.HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"{version} {response.status} {reason}",
                 f"Date: {email.utils.formatdate(usegmt=True)}",
                 "Server: lguapi-emulator",
                 f"Content-Type: {response.content_type}"]
        names = {k.lower() for k, _ in response.headers}
        if "content-length" not in names:
            lines.append(f"Content-Length: {len(response.body)}")
        lines.extend(f"{k}: {v}" for k, v in response.headers)
        lines.append("Connection: keep-alive" if keep else "Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)
        await writer.drain()
