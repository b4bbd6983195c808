"""A minimal HTTP/1.1 test client on asyncio streams (for the emulator's admin and OAM tests).

``await request(port, "POST", "/calls", {"from": "010..."})`` sends one request with
``Connection: close`` and returns ``Reply(status, headers, body)``; ``.json()`` parses the body.
``await exchange(port, raw_bytes)`` writes raw bytes and returns everything the server sent
until it closed the connection (for malformed requests).
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def parse_replies(data: bytes) -> list[Reply]:
    """Every response in ``data`` (a keep-alive stream), in order; 1xx interim answers included."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"truncated response head: {data[:200]!r}")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0")) if status >= 200 else 0
        out.append(Reply(status, headers, rest[:n]))
        data = rest[n:]
    return out


async def exchange(port: int, raw: bytes, *, host: str = "127.0.0.1", ssl=None, timeout: float = 10.0) -> bytes:
    """Write ``raw`` and read until the server closes the connection."""
    kw = {"ssl": ssl, "server_hostname": host} if ssl is not None else {}
    reader, writer = await asyncio.open_connection(host, port, **kw)
    try:
        writer.write(raw)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def request(port: int, method: str, path: str, body=None, *, host: str = "127.0.0.1", ssl=None,
                  headers: dict | None = None, form: dict | None = None) -> Reply:
    """One request: ``body`` a dict/list (sent as JSON), bytes or None; ``form`` a urlencoded dict."""
    from urllib.parse import urlencode

    hdrs = {"Host": f"{host}:{port}", "Connection": "close"}
    if form is not None:
        data = urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    elif isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    else:
        data = body or b""
    if data or method in ("POST", "PUT"):
        hdrs["Content-Length"] = str(len(data))
    hdrs.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    replies = parse_replies(await exchange(port, head.encode("latin-1") + data, host=host, ssl=ssl))
    assert len(replies) == 1, replies
    return replies[0]
