"""The live feed against the real emulator: SSE and WebSocket, filters, resume with
Last-Event-ID / ?since, the gap notice, and a slow subscriber cut off while a fast one loses
nothing."""
from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest

from kit.gateway import SseReader, gateway_stack
from kit.wait import until

PAD = "x" * 900


async def burst(st, n: int, *, exten: str = "3001", start: int = 0) -> None:
    """``n`` real events (unknown name TESTEVENT) from the emulator to ``exten``'s session."""
    for i in range(start, start + n):
        st.emu.deliver(exten, f"TESTEVENT|SEQ:{i}|PAD:{PAD}")


def is_test(m: dict) -> bool:
    return m["type"] == "event.testevent"


async def test_sse_resume_with_last_event_id_and_since():
    async with gateway_stack("3001-3002") as st, st.session() as http:
        first = SseReader(await http.get(st.url + "/v1/events?kinds=event"))
        await burst(st, 10)
        got = await first.messages(is_test, 10)
        assert [int(m["data"]["fields"][0][1]) for m in got] == list(range(10))
        first.resp.close()
        last = got[4]["id"]
        await burst(st, 5, start=10)
        await until(lambda: st.gateway.hub.last_id >= got[-1]["id"] + 5, what="5 more messages")
        again = SseReader(await http.get(st.url + "/v1/events?kinds=event", headers={"Last-Event-ID": str(last)}))
        resumed = await again.messages(is_test, 10)
        assert [m["id"] for m in resumed] == [m["id"] for m in got[5:]] + [m["id"] for m in resumed[5:]]
        assert [int(m["data"]["fields"][0][1]) for m in resumed] == list(range(5, 15))
        again.resp.close()
        by_query = SseReader(await http.get(st.url + f"/v1/events?kinds=event&since={resumed[-2]['id']}",
                                            headers={"Last-Event-ID": "0"}))  # ?since wins
        (m,) = await by_query.messages(is_test, 1)
        assert m["id"] == resumed[-1]["id"]
        by_query.resp.close()


async def test_gap_notice_when_the_id_left_the_buffer_or_is_unknown():
    async with gateway_stack("3001-3002", feed_buffer=20) as st, st.session() as http:
        watcher = SseReader(await http.get(st.url + "/v1/events?kinds=event"))
        await burst(st, 40)
        await watcher.messages(is_test, 40)
        hub = st.gateway.hub
        oldest = hub.oldest_id
        assert hub.last_id - oldest + 1 == 20
        late = SseReader(await http.get(st.url + "/v1/events?since=3"))
        gid, _, gap = await late.next()
        assert gap["kind"] == "gap" and gap["type"] == "gap" and gid == gap["id"] == oldest - 1
        assert gap["data"]["since"] == 3 and gap["data"]["oldest"] == oldest and gap["data"]["reason"]
        rest = [(await late.next())[2] for _ in range(20)]
        assert [m["id"] for m in rest] == list(range(oldest, oldest + 20))
        future = SseReader(await http.get(st.url + f"/v1/events?since={hub.last_id + 1000}"))
        _, _, gap2 = await future.next()
        assert gap2["kind"] == "gap" and "unknown id" in gap2["data"]["reason"]
        for r in (watcher, late, future):
            r.resp.close()


async def test_websocket_feed_with_filters():
    async with gateway_stack("3001-3003") as st, st.session() as http:
        ws = await http.ws_connect(st.url + "/v1/ws?exten=3002&kinds=call,extension")
        other = await http.ws_connect(st.url + "/v1/ws?exten=3003")
        call_id = st.emu.pbx.external_call("01099998888", "3002")
        st.emu.pbx.external_call("01077776666", "3001")  # not for either socket
        seen = []
        while not any(m["type"] == "extension.state" for m in seen) or not any(
                m["type"] == "call.ringing" for m in seen):
            msg = await ws.receive(timeout=10)
            assert msg.type == aiohttp.WSMsgType.TEXT
            seen.append(json.loads(msg.data))
        assert all(m["kind"] in ("call", "extension") for m in seen)
        assert all(m["exten"] == "3002" or "3002" in m["data"].get("exten", ()) for m in seen)
        ring = next(m for m in seen if m["type"] == "call.ringing")
        assert ring["data"]["remote_number"] == "01099998888"
        st.emu.pbx.external_hangup(call_id)
        while True:
            m = json.loads((await ws.receive(timeout=10)).data)
            if m["type"] == "call.ended":
                assert m["data"]["outcome"] in ("abandoned", "missed")
                break
        with pytest.raises(asyncio.TimeoutError):
            await other.receive(timeout=0.3)  # 3003 saw nothing
        await ws.close()
        await other.close()
        await until(lambda: st.gateway.hub.subscribers == 0, what="subscribers gone")


async def test_bad_feed_parameters_and_the_subscriber_limit():
    async with gateway_stack("3001-3002", max_subscribers=1) as st, st.session() as http:
        for q in ("kinds=calls", "since=abc", "since=-1"):
            r = await http.get(st.url + "/v1/events?" + q)
            assert r.status == 400 and (await r.json())["error"] == "bad_request", q
        r = await http.get(st.url + "/v1/events", headers={"Last-Event-ID": "x"})
        assert r.status == 400 and "Last-Event-ID" in (await r.json())["message"]
        one = await http.get(st.url + "/v1/events")
        await until(lambda: st.gateway.hub.subscribers == 1, what="one subscriber")
        r = await http.get(st.url + "/v1/ws")
        assert r.status == 503 and "max_subscribers" in (await r.json())["message"]
        one.close()


