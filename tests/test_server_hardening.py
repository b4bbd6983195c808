"""The emulator under hostile peers and its duplicate-login count,
over real TCP with tests/kit/rawclient.py and tests/kit/httpraw.py.

Attackers pace their bytes with short sleeps (that is the attack); every assertion waits on
a condition with a generous timeout.
"""
from __future__ import annotations

import asyncio
import struct

import lgucore
from kit.httpraw import request
from lgucore import HEARTBEAT, TEXT, TEXT_SEED, FrameDecoder, encode_frame
from lguapi.server import Directory, Emulator, User
from lguapi.server.admin import AdminServer
from kit.rawclient import RawClient
from test_server_session import emulator as session_emulator
from test_server_session import logged_in

HOST = "127.0.0.1"
USERS = [User(id=f"0701234{n}", password=f"secret-{n}", exten=str(n), callerid=f"0701234{n}", domain="127.0.0.1")
         for n in (3321, 3322, 3323)]


def emulator(**kw):
    return session_emulator(directory=Directory(USERS), **kw)


async def dribble(c: RawClient, data: bytes, pause: float) -> None:
    """Send ``data`` one byte at a time until the server closes the connection."""
    for b in data:
        if c.closed:
            return
        try:
            await c.send_frame(bytes([b]))
        except ConnectionError:
            return
        await asyncio.sleep(pause)


# -- slowloris, frame deadline, connection caps ---------------------------------------

async def test_bytes_that_never_finish_a_frame_do_not_keep_a_connection_open():
    async with emulator(idle_timeout=1.0) as emu:
        ok = await logged_in(emu, USERS[1])
        c = await logged_in(emu, USERS[0])
        task = asyncio.ensure_future(dribble(c, struct.pack(">HH", TEXT, 60000) + bytes(60000), 0.2))
        try:
            await c.wait_closed(timeout=20)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert not ok.closed or "PING" in ok.received  # the honest one answers PINGs and stays
        await ok.heartbeat(b"x")
        assert await ok.recv_ack() == b"x"
        await ok.close()


async def test_frame_completion_deadline_closes_a_slow_frame_before_the_idle_timeout():
    async with emulator(idle_timeout=60.0, frame_timeout=0.5) as emu:
        c = await RawClient.connect(HOST, emu.port)
        task = asyncio.ensure_future(dribble(c, struct.pack(">HH", TEXT, 1000) + bytes(1000), 0.05))
        try:
            text = await c.expect("CMDERROR", timeout=20)
            await c.wait_closed(timeout=20)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert text.startswith("CMDERROR|CMD:FRAME|MSG:frame not completed within 0.5 s"), text
        # a frame that completes in time is fine, however it is cut
        c = await logged_in(emu, USERS[0])
        frame = c.codec.encode(b"CMD|PONG")
        for i in range(len(frame)):
            await c.send_frame(frame[i : i + 1])
        await c.heartbeat(b"after")
        assert await c.recv_ack() == b"after"
        await c.close()


