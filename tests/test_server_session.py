"""Emulator sessions over real TCP (docs/protocol.md §6, docs/emulator-sessions.md), driven by tests/kit/rawclient.py.

Every bad-input test also checks that another, well-behaved session is unaffected.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

import pytest

import lgucore
from lgucore import HEARTBEAT_ACK, TEXT, TEXT_BASIC, TEXT_SEED, encode_frame
from lguapi.server import Directory, Emulator, User
from kit.rawclient import RawClient
from kit.wait import until

HOST = "127.0.0.1"
TYPE_OF = {"none": TEXT, "basic": TEXT_BASIC, "seed": TEXT_SEED}

USERS = [
    User(id="07012340321", password="secret-0321", exten="3321", callerid="07012340321", domain="127.0.0.1"),
    User(id="07012340322", password="secret-0322", exten="3322", callerid="07012340322", domain="127.0.0.1"),
    User(id="tmpid9211@tel110.net", password="pw=9211", exten="101t4004", callerid="07012349211", domain="tel110.net"),
    User(id="3700", password="x", exten="3700", callerid="", domain="ipcctest.com"),
]


def directory() -> Directory:
    return Directory(USERS)


@contextlib.asynccontextmanager
async def emulator(**kw):
    emu = Emulator(kw.pop("directory", None) or directory(), host=HOST, port=0, **kw)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.close()


async def logged_in(emu, user: User, **kw) -> RawClient:
    c = await RawClient.connect(HOST, emu.port, byteorder=emu.byteorder, **kw)
    res = await c.login(user.id, user.password)
    assert res.startswith("LOGINRESULT|STATUS:1|"), res
    return c


async def assert_alive(emu, c: RawClient, user: User, tag: str = "still-here") -> None:
    """``c`` still gets events routed to its extension and heartbeat answers."""
    emu.deliver(user.exten, f"ETCEVENT|TAG:{tag}")
    assert await c.expect("ETCEVENT", timeout=5) == f"ETCEVENT|TAG:{tag}"
    await c.heartbeat(tag.encode())
    assert await c.recv_ack() == tag.encode()
    assert not c.closed


async def assert_silent(c: RawClient) -> None:
    """Nothing but the answer to a heartbeat arrives: the server sent no text in between."""
    before = len(c.received)
    await c.heartbeat(b"sync")
    assert await c.recv_ack() == b"sync"
    assert c.received[before:] == []


# -- login ------------------------------------------------------------------------------

@pytest.mark.parametrize("byteorder", ["big", "little"])
@pytest.mark.parametrize("cipher", ["none", "basic", "seed"])
async def test_login_success_answers_in_the_clients_cipher(cipher, byteorder):
    async with emulator(byteorder=byteorder) as emu:
        async with RawClient.connect(HOST, emu.port, cipher=cipher, byteorder=byteorder) as c:
            res = await c.login("07012340321", "secret-0321")
            assert res == ("LOGINRESULT|STATUS:1|EXTEN:3321|CALLERID:07012340321|DOMAIN:127.0.0.1"
                           "|MSG:3321,07012340321,07012340321")
            assert c.frames[-1].type == TYPE_OF[cipher]
            # heartbeat: acked, echoing the body, never enciphered
            for token in (b"", b"tok-123", bytes(range(256)) * 4):
                await c.heartbeat(token)
                assert await c.recv_ack() == token
                assert c.frames[-1].type == HEARTBEAT_ACK
            assert [s.exten for s in emu.sessions()] == ["3321"]
            assert emu.sessions()[0].cipher == cipher
            assert emu.online("3321") and not emu.online("3322")
            await assert_alive(emu, c, USERS[0])
            assert c.frames[-2].type == TYPE_OF[cipher]  # routed events too come in the session cipher
        await until(lambda: not emu.sessions(), "the session to go")
        assert not emu.online("3321")


async def test_login_pipe_form_and_non_digit_extension():
    async with emulator() as emu:
        async with RawClient.connect(HOST, emu.port, cipher="basic") as c:
            await c.send("CMD|LOGIN|tmpid9211@tel110.net|pw=9211")
            assert await c.recv() == ("LOGINRESULT|STATUS:1|EXTEN:101t4004|CALLERID:07012349211|DOMAIN:tel110.net"
                                      "|MSG:101t4004,07012349211,tmpid9211@tel110.net")
            await assert_alive(emu, c, USERS[2])


async def test_login_without_caller_id():
    async with emulator() as emu:
        async with RawClient.connect(HOST, emu.port, cipher="seed") as c:
            assert await c.login("3700", "x") == "LOGINRESULT|STATUS:1|EXTEN:3700|CALLERID:|DOMAIN:ipcctest.com|MSG:3700,,3700"


@pytest.mark.parametrize("uid, pwd, status, msg", [
    ("07099999999", "whatever", -1, "unknown ID"),
    ("07012340321", "wrong", -2, "wrong password"),
    ("07012340321", "", -2, "wrong password"),
])
async def test_login_failures_answer_and_close(uid, pwd, status, msg, caplog):
    caplog.set_level(logging.DEBUG, logger="lguapi.server")
    async with emulator() as emu:
        other = await logged_in(emu, USERS[1], cipher="basic")
        async with RawClient.connect(HOST, emu.port, cipher="seed") as c:
            res = await c.login(uid, pwd)
            assert res == f"LOGINRESULT|STATUS:{status}|EXTEN:|CALLERID:|MSG:{msg}"
            assert c.frames[-1].type == TEXT_SEED
            await c.wait_closed()
        await assert_alive(emu, other, USERS[1])
        await other.close()
    assert "wrong" not in caplog.text.replace("wrong password", "")  # the password never reaches the log
    assert "secret-0321" not in caplog.text


async def test_login_missing_arguments_is_a_command_error():
    async with emulator() as emu:
        async with RawClient.connect(HOST, emu.port, cipher="none") as c:
            await c.send("CMD LOGIN ID=07012340321")
            assert await c.recv() == "CMDERROR|CMD:LOGIN|MSG:missing argument PWD"
            await c.send("CMD|LOGIN")
            assert await c.recv() == "CMDERROR|CMD:LOGIN|MSG:missing argument ID"
            assert (await c.login("07012340321", "secret-0321")).startswith("LOGINRESULT|STATUS:1|")
            await c.send("CMD LOGIN ID=07012340321 PWD=secret-0321 ")
            assert await c.recv() == "CMDERROR|CMD:LOGIN|MSG:already logged in as 3321 (one login per connection)"
            await assert_alive(emu, c, USERS[0])


@pytest.mark.parametrize("cipher", ["none", "basic"])
async def test_refused_cipher_answers_minus_4_in_that_cipher(cipher):
    async with emulator(ciphers=("seed",)) as emu:
        other = await logged_in(emu, USERS[1], cipher="seed")
        async with RawClient.connect(HOST, emu.port, cipher=cipher) as c:
            res = await c.login("07012340321", "secret-0321")
            assert res == f"LOGINRESULT|STATUS:-4|EXTEN:|CALLERID:|MSG:cipher {cipher} refused; accepted: seed"
            assert c.frames[-1].type == TYPE_OF[cipher]
            await c.wait_closed()
        await assert_alive(emu, other, USERS[1])
        await other.close()


async def test_lockout_after_five_failures_and_recovery_after_the_window():
    now = [1_000_000.0]
    async with emulator(clock=lambda: now[0]) as emu:
        other = await logged_in(emu, USERS[1])

        async def attempt(pwd, user=USERS[0]):
            async with RawClient.connect(HOST, emu.port, cipher="seed") as c:
                res = await c.login(user.id, pwd)
                await c.wait_closed() if "STATUS:1|" not in res else None
                return res

        for _ in range(5):
            assert (await attempt("bad")).startswith("LOGINRESULT|STATUS:-2|")
            now[0] += 1
        # locked: even the right password is refused, and the lock names the wait
        res = await attempt("secret-0321")
        assert res == "LOGINRESULT|STATUS:-5|EXTEN:|CALLERID:|MSG:locked after too many failed logins; retry in 59 s"
        assert (await attempt("bad")).startswith("LOGINRESULT|STATUS:-5|")
        # other IDs are not locked
        c3 = await logged_in(emu, USERS[2])
        await assert_alive(emu, other, USERS[1])
        now[0] += 59.5
        assert (await attempt("secret-0321")).startswith("LOGINRESULT|STATUS:1|EXTEN:3321|")
        # failures spread beyond the window never lock
        for _ in range(3):
            for _ in range(4):
                assert (await attempt("bad")).startswith("LOGINRESULT|STATUS:-2|")
            now[0] += 61
        assert (await attempt("secret-0321")).startswith("LOGINRESULT|STATUS:1|")
        await other.close()
        await c3.close()


async def test_duplicate_login_sends_bye_to_the_older_connection():
    async with emulator() as emu:
        first = await logged_in(emu, USERS[0], cipher="basic")
        other = await logged_in(emu, USERS[1])
        second = await logged_in(emu, USERS[0], cipher="seed")
        assert await first.recv() == "BYE|REASON:duplicate login"
        assert first.frames[-1].type == TEXT_BASIC
        await first.wait_closed()
        assert [s.cipher for s in emu.sessions() if s.exten == "3321"] == ["seed"]
        await assert_alive(emu, second, USERS[0])
        assert "ETCEVENT|TAG:still-here" not in first.received
        await assert_alive(emu, other, USERS[1])
        await second.close()
        await other.close()


# -- commands ---------------------------------------------------------------------------

@pytest.mark.parametrize("cipher", ["none", "basic", "seed"])
async def test_commands_before_login(cipher):
    async with emulator() as emu:
        other = await logged_in(emu, USERS[1])
        async with RawClient.connect(HOST, emu.port, cipher=cipher) as c:
            await c.send("CMD CLICKCALL AGENT=3321 EXTEN=01012345678 CID= CONTEXT=")
            assert await c.recv() == "CMDERROR|CMD:CLICKCALL|MSG:not logged in"
            assert c.frames[-1].type == TYPE_OF[cipher]
            await c.send("CMD|HANGUP|SIP/3321-09b4afc0")
            assert await c.recv() == "CMDERROR|CMD:HANGUP|MSG:not logged in"
            await c.send("CMD PONG")  # accepted silently, before and after login
            await c.send("CMD|PONG")
            await assert_silent(c)
            assert (await c.login("07012340321", "secret-0321")).startswith("LOGINRESULT|STATUS:1|")
            await c.send("CMD|PONG")
            await assert_silent(c)
            await assert_alive(emu, c, USERS[0])
        await assert_alive(emu, other, USERS[1])
        await other.close()


MALFORMED = [
    ("HELLO", "CMDERROR|CMD:HELLO|MSG:not a command (expected CMD <NAME> ARG=VALUE... or the pipe form): 'HELLO'"),
    ("CMD", "CMDERROR|CMD:?|MSG:missing command name"),
    ("CMD clickcall AGENT=3321", "CMDERROR|CMD:?|MSG:bad command name 'clickcall' (expected upper-case ASCII)"),
    ("CMD|hangup|x", "CMDERROR|CMD:?|MSG:bad command name 'hangup' (expected upper-case ASCII)"),
    ("CMD CLICKCALL AGENT=3321  EXTEN=1",
     "CMDERROR|CMD:CLICKCALL|MSG:empty word at offset 25 (words are separated by one space)"),
    ("CMD CLICKCALL AGENT", "CMDERROR|CMD:CLICKCALL|MSG:word 'AGENT' is not ARG=VALUE"),
    ("CMD HOLD AGENT=1 AGENT=2", "CMDERROR|CMD:HOLD|MSG:argument AGENT given twice"),
    ("CMD HOLD AGENT=1\nCMD HOLD", "CMDERROR|CMD:HOLD|MSG:value of AGENT contains a pipe, CR or LF"),
]


@pytest.mark.parametrize("text, answer", MALFORMED)
async def test_malformed_commands_get_cmderror_and_the_session_goes_on(text, answer):
    async with emulator() as emu:
        c = await logged_in(emu, USERS[0], cipher="seed")
        other = await logged_in(emu, USERS[1], cipher="basic")
        await c.send(text)
        assert await c.recv() == answer
        await assert_alive(emu, c, USERS[0])
        await assert_alive(emu, other, USERS[1])
        await c.close()
        await other.close()


@pytest.mark.parametrize("text", ["CMD NOSUCHCOMMAND AGENT=3321", "CMD|NOSUCHCOMMAND|3321"])
async def test_unknown_commands_get_cmderror_from_the_pbx(text):
    async with emulator() as emu:
        c = await logged_in(emu, USERS[0])
        other = await logged_in(emu, USERS[1])
        await c.send(text)
        answer = await c.recv()
        assert answer.startswith("CMDERROR|CMD:NOSUCHCOMMAND|MSG:") and len(answer) > len("CMDERROR|CMD:NOSUCHCOMMAND|MSG:")
        await assert_alive(emu, c, USERS[0])
        await assert_alive(emu, other, USERS[1])
        await c.close()
        await other.close()


async def test_commands_reach_the_pbx_which_sees_who_is_online():
    async with emulator() as emu:
        c = await logged_in(emu, USERS[0], cipher="basic")
        other = await logged_in(emu, USERS[1], cipher="none")
        await c.send("CMD GETPEERINFO AGENT=3321 PEERS=3322,3700")
        assert await c.recv() == "CMDRESULT|CMD:GETPEERINFO|3322:OK:CONN|3700:NOT:NOT"
        assert c.frames[-1].type == TEXT_BASIC
        # a call between the two: each session gets the events of its own extension
        emu.pbx.phone_dial("3322", "3321")
        ring_in, ring_out = await c.expect("RINGEVENT"), await other.expect("RINGEVENT")
        assert ring_in.startswith("RINGEVENT|ISDIAL:0|") and "|AGENT:3321|CALLERID:3322|" in ring_in
        assert ring_out.startswith("RINGEVENT|ISDIAL:1|") and "|AGENT:3322|CALLERID:3321|" in ring_out
        await other.close()
        await c.send("CMD|GETPEERINFO")  # the PBX's own answer to a malformed use
        assert (await c.recv()).startswith("CMDERROR|CMD:GETPEERINFO|MSG:")
        await c.send("CMD GETPEERINFO AGENT=3321 PEERS=3322")
        assert await c.recv() == "CMDRESULT|CMD:GETPEERINFO|3322:OK:NOT"
        await c.close()


async def test_a_failing_pbx_command_is_answered_and_logged(caplog, monkeypatch):
    async with emulator() as emu:
        c = await logged_in(emu, USERS[0])

        def broken(*args):
            raise RuntimeError("boom")

        monkeypatch.setattr(emu.pbx, "command", broken)
        await c.send("CMD HOLD AGENT=3321 CHANNEL=x")
        assert await c.recv() == "CMDERROR|CMD:HOLD|MSG:internal error (RuntimeError)"
        assert "command HOLD failed" in caplog.text and "boom" in caplog.text
        await assert_alive(emu, c, USERS[0])
        await c.close()


# -- bad frames -------------------------------------------------------------------------

async def test_unknown_frame_types_and_stray_acks_are_answered_and_survived():
    async with emulator() as emu:
        c = await logged_in(emu, USERS[0], cipher="seed")
        other = await logged_in(emu, USERS[1])
        await c.send_frame(encode_frame(0x0042, b"whatever") + encode_frame(0xFFFF, b"") + encode_frame(HEARTBEAT_ACK, b"x"))
        assert await c.recv() == "CMDERROR|CMD:FRAME|MSG:unknown frame type 0x0042"
        assert await c.recv() == "CMDERROR|CMD:FRAME|MSG:unknown frame type 0xffff"
        assert await c.recv() == ("CMDERROR|CMD:FRAME|MSG:unexpected frame type 0x0011 "
                                  "(HEARTBEAT_ACK is sent by servers only)")
        assert c.frames[-1].type == TEXT_SEED
        await assert_alive(emu, c, USERS[0])
        await assert_alive(emu, other, USERS[1])
        await c.close()
        await other.close()


async def test_garbage_text_frames_get_cmderror():
    async with emulator() as emu:
        c = await logged_in(emu, USERS[0], cipher="none")
        other = await logged_in(emu, USERS[1])
        junk = bytes(range(256))
        await c.send_frame(encode_frame(TEXT, junk) + encode_frame(TEXT, b"") + encode_frame(TEXT, b"\xb0\xa1|CMD"))
        for _ in range(3):
            answer = await c.recv()
            assert answer.startswith("CMDERROR|CMD:?|MSG:not a command"), answer
            assert "\n" not in answer and answer.count("|") == 2
        await assert_alive(emu, c, USERS[0])
        await assert_alive(emu, other, USERS[1])
        await c.close()
        await other.close()


async def test_garbage_bytes_one_at_a_time_before_a_valid_frame():
    async with emulator() as emu:
        async with RawClient.connect(HOST, emu.port, cipher="basic") as c:
            data = encode_frame(0x7777, b"\x00" * 10) + lgucore.TextCodec("basic").encode(b"CMD|PING")
            for i in range(len(data)):
                await c.send_frame(data[i : i + 1])
            assert await c.recv() == "CMDERROR|CMD:FRAME|MSG:unknown frame type 0x7777"
            assert await c.recv() == "CMDERROR|CMD:PING|MSG:not logged in"


async def test_oversized_length_closes_the_connection(caplog):
    caplog.set_level(logging.INFO, logger="lguapi.server")
    async with emulator(max_body=1024) as emu:
        c = await logged_in(emu, USERS[0], cipher="seed")
        other = await logged_in(emu, USERS[1])
        # a heartbeat in the same write is still answered, then the claim of 1025 bytes ends it
        await c.send_frame(encode_frame(0x10, b"before") + struct.pack(">HH", TEXT_SEED, 1025) + b"x" * 100)
        assert await c.recv_ack() == b"before"
        answer = await c.recv()
        assert answer.startswith("CMDERROR|CMD:FRAME|MSG:frame claims a 1025-byte body, over the 1024-byte limit")
        assert answer.endswith("; closing the connection")
        await c.wait_closed()
        assert "frame claims a 1025-byte body" in caplog.text
        await assert_alive(emu, other, USERS[1])
        assert [s.exten for s in emu.sessions()] == ["3322"]
        await other.close()


async def test_oversized_length_little_endian():
    async with emulator(max_body=100, byteorder="little") as emu:
        async with RawClient.connect(HOST, emu.port, cipher="none", byteorder="little") as c:
            await c.send_frame(struct.pack("<HH", TEXT, 101))
            assert (await c.recv()).startswith("CMDERROR|CMD:FRAME|MSG:frame claims a 101-byte body")
            await c.wait_closed()


@pytest.mark.parametrize("cipher", ["basic", "seed"])
async def test_undecodable_frames_close_after_five_in_a_row(cipher):
    bad = {"basic": b"!!not base64!!", "seed": lgucore.b64encode2(b"\x00" * 20)}[cipher]
    async with emulator() as emu:
        c = await logged_in(emu, USERS[0], cipher=cipher)
        other = await logged_in(emu, USERS[1])
        name = {"basic": "TEXT_BASIC", "seed": "TEXT_SEED"}[cipher]
        # four bad, one good, four bad: never five in a row
        for round_ in range(2):
            for i in range(1, 5):
                await c.send_frame(encode_frame(TYPE_OF[cipher], bad))
                answer = await c.recv()
                assert answer.startswith(f"CMDERROR|CMD:FRAME|MSG:undecodable {name} frame ({i} of 5): "), answer
                assert not answer.endswith("closing the connection")
            if round_ == 0:
                await c.send("CMD|PONG")
        await c.send_frame(encode_frame(TYPE_OF[cipher], bad))
        answer = await c.recv()
        assert answer.startswith(f"CMDERROR|CMD:FRAME|MSG:undecodable {name} frame (5 of 5): ")
        assert answer.endswith("; closing the connection")
        await c.wait_closed()
        await assert_alive(emu, other, USERS[1])
        await other.close()


async def test_undecodable_frame_before_login_is_answered_in_its_cipher():
    async with emulator() as emu:
        async with RawClient.connect(HOST, emu.port, cipher="seed") as c:
            await c.send_frame(encode_frame(TEXT_SEED, b"AAAA"))
            assert (await c.recv()).startswith("CMDERROR|CMD:FRAME|MSG:undecodable TEXT_SEED frame (1 of 5)")
            assert c.frames[-1].type == TEXT_SEED


# -- idle and slow readers --------------------------------------------------------------

async def test_idle_connection_is_pinged_then_closed():
    async with emulator(idle_timeout=0.6) as emu:
        quiet = await logged_in(emu, USERS[0], auto_pong=False)
        answering = await logged_in(emu, USERS[1])  # answers PING with CMD|PONG: stays
        beating = await logged_in(emu, USERS[2])
        anonymous = await RawClient.connect(HOST, emu.port)
        assert await quiet.recv(timeout=5) == "PING"
        for i in range(8):
            await beating.heartbeat(b"%d" % i)
            assert await beating.recv_ack() == b"%d" % i
            await asyncio.sleep(0.15)
        await quiet.wait_closed()
        await anonymous.wait_closed()
        assert "PING" in answering.received
        assert "PING" not in anonymous.received
        assert not answering.closed and not beating.closed
        await assert_alive(emu, answering, USERS[1])
        await assert_alive(emu, beating, USERS[2])
        for c in (answering, beating):
            await c.close()


async def test_slow_reader_is_closed_and_others_keep_working(caplog):
    caplog.set_level(logging.INFO, logger="lguapi.server")
    async with emulator(max_send_buffer=64 << 10) as emu:
        slow = await logged_in(emu, USERS[0], cipher="none")
        ok = await logged_in(emu, USERS[1], cipher="seed")
        slow.pause_reading()
        event = "ETCEVENT|DATA:" + "x" * 1000
        sent = 0
        for _ in range(20000):  # at most ~400 MB; loopback buffers hold a few MB at most
            for _ in range(20):  # 20 kB per loop iteration: under the bound in one go
                emu.deliver("3321", event)
            sent += 20
            emu.deliver("3322", f"TICK|N:{sent}")
            assert await ok.expect("TICK", timeout=5) == f"TICK|N:{sent}"
            if not emu.online("3321"):
                break
        assert not emu.online("3321"), "the slow reader was never closed"
        assert "the client does not read" in caplog.text
        slow.resume_reading()
        await slow.wait_closed(timeout=10)
        got = [t for t in slow.received if t == event]
        assert 0 < len(got) < sent  # it was closed, not fed silently thinned events
        await assert_alive(emu, ok, USERS[1])
        await ok.close()


async def test_send_text_too_long_is_a_clear_error():
    async with emulator() as emu:
        c = await logged_in(emu, USERS[0], cipher="seed")
        (s,) = emu.sessions()
        with pytest.raises(lgucore.FrameError):
            s.send_text("X" * 70_000)
        s.send_raw(encode_frame(TEXT, b"RAW|A:1") + encode_frame(TEXT, b"RAW|A:2"))
        assert await c.recv() == "RAW|A:1"
        assert await c.recv() == "RAW|A:2"
        s.close("test")
        await c.wait_closed()
        s.send_text("AFTER|CLOSE:1")  # no error, nowhere to go
        await c.close()


# -- TLS ----------------------------------------------------------------------------------

def _self_signed(tmp_path):
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lguapi-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


async def test_tls(tmp_path):
    server_ctx, client_ctx = _self_signed(tmp_path)
    async with emulator(ssl=server_ctx) as emu:
        c = await logged_in(emu, USERS[0], cipher="seed", ssl=client_ctx, server_hostname=HOST)
        plain = await logged_in(emu, USERS[1], cipher="seed", ssl=client_ctx, server_hostname=HOST)
        await assert_alive(emu, c, USERS[0])
        await c.send("CMD ?")
        assert (await c.recv()).startswith("CMDERROR|CMD:?|")
        await assert_alive(emu, plain, USERS[1])
        await c.close()
        await plain.close()
        # a client speaking plain TCP to the TLS port gets nowhere, and breaks nothing
        async with RawClient.connect(HOST, emu.port) as raw:
            await raw.send("CMD LOGIN ID=07012340321 PWD=secret-0321 ")
            with pytest.raises((ConnectionError, TimeoutError, lgucore.ProtocolError)):
                await raw.recv(timeout=2)
