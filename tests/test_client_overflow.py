"""Slow consumers: the client never buffers without bound and never drops an event silently.

Policy (docs/client.md, "Overflow"): every consumer queue (the async-callback queue, each
``events()`` stream) holds at most ``max_queue`` events (plus what one socket read already
carried). When one is full the client stops reading the socket (``pause_reading``) and
resumes when all are back under half. The server then sees a slow reader; if its own
send bound is exceeded it closes the connection, the client reports ``Disconnected`` after
the events it did read, reconnects, and says ``Reconnected(gap_possible=True)``.
"""
from __future__ import annotations

import asyncio

from kit.clients import emulator, logged_in
from kit.wait import until
from lguapi import Disconnected, Reconnected, UnknownEvent


async def test_full_stream_pauses_reading_until_the_server_drops_then_reconnects():
    async with emulator(max_send_buffer=64 * 1024) as emu:
        client, rec = await logged_in(emu, "3001", cipher="none", max_queue=20, heartbeat=0.2,
                                      auto_reconnect=0.1)
        stream = client.events()
        sess = emu.sessions()[0]
        pad = "x" * 900
        sent = 0
        while not sess.closed.done() and sent < 100_000:
            for _ in range(32):
                sess.send_text(f"FLOOD|SEQ:{sent}|PAD:{pad}")
                sent += 1
            await asyncio.sleep(0)
        assert sess.closed.done(), "the emulator should have dropped the slow reader"
        read = len([e for e in rec.events if e.name == "FLOOD"])
        assert client.overflow_pauses >= 1 and read < sent  # it stopped reading; nothing piled up unbounded
        assert read <= 20 + 64 * 1024 // 900 + 300  # at most max_queue plus what one read carried
        seqs, gone, back = [], None, None
        async for ev in stream:
            if isinstance(ev, UnknownEvent) and ev.name == "FLOOD":
                seqs.append(int(ev.get("SEQ")))
            elif isinstance(ev, Disconnected):
                gone = ev
            elif isinstance(ev, Reconnected):
                back = ev
                break
        # every event it read reached the consumer, in order and without holes, before the loss
        assert seqs == list(range(len(seqs))) and read <= len(seqs) < sent
        assert gone is not None and gone.will_reconnect and not gone.deliberate
        assert back.gap_possible
        await client.close()


async def test_slow_async_callback_is_throttled_not_dropped():
    async with emulator() as emu:
        client, rec = await logged_in(emu, "3001", max_queue=10)
        got = []

        async def slow(ev):
            await asyncio.sleep(0.001)
            got.append(int(ev.get("SEQ")))

        client.on("FLOOD", slow)
        sess = emu.sessions()[0]
        for i in range(300):
            sess.send_text(f"FLOOD|SEQ:{i}")
        await until(lambda: len(got) == 300, "the 300 events")
        assert got == list(range(300))
        assert client.overflow_pauses >= 1 and client.is_logged_in and not rec.of(Disconnected)
        await client.close()


async def test_an_abandoned_stream_does_not_block_reading():
    async with emulator() as emu:
        client, rec = await logged_in(emu, "3001", max_queue=10)
        sess = emu.sessions()[0]
        sess.send_text("FLOOD|SEQ:0")
        async for ev in client.events():
            if ev.name == "FLOOD":
                break  # the stream is dropped here
        for i in range(1, 200):
            sess.send_text(f"FLOOD|SEQ:{i}")
        await until(lambda: len([e for e in rec.events if e.name == "FLOOD"]) == 200, "the 200 events")
        assert len([e for e in rec.events if e.name == "FLOOD"]) == 200 and client.overflow_pauses == 0
        await client.close()


async def test_application_pause_holds_events_in_the_socket_until_resumed():
    """pause_reading()/resume_reading(): nothing is delivered while paused, nothing lost after."""
    import asyncio as _asyncio

    from kit.clients import Recorder, creds, emulator
    from lguapi.client import Client
    from lguapi.events import SmsEvent

    async with emulator() as emu:
        client = Client("127.0.0.1", emu.port, heartbeat=None, auto_reconnect=None)
        rec = Recorder(client)
        try:
            await client.login(*creds("3001"))
            client.pause_reading()
            for i in range(5):
                emu.pbx.inbound_sms("01012345678", creds("3001")[0], f"msg {i}")
            await _asyncio.sleep(0.3)  # a while paused: nothing may arrive
            assert rec.of(SmsEvent) == []
            client.resume_reading()
            await until(lambda: len(rec.of(SmsEvent)) == 5, "the five messages")
            assert [e.message for e in rec.of(SmsEvent)] == [f"msg {i}" for i in range(5)]
        finally:
            await client.close()