async def _raw_connect(port: int, local: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(HOST, port, local_addr=(local, 0))


async def _refusal(reader: asyncio.StreamReader) -> str:
    """The one text a refused connection gets before the server closes it."""
    data = await asyncio.wait_for(reader.read(), 10)
    frames = FrameDecoder().feed(data)
    assert [f.type for f in frames] == [TEXT], data
    return frames[0].body.decode()


async def test_total_and_per_address_connection_caps():
    async with emulator(max_connections=3, max_connections_per_address=2) as emu:
        first = await logged_in(emu, USERS[0])
        await RawClient.connect(HOST, emu.port)
        r, w = await _raw_connect(emu.port, "127.0.0.1")
        assert await _refusal(r) == ("CMDERROR|CMD:CONNECT|MSG:too many connections from 127.0.0.1 "
                                     "(max_connections_per_address=2)")
        w.close()
        r2, w2 = await _raw_connect(emu.port, "127.0.0.2")   # another address: under both caps
        w2.write(encode_frame(HEARTBEAT, b"hi"))
        await w2.drain()
        assert (await asyncio.wait_for(r2.readexactly(6), 10))[4:] == b"hi"
        r3, w3 = await _raw_connect(emu.port, "127.0.0.3")
        assert await _refusal(r3) == "CMDERROR|CMD:CONNECT|MSG:too many connections (max_connections=3)"
        w3.close()
        assert emu.connection_count == 3
        await first.heartbeat(b"still")
        assert await first.recv_ack() == b"still"
        w2.close()
        await first.close()


# -- bounded per-session state ----------------------------------------------------------

async def test_setuserinfo_is_bounded_per_extension():
    async with emulator(max_userinfo_bytes=100_000) as emu:
        c = await logged_in(emu, USERS[0], cipher="none")
        big = "v" * 40_000
        for key in ("A", "B", "A"):  # replacing a key counts its new size only
            await c.send(f"CMD SETUSERINFO AGENT=3321 KEY={key} VAL={big}")
            assert await c.expect("CMDRESULT") == "CMDRESULT|CMD:SETUSERINFO|RES:OK"
        await c.send(f"CMD SETUSERINFO AGENT=3321 KEY=C VAL={big}")
        err = await c.expect("CMDERROR")
        assert err.startswith("CMDERROR|CMD:SETUSERINFO|MSG:variables of 3321 would take "), err
        assert "max_userinfo_bytes=100000" in err
        await c.close()


async def test_address_book_is_bounded_and_keys_stay_unique():
    async with emulator(max_addressbook=5) as emu:
        c = await logged_in(emu, USERS[0], cipher="none")
        for i in range(5):
            await c.send(f"CMD MAGADDRLIST AGENT=3321 TYPE=0 PNAME=p{i}")
            assert await c.expect("CMDRESULT") == "CMDRESULT|CMD:MAGADDRLIST|RES:OK"
        await c.send("CMD MAGADDRLIST AGENT=3321 TYPE=0 PNAME=extra")
        err = await c.expect("CMDERROR")
        assert err == "CMDERROR|CMD:MAGADDRLIST|MSG:address book of 127.0.0.1 is full (max_addressbook=5)", err
        await c.send("CMD MAGADDRLIST AGENT=3321 TYPE=2 KEYIDX=5")
        assert await c.expect("CMDRESULT") == "CMDRESULT|CMD:MAGADDRLIST|RES:OK"
        await c.send("CMD MAGADDRLIST AGENT=3321 TYPE=0 PNAME=again")
        assert await c.expect("CMDRESULT") == "CMDRESULT|CMD:MAGADDRLIST|RES:OK"
        book = emu.pbx.addressbook["127.0.0.1"]
        assert sorted(book) == [1, 2, 3, 4, 6]   # a deleted key is never handed out again
        await c.close()


async def test_a_burst_on_one_connection_does_not_hold_the_others():
    async with emulator(max_frames_per_turn=50) as emu:
        a = await logged_in(emu, USERS[0])
        b = await logged_in(emu, USERS[1])
        burst = b"".join(encode_frame(HEARTBEAT, b"%d" % i) for i in range(2000))
        await a.send_frame(burst)
        await b.heartbeat(b"b")
        assert await b.recv_ack() == b"b"
        assert len(a.acks) < 2000     # b was answered while a's burst was still being worked off
        for i in range(2000):
            assert await a.recv_ack() == b"%d" % i   # every frame, in order
        assert emu.deferred_turns >= 2000 // 50 - 1
        await a.close()
        await b.close()


# -- one uniform error before login, heartbeats do not reset the count ------------------

def _seed_frames() -> list[bytes]:
    """Undecodable SEED bodies of different kinds, and one that opens to garbage."""
    codec = lgucore.TextCodec("seed")
    good = codec.encode(b"\xc0\xff\x00garbage that is no command")
    return [
        encode_frame(TEXT_SEED, lgucore.b64encode2(b"\x00" * 20)),   # not whole blocks
        encode_frame(TEXT_SEED, lgucore.b64encode2(b"\x00" * 32)),   # whole blocks, bad padding
        encode_frame(TEXT_SEED, b"!!not base64!!"),
        good,
    ]


async def test_before_login_every_bad_seed_frame_gets_the_same_answer():
    async with emulator() as emu:
        c = await RawClient.connect(HOST, emu.port, cipher="seed")
        answers = []
        for i, frame in enumerate(_seed_frames()):
            await c.send_frame(frame)
            answers.append(await c.recv())
        assert answers == [f"CMDERROR|CMD:FRAME|MSG:undecodable TEXT_SEED frame ({i} of 5)" for i in range(1, 5)]
        await c.close()


async def test_heartbeats_do_not_reset_the_bad_frame_count_before_login():
    async with emulator() as emu:
        c = await RawClient.connect(HOST, emu.port, cipher="seed")
        bad = _seed_frames()[1]
        for i in range(1, 6):
            await c.send_frame(bad)
            answer = await c.recv()
            assert answer.startswith(f"CMDERROR|CMD:FRAME|MSG:undecodable TEXT_SEED frame ({i} of 5)"), answer
            if i < 5:
                await c.heartbeat(b"%d" % i)
                assert await c.recv_ack() == b"%d" % i
        await c.wait_closed(timeout=10)


# -- hostile JSON to the admin API ------------------------------------------------------

async def test_deeply_nested_json_is_a_400():
    async with emulator() as emu, AdminServer(emu, port=0) as admin:
        # each under the 16 KiB body limit, nested past Python's recursion limit
        for body in (b"[" * 8000, b"[" * 5000 + b"]" * 5000, b'{"a":' * 2500 + b"1" + b"}" * 2500,
                     b'{"from": ' + b"9" * 10_000 + b"}", b"[" * 200 + b"]" * 200):
            r = await request(admin.port, "POST", "/calls", body)
            assert r.status == 400, (r.status, r.body[:200])
            assert "Traceback" not in r.text and "error" in r.json()
        r = await request(admin.port, "POST", "/calls", {"from": "01012345678", "to": USERS[0].callerid})
        assert r.status == 201


# -- duplicate-login BYEs are counted (admin state: duplicate_login_byes) -------------------

async def test_duplicate_login_byes_are_counted_in_admin_state():
    async with emulator() as emu, AdminServer(emu, port=0) as admin:
        assert (await request(admin.port, "GET", "/state")).json()["duplicate_login_byes"] == 0
        first = await logged_in(emu, USERS[0])
        other = await logged_in(emu, USERS[1])
        second = await logged_in(emu, USERS[0])
        assert await first.expect("BYE") == "BYE|REASON:duplicate login"
        await first.wait_closed()
        third = await logged_in(emu, USERS[0])
        assert await second.expect("BYE") == "BYE|REASON:duplicate login"
        assert emu.duplicate_login_byes == 2
        state = (await request(admin.port, "GET", "/state")).json()
        assert state["duplicate_login_byes"] == 2
        await second.wait_closed()
        await third.close()    # a logout is no BYE
        await other.close()
        assert (await request(admin.port, "GET", "/state")).json()["duplicate_login_byes"] == 2


# -- the bounds as `lguapi serve` flags -----------------------------------------------------

def test_serve_flags_set_the_bounds():
    import argparse

    import pytest

    from lguapi.server import cli

    parser = argparse.ArgumentParser()
    cli.configure_parser(parser)
    args = parser.parse_args(["--extensions", "3001", "--frame-timeout", "7", "--max-connections", "50",
                              "--max-connections-per-address", "9", "--max-userinfo-bytes", "1000",
                              "--max-addressbook", "12", "--max-frames-per-turn", "3"])
    opts = cli._build_stack(args).emulator_options
    assert (opts["frame_timeout"], opts["max_connections"], opts["max_connections_per_address"],
            opts["max_userinfo_bytes"], opts["max_addressbook"], opts["max_frames_per_turn"]) == (7.0, 50, 9, 1000, 12, 3)
    defaults = cli._build_stack(parser.parse_args(["--extensions", "3001"])).emulator_options
    emu = Emulator(Directory(USERS), port=0, **defaults)
    assert (emu.frame_timeout, emu.max_connections, emu.max_connections_per_address,
            emu.max_frames_per_turn) == (30.0, 20000, 10000, 200)
    assert (emu.pbx.max_userinfo_bytes, emu.pbx.max_addressbook) == (65536, 5000)
    for flag in ("--max-connections", "--max-connections-per-address", "--max-addressbook", "--max-frames-per-turn"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--extensions", "3001", flag, "0"])
