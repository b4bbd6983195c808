"""Client faults over real TCP: server restarts, backups, BYE, deliberate close, dead and broken connections.

Each test ends in the documented connection-state events (docs/client.md, "Connection
states"), with no task left running (the conftest checks) and no exception lost.
"""
from __future__ import annotations

import asyncio
import logging

import pytest

from kit.clients import Recorder, creds, dead_port, emulator, logged_in
from lgucore import HEARTBEAT, TextCodec, FrameDecoder, tokenize
from lguapi import (
    ByeEvent, Connected, Disconnected, LoggedIn, Reconciled, Reconnected, Reconnecting, RingEvent,
)
from lguapi.client import Client
from lguapi.errors import ConnectFailed, ConnectionLost


def _kinds(rec, kinds) -> list[str]:
    return [type(e).__name__ for e in rec.events if isinstance(e, kinds)]


STATE = (Connected, LoggedIn, Disconnected, Reconnecting, Reconnected, Reconciled)


async def test_emulator_killed_and_restarted_mid_call():
    async with emulator() as emu:
        port = emu.port
        client, rec = await logged_in(emu, "3001")
        emu.pbx.external_call("01012345678", "3001")
        ring = await rec.wait_for(RingEvent)
        assert client.call_state == "ringing" and client.own_channel == ring.channel
        # a command in flight when the server dies fails with ConnectionLost, never hangs
        pending = asyncio.ensure_future(client.get_status_peers("3001"))
        await emu.close()
    gone = await rec.wait_for(Disconnected)
    assert gone.will_reconnect and not gone.deliberate
    try:
        await pending
    except ConnectionLost:
        pass  # lost before the answer came
    await rec.wait_for(Reconnecting)
    assert not client.is_logged_in
    with pytest.raises(ConnectionLost, match="not connected"):
        await client.hold()
    async with emulator(port=port) as emu2:
        back = await rec.wait_for(Reconnected, timeout=10)
        assert back.gap_possible and back.address == f"127.0.0.1:{port}" and back.downtime > 0
        rc = await rec.wait_for(Reconciled)
        assert rc.statuses and rc.statuses[0][0] == "3001"
        assert client.is_logged_in and client.exten == "3001"
        assert client.call_state is None  # the new server knows no call: reconciled away
        kinds = _kinds(rec, STATE)
        assert kinds[:2] == ["Connected", "LoggedIn"]
        tail = kinds[kinds.index("Disconnected"):]
        assert tail[0] == "Disconnected" and tail[1] == "Reconnecting"
        assert tail[-4:] == ["Connected", "LoggedIn", "Reconnected", "Reconciled"]
        assert set(tail[1:-4]) <= {"Reconnecting"}
        # and the session works again
        assert (await client.get_peer_info("3001"))["3001"].connected
        await client.close()
    assert client.callback_errors == 0


async def test_primary_down_backup_up_at_login_and_on_reconnect():
    dead = dead_port()
    async with emulator() as backup:
        client = Client("127.0.0.1", dead, backups=[("127.0.0.1", backup.port)], heartbeat=1, auto_reconnect=0.1)
        rec = Recorder(client)
        await client.login(*creds("3002"))
        assert client.address == f"127.0.0.1:{backup.port}" and client.is_logged_in
        async with emulator() as primary:
            # rotate: a reconnect tries the primary first, then the backup
            client2 = Client("127.0.0.1", primary.port, backups=[f"127.0.0.1:{backup.port}"], heartbeat=1,
                             auto_reconnect=0.1)
            rec2 = Recorder(client2)
            await client2.login(*creds("3003"))
            primary_port = primary.port
            assert client2.address == f"127.0.0.1:{primary_port}"
        # primary gone for good
        back = await rec2.wait_for(Reconnected, timeout=10)
        assert back.address == f"127.0.0.1:{backup.port}"
        tries = rec2.of(Reconnecting)
        assert tries[0].address == f"127.0.0.1:{primary_port}" and tries[0].attempt == 1
        assert tries[-1].address == f"127.0.0.1:{backup.port}" and tries[-1].attempt == len(tries)
        await rec2.wait_for(Reconciled)
        await client2.close()
        await client.close()
    assert rec.of(Disconnected)[-1].deliberate


async def test_reconnect_stops_when_the_login_is_refused_for_good():
    async with emulator() as emu:
        port = emu.port
        client, rec = await logged_in(emu, "3001", auto_reconnect=0.05)
    first = await rec.wait_for(Disconnected)
    assert first.will_reconnect
    async with emulator(port=port, extens="3002-3003"):  # 3001 is unknown there: -1
        refused = await rec.wait_for(Disconnected, lambda e: not e.will_reconnect, timeout=10)
        assert "status -1" in refused.reason and "unknown ID" in refused.reason
        n = len(rec.of(Reconnecting))
        await asyncio.sleep(0.3)
        assert len(rec.of(Reconnecting)) == n and not client.is_connected
        kinds = _kinds(rec, STATE)
        assert kinds[-3:] == ["Reconnecting", "Connected", "Disconnected"]
        await client.close()
    assert len(rec.of(Disconnected)) == 2  # close() after giving up adds nothing


async def test_no_address_reachable():
    client = Client("127.0.0.1", dead_port(), backups=[("127.0.0.1", dead_port())], heartbeat=0)
    rec = Recorder(client)
    with pytest.raises(ConnectFailed, match="could not connect"):
        await client.login(*creds("3001"))
    assert rec.events == [] and not client.is_connected
    await client.close()