def small_socket(addr_info=(socket.AF_INET, socket.SOCK_STREAM, 0, "", ())) -> socket.socket:
    """A client socket with a tiny receive buffer and segment size (an aiohttp ``socket_factory``).

    Loopback's 64 KiB segments let the server's kernel buffer grow to megabytes for a reader that
    stops reading; with small segments it stays a few KiB, so the gateway's queue fills after a few
    hundred messages instead of thousands (the same cut, sooner)."""
    family, kind, proto, _, _ = addr_info
    s = socket.socket(family, kind, proto)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    return s


def slow_client(port: int, path: str) -> socket.socket:
    """A raw HTTP client with a tiny receive buffer that sends its request and then reads nothing."""
    s = small_socket()
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    s.setblocking(False)
    return s


async def read_all(s: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    chunks: list[bytes] = []
    while True:
        data = await asyncio.wait_for(loop.sock_recv(s, 65536), 10)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


async def until_cut(st, fast: SseReader) -> list[dict]:
    """Bursts smaller than the queue, each read by ``fast``, until a subscriber is cut off."""
    sent = 0
    got: list[dict] = []
    while st.gateway.hub.cut_count == 0:
        assert sent < 60_000, "the slow subscriber was never cut off"
        await burst(st, 50, start=sent)
        sent += 50
        got += await fast.messages(is_test, 50)
    return got


def aborted(s: socket.socket) -> bool:
    """Has the peer ended the connection? (the kernel's TCP state: reads nothing)"""
    tcp_established = 1
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] != tcp_established


@pytest.mark.timeout(120)
async def test_a_subscriber_that_reads_nothing_at_all_is_disconnected(monkeypatch):
    from lguapi.gateway import streams

    monkeypatch.setattr(streams, "_GOODBYE_SECONDS", 0.5)
    async with gateway_stack("3001-3002", feed_queue=100) as st, st.session() as http:
        fast = SseReader(await http.get(st.url + "/v1/events?kinds=event"))
        stuck = slow_client(st.gateway.port, "/v1/events?kinds=event")
        await until(lambda: st.gateway.hub.subscribers == 2, what="two subscribers")
        await until_cut(st, fast)
        await until(lambda: aborted(stuck), timeout=30, what="the stuck connection to be aborted")
        stuck.close()
        fast.resp.close()


@pytest.mark.timeout(120)
async def test_a_slow_subscriber_is_cut_off_while_a_fast_one_loses_nothing(monkeypatch):
    from lguapi.gateway import streams

    monkeypatch.setattr(streams, "_GOODBYE_SECONDS", 600.0)  # it reads its notice, however loaded the machine
    async with gateway_stack("3001-3002", feed_queue=100) as st, st.session() as http:
        hub = st.gateway.hub
        fast = SseReader(await http.get(st.url + "/v1/events?kinds=event"))
        slow = slow_client(st.gateway.port, "/v1/events?kinds=event")
        await until(lambda: hub.subscribers == 2, what="two subscribers")
        got = await until_cut(st, fast)
        sent = len(got)
        await burst(st, 50, start=sent)  # the fast one goes on after the cut
        sent += 50
        got += await fast.messages(is_test, 50)
        seqs = [int(m["data"]["fields"][0][1]) for m in got]
        assert seqs == list(range(sent))
        ids = [m["id"] for m in got]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # nothing in between: all of them
        assert hub.subscribers == 1 and hub.cut_count == 1
        tail = (await read_all(slow)).decode("utf-8", "replace")
        slow.close()
        assert "event: cut" in tail
        cut = json.loads(tail.split("event: cut\ndata: ", 1)[1].split("\n", 1)[0])
        assert cut["error"] == "slow_subscriber" and "queue limit" in cut["message"]
        fast.resp.close()


@pytest.mark.timeout(120)
async def test_a_slow_websocket_subscriber_gets_the_reason_and_close_code_4000(monkeypatch):
    from lguapi.gateway import streams

    monkeypatch.setattr(streams, "_GOODBYE_SECONDS", 600.0)
    # a client that reads nothing answers no ping either: no heartbeat may drop it before the cut
    async with gateway_stack("3001-3002", feed_queue=100, feed_heartbeat=600.0) as st, st.session() as http, \
            st.session(connector=aiohttp.TCPConnector(socket_factory=small_socket)) as slow_http:
        fast = SseReader(await http.get(st.url + "/v1/events?kinds=event"))
        slow = await slow_http.ws_connect(st.url + "/v1/ws?kinds=event", max_msg_size=0)  # not read until the cut
        await until(lambda: st.gateway.hub.subscribers == 2, what="two subscribers")
        await until_cut(st, fast)
        last = None
        while True:
            msg = await slow.receive(timeout=30)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            last = json.loads(msg.data)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert slow.close_code == 4000
        assert last["error"] == "slow_subscriber" and "queue limit" in last["message"]
        fast.resp.close()
