"""The emulator's tiny HTTP/1.1 server (server/http.py) over real TCP: routing, limits, garbage."""
from __future__ import annotations

import asyncio
import logging

import pytest

from kit.httpraw import exchange, parse_replies, request
from lguapi.server.http import HTTPError, HTTPServer, Response, Router


def _router() -> Router:
    r = Router()
    r.add("GET", "/hello/{name}", lambda req: Response.json({"hi": req.params["name"], "q": req.query}))
    r.add("POST", "/echo", lambda req: Response.json({"json": req.json()}))
    r.add("POST", "/form", lambda req: Response.json(req.form()))
    r.add("PUT", "/echo", lambda req: Response.text("put"))

    async def slow(req):
        await asyncio.sleep(0)
        return Response.text("async ok")

    r.add("GET", "/async", slow)

    def boom(req):
        raise RuntimeError("handler bug")

    r.add("GET", "/boom", boom)
    r.add("GET", "/teapot", lambda req: (_ for _ in ()).throw(HTTPError(418, "short and stout")))
    return r


async def test_routes_params_query_json_form_and_async_handlers():
    async with HTTPServer(_router(), port=0) as srv:
        r = await request(srv.port, "GET", "/hello/w%20x?a=1&b=")
        assert r.status == 200 and r.json() == {"hi": "w x", "q": {"a": "1", "b": ""}}
        assert r.headers["content-type"] == "application/json" and "date" in r.headers
        r = await request(srv.port, "POST", "/echo", {"a": [1, 2]})
        assert r.json() == {"json": {"a": [1, 2]}}
        r = await request(srv.port, "POST", "/echo", b"")
        assert r.json() == {"json": None}
        r = await request(srv.port, "POST", "/form", form={"id": "070 1", "x": ""})
        assert r.json() == {"id": "070 1", "x": ""}
        r = await request(srv.port, "GET", "/async")
        assert (r.status, r.text) == (200, "async ok")
        r = await request(srv.port, "HEAD", "/hello/x")
        assert r.status == 200 and r.body == b"" and int(r.headers["content-length"]) > 0
        r = await request(srv.port, "GET", "/hello/x/")  # a trailing slash is accepted
        assert r.status == 200


async def test_error_answers(caplog):
    async with HTTPServer(_router(), port=0, max_body=100) as srv:
        r = await request(srv.port, "GET", "/nothing")
        assert r.status == 404 and "no such path" in r.text
        r = await request(srv.port, "DELETE", "/echo")
        assert r.status == 405 and r.headers["allow"] == "POST, PUT"
        r = await request(srv.port, "POST", "/echo", b"{not json")
        assert r.status == 400 and "not valid JSON" in r.text
        r = await request(srv.port, "POST", "/echo", b"\xff\xfe")
        assert r.status == 400
        r = await request(srv.port, "POST", "/echo", b"x" * 101)
        assert r.status == 413 and r.headers["connection"] == "close"
        r = await request(srv.port, "GET", "/teapot")
        assert (r.status, r.text) == (418, "short and stout\n")
        with caplog.at_level(logging.ERROR, logger="lguapi.server.http"):
            r = await request(srv.port, "GET", "/boom")
        assert r.status == 500 and "internal error" in r.text
        assert any("handler failed" in rec.message for rec in caplog.records)  # logged, not swallowed
        # the server still serves after all of that
        assert (await request(srv.port, "GET", "/hello/ok")).status == 200


@pytest.mark.parametrize("raw, status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /x\r\n\r\n", 400),
    (b"GET /x HTTP/2.0\r\n\r\n", 505),
    (b"GET /x FOO/1.1\r\n\r\n", 400),
    (b"GET x HTTP/1.1\r\n\r\n", 400),
    (b"G\x00T /x HTTP/1.1\r\n\r\n", 400),
    (b"GET /hello/x HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"GET /hello/x HTTP/1.1\r\nBad Name: v\r\n\r\n", 400),
    (b"POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    (b"POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    (b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    (b"POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 400),   # closed before the body
    (b"GET /hello/x HTTP/1.1\r\nX: " + b"a" * 5000 + b"\r\n\r\n", 431),
    (b"GET /hello/x HTTP/1.1\r\n" + b"X: a\r\n" * 120 + b"\r\n", 431),
    (b"GET /hello/x HTTP/1.1\r\nHost: a", 400),                        # head never completed
])
async def test_garbage_gets_a_clear_status_and_the_connection_closes(raw, status):
    async with HTTPServer(_router(), port=0, max_head=4096) as srv:
        kw = {}
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(raw)
        writer.write_eof()
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await writer.wait_closed()
        replies = parse_replies(data)
        assert [r.status for r in replies] == [status], (raw[:60], data[:200], kw)
        assert replies[0].headers["connection"] == "close"


async def test_keep_alive_pipelining_http10_and_expect_continue():
    async with HTTPServer(_router(), port=0) as srv:
        req = b"GET /hello/a HTTP/1.1\r\nHost: x\r\n\r\n"
        last = b"GET /hello/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        replies = parse_replies(await exchange(srv.port, req + req + last))
        assert [r.json()["hi"] for r in replies] == ["a", "a", "b"]
        # HTTP/1.0 closes unless asked
        replies = parse_replies(await exchange(srv.port, b"GET /hello/c HTTP/1.0\r\n\r\n" + req))
        assert len(replies) == 1 and replies[0].headers["connection"] == "close"
        body = b'{"k": 1}'
        raw = (b"POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
               % len(body)) + body
        replies = parse_replies(await exchange(srv.port, raw))
        assert [r.status for r in replies] == [100, 200] and replies[1].json() == {"json": {"k": 1}}
        # stray empty lines before a request are tolerated
        replies = parse_replies(await exchange(srv.port, b"\r\n" + last))
        assert replies[0].status == 200


async def test_idle_connections_close_and_connection_limit():
    async with HTTPServer(_router(), port=0, idle_timeout=0.2, max_connections=2) as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after idling, no answer
        writer.close()
        await writer.wait_closed()
        held = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(2)]
        # a third connection is refused once the server has taken the two (it may not have yet)
        statuses = []
        while 503 not in statuses and len(statuses) < 50:
            statuses.append(parse_replies(await exchange(srv.port, b"GET /hello/x HTTP/1.1\r\n\r\n"))[0].status)
        assert statuses[-1] == 503 and set(statuses) <= {200, 503}, statuses
        for _, w in held:
            w.close()
            await w.wait_closed()


async def test_close_ends_open_connections():
    srv = HTTPServer(_router(), port=0, idle_timeout=30)
    await srv.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"GET /hello/x HTTP/1.1\r\n\r\n")  # one answered request: the server holds the connection
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 200")
    await srv.close()
    assert b'"hi"' in await asyncio.wait_for(reader.read(), 5)  # the rest of that answer, then the end
    writer.close()
    await writer.wait_closed()


def test_limits_are_checked():
    with pytest.raises(ValueError):
        HTTPServer(_router(), max_head=10)