async def test_bye_from_duplicate_login_never_reconnects():
    async with emulator() as emu:
        first, rec = await logged_in(emu, "3004", auto_reconnect=0.05)
        second, rec2 = await logged_in(emu, "3004")
        bye = await rec.wait_for(ByeEvent)
        assert bye.reason == "duplicate login"
        gone = await rec.wait_for(Disconnected)
        assert not gone.will_reconnect and not gone.deliberate and "duplicate login" in gone.reason
        await asyncio.sleep(0.3)  # several reconnect intervals: nothing happens
        assert rec.of(Reconnecting) == [] and not first.is_logged_in
        assert second.is_logged_in
        await first.close()
        await second.close()
        assert rec.of(Disconnected)[-1] is gone  # closing a finished client adds nothing


async def test_deliberate_close():
    async with emulator() as emu:
        client, rec = await logged_in(emu, "3005", auto_reconnect=0.05)
        stream = client.events()
        await client.close()
        gone = rec.of(Disconnected)
        assert len(gone) == 1 and gone[0].deliberate and not gone[0].will_reconnect
        await asyncio.sleep(0.2)
        assert rec.of(Reconnecting) == []
        assert [type(e) async for e in stream] == [Disconnected]  # the stream ends at close
        with pytest.raises(ConnectionLost, match="closed"):
            await client.get_peer_info("3005")
        await client.close()  # idempotent


class _SilentServer(asyncio.Protocol):
    """Logs anyone in, then never sends another byte (no heartbeat acks)."""

    def __init__(self, partial: bytes | None = None) -> None:
        self.codec = TextCodec("seed")
        self.dec = FrameDecoder()
        self.partial = partial
        self.transport = None
        self.heartbeats = 0

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        for f in self.dec.feed(data):
            if f.type == HEARTBEAT:
                self.heartbeats += 1
                continue
            msg = tokenize(self.codec.decode(f))
            if msg.name == "CMD" and b"LOGIN" in msg.raw:
                self.transport.write(self.codec.encode(
                    b"LOGINRESULT|STATUS:1|EXTEN:3001|CALLERID:07012343001|MSG:3001,07012343001,x"))
                if self.partial is not None:
                    self.transport.write(self.partial)
                    self.transport.close()


async def _serve(factory):
    loop = asyncio.get_running_loop()
    protos = []

    def make():
        p = factory()
        protos.append(p)
        return p

    server = await loop.create_server(make, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], protos


async def test_server_stops_answering_heartbeats(caplog):
    caplog.set_level(logging.WARNING, "lguapi.client")
    server, port, protos = await _serve(_SilentServer)
    try:
        client = Client("127.0.0.1", port, heartbeat=0.1, auto_reconnect=0.1)
        rec = Recorder(client)
        await client.login(*creds("3001"))
        gone = await rec.wait_for(Disconnected, timeout=10)  # 2 x 0.1 + 5 s of silence
        assert gone.reason.startswith("dead: nothing received") and gone.will_reconnect
        assert protos[0].heartbeats >= 20  # it kept sending heartbeats all along
        await rec.wait_for(Reconnected)
        await client.close()
        assert "declared dead" in caplog.text
    finally:
        server.close()
        await server.wait_closed()


async def test_half_received_frame_when_socket_dies():
    partial = TextCodec("seed").encode(b"RINGEVENT|ISDIAL:0|CHANNEL:SIP/3001-0000aaaa")[:20]
    server, port, _ = await _serve(lambda: _SilentServer(partial))
    try:
        client = Client("127.0.0.1", port, heartbeat=0, auto_reconnect=0)
        rec = Recorder(client)
        await client.login(*creds("3001"))
        gone = await rec.wait_for(Disconnected)
        assert "partial frame of 20 bytes" in gone.reason and not gone.will_reconnect
        assert rec.of(RingEvent) == [] and client.callback_errors == 0
        await client.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_half_frame_from_the_emulator_then_reconnect():
    async with emulator() as emu:
        client, rec = await logged_in(emu, "3006")
        sess = emu.sessions()[0]
        sess.transport.write(b"\x00\x03\x01\x00" + b"A" * 40)  # claims 256 bytes, sends 40
        sess.transport.abort()
        gone = await rec.wait_for(Disconnected)
        assert "partial frame of 44 bytes" in gone.reason and gone.will_reconnect
        await rec.wait_for(Reconciled)
        assert client.is_logged_in
        await client.close()


async def test_login_failures_end_in_disconnected():
    from lguapi.errors import LoginError

    async with emulator(ciphers=("seed",)) as emu:
        client = Client("127.0.0.1", emu.port, heartbeat=0)
        rec = Recorder(client)
        uid, _ = creds("3007")
        with pytest.raises(LoginError) as ei:
            await client.login(uid, "wrong-password-xyz")
        assert ei.value.status == -2 and "wrong-password-xyz" not in str(ei.value) + repr(ei.value)
        gone = rec.of(Disconnected)[0]  # already there when login() raised
        assert not gone.will_reconnect and "wrong-password-xyz" not in repr(client)
        with pytest.raises(LoginError) as ei:  # and an immediate retry is allowed
            await client.login("07099999999", "x")
        assert ei.value.status == -1
        await client.close()
        basic = Client("127.0.0.1", emu.port, cipher="basic", heartbeat=0)
        with pytest.raises(LoginError) as ei:
            await basic.login(*creds("3007"))
        assert ei.value.status == -4 and "seed" in ei.value.msg
        await basic.close()
