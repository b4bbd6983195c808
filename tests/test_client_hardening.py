"""Client hardening, seven defects found by review: each reproduced against the scriptable fault server (tests/kit/faultserver.py).

Every scenario runs over real TCP on 127.0.0.1; waits are on conditions (events, futures,
connection counts) with generous timeouts, never on a fixed sleep where a condition exists.
"""
from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import given, settings, strategies as st

from kit.clients import Recorder, creds
from kit.faultserver import FaultConn, FaultServer, HostileOam, answer_for
from lgucore import TextCodec, encode_frame
from lguapi import Disconnected, Reconciled, Reconnected, Reconnecting
from lguapi.events import CommandResultEvent, Event
from lguapi import commands as C
from lguapi._log import mask_number, mask_text, set_masking
from lguapi.client import Client
from lguapi.discovery import discover
from lguapi.errors import CommandTimeout, DiscoveryError, ResultTooLarge


async def _serve(conn: FaultConn) -> None:
    await conn.login()
    await conn.serve()


def _client(srv, **kw) -> tuple[Client, Recorder]:
    kw.setdefault("heartbeat", 0)
    kw.setdefault("auto_reconnect", 0)
    kw.setdefault("command_timeout", 5.0)
    client = Client("127.0.0.1", srv.port, **kw)
    return client, Recorder(client)


# --- 1. liveness counts complete frames ----------------------------------------------


async def test_a_server_trickling_bytes_is_declared_dead_and_left():
    async def trickle(conn: FaultConn) -> None:
        await conn.login()
        conn.ack_heartbeats = False
        # a frame that claims 65535 bytes, one byte every 50 ms: never a complete frame
        await conn.trickle(b"\x00\x03\xff\xff" + b"A" * 600, 0.05)

    async with FaultServer(trickle, _serve) as srv:
        client, rec = _client(srv, heartbeat=0.2, auto_reconnect=0.1)
        await client.login(*creds("3001"))
        gone = await rec.wait_for(Disconnected, timeout=15)  # dead after 2 x 0.2 + 5 s without a frame
        assert gone.reason.startswith("dead: nothing received (no complete frame)") and gone.will_reconnect
        assert srv.conns[0].bytes_sent > 60  # it was trickling all along
        await rec.wait_for(Reconciled, timeout=10)
        assert client.is_logged_in and len(srv.conns) == 2
        await client.close()


async def test_undecodable_frames_alone_do_not_keep_a_connection_alive():
    async def garbage(conn: FaultConn) -> None:
        await conn.login()
        conn.ack_heartbeats = False
        bad = encode_frame(0x0003, b"not base64 at all!")
        for _ in range(600):  # complete frames, but none the client can use
            if conn.closed.is_set():
                return
            conn.send_raw(bad)
            await asyncio.sleep(0.05)

    async with FaultServer(garbage, _serve) as srv:
        client, rec = _client(srv, heartbeat=0.2, auto_reconnect=0.1)
        await client.login(*creds("3001"))
        gone = await rec.wait_for(Disconnected, timeout=15)
        assert gone.reason.startswith("dead: nothing received (no complete frame)") and gone.will_reconnect
        assert client.stats.bad_frames > 20
        await rec.wait_for(Reconciled, timeout=10)
        await client.close()


async def test_a_frame_cut_in_the_middle_ends_in_disconnected_and_a_reconnect():
    async def cut(conn: FaultConn) -> None:
        await conn.login()
        conn.cut("RINGEVENT|ISDIAL:0|CHANNEL:SIP/3001-0000aaaa|RECHANNEL:SIP/3002-0000bbbb")

    async with FaultServer(cut, _serve) as srv:
        client, rec = _client(srv, heartbeat=1.0, auto_reconnect=0.05)
        await client.login(*creds("3001"))
        gone = await rec.wait_for(Disconnected, timeout=10)
        assert "partial frame" in gone.reason and gone.will_reconnect
        await rec.wait_for(Reconciled, timeout=10)
        assert client.is_logged_in and client.callback_errors == 0
        await client.close()


# --- 2. a timed-out request never consumes a later answer ----------------------------


async def test_one_dropped_answer_does_not_poison_the_command():
    async def drop_first(conn: FaultConn) -> None:
        await conn.login()
        await conn.serve({"GETVARINFO": ["drop"]})

    async with FaultServer(drop_first) as srv:
        client, _ = _client(srv, command_timeout=0.5)
        await client.login(*creds("3001"))
        with pytest.raises(CommandTimeout):
            await client.get_var_info("lost")
        for i in range(5):  # the server answers every later one: every later one succeeds
            info = await client.get_var_info(f"v{i}")
            assert (info.name, info.value) == (f"v{i}", f"value-of-v{i}")
        await client.close()


async def test_a_late_answer_goes_to_nobody_else():
    """Delay: the answer of a timed-out request arrives while a later one waits, then the later one's."""
    got: asyncio.Queue = asyncio.Queue()

    async def manual(conn: FaultConn) -> None:
        await conn.login()
        while (cmd := await conn.next_command(timeout=60)) is not None:
            got.put_nowait((conn, cmd))

    async with FaultServer(manual) as srv:
        client, _ = _client(srv, command_timeout=2.0)
        await client.login(*creds("3001"))
        first = asyncio.ensure_future(client.get_var_info("early"))
        conn, cmd0 = await got.get()
        with pytest.raises(CommandTimeout):
            await first
        second = asyncio.ensure_future(client.get_var_info("later"))
        _, cmd1 = await got.get()
        conn.answer(answer_for(cmd0) + answer_for(cmd1))  # the late answer first, then the right one
        info = await second
        assert (info.name, info.value) == ("later", "value-of-later")
        assert client.stats.unmatched_answers == 1
        # a late answer with nobody waiting is only an event; the next request is unaffected
        third = asyncio.ensure_future(client.get_var_info("third"))
        _, cmd2 = await got.get()
        conn.answer(answer_for(cmd2))
        assert (await third).name == "third"
        await client.close()


async def test_reordered_duplicated_and_dropped_answers():
    async def chaos(conn: FaultConn) -> None:
        await conn.login()
        await conn.serve({"GETVARINFO": ["hold", "dup", "drop", "ok", ("delay", 0.05), "ok"],
                          "GETSTATUSPEERS": ["ok", "dup", "ok"]})

    async with FaultServer(chaos) as srv:
        client, _ = _client(srv, command_timeout=2.0)
        await client.login(*creds("3001"))
        # reorder: the held GETVARINFO answer goes out after the GETSTATUSPEERS answer
        a, b = await asyncio.gather(client.get_var_info("a"), client.get_status_peers("3002"))
        assert a.name == "a" and b[0].peer == "3002"
        # duplicate: both requests in flight; the second copy of b's answer never reaches c
        b2, c = await asyncio.gather(client.get_var_info("b"), client.get_var_info("c"),
                                     return_exceptions=True)
        assert b2.name == "b" and isinstance(c, CommandTimeout)  # c's answer was dropped
        for name in ("d", "e", "f"):
            assert (await client.get_var_info(name)).name == name
        assert [p.peer for p in await client.get_status_peers("3003")] == ["3003"]
        assert [p.peer for p in await client.get_status_peers("3004")] == ["3004"]
        assert client.stats.unmatched_answers >= 2
        await client.close()


# --- 3. a split result that never ends ----------------------------------------------


@pytest.mark.parametrize("bound, row, message", [
    ({"max_result_rows": 500}, "t^3001^3002^1^f.wav", "500 rows"),
    ({"max_result_bytes": 100_000}, "x" * 1000, "100000 bytes"),
])
async def test_an_endless_split_result_is_cut_at_its_bound_and_freed(bound, row, message):
    stop = asyncio.Event()
    sent: list[int] = []

    async def endless(conn: FaultConn) -> None:
        await conn.login()
        cmd = await conn.next_command()
        assert cmd is not None and cmd.name == "GETRECORDLIST"
        sent.append(await conn.endless_result("GETRECORDLIST", row, max_frames=50_000, stop=stop))
        await conn.serve()

    async with FaultServer(endless) as srv:
        client, _ = _client(srv, **bound)
        await client.login(*creds("3001"))
        with pytest.raises(ResultTooLarge, match=message):
            await client.get_record_list()
        stop.set()
        assert client.stats.oversized_results == 1
        # the rest of the endless result is discarded, never stored; the session goes on
        assert [p.peer for p in await client.get_status_peers("3002")] == ["3002"]
        assert client.stats.pending_result_bytes == 0
        await client.close()
    assert sent and sent[0] > 100


async def test_a_split_result_cut_by_its_timeout_frees_everything():
    go_on = asyncio.Event()

    async def slow(conn: FaultConn) -> None:
        await conn.login()
        await conn.next_command()
        await conn.endless_result("GETRECORDLIST", "y" * 500, max_frames=200)
        await go_on.wait()  # the result does not end within the timeout
        await conn.endless_result("GETRECORDLIST", "y" * 500, max_frames=200)
        conn.answer(["CMDRESULT|CMD:GETRECORDLIST|RES:last", "CMDRESULTEND|CMD:GETRECORDLIST"])
        await conn.serve()

    async with FaultServer(slow) as srv:
        client, rec = _client(srv, command_timeout=3.0)
        await client.login(*creds("3001"))
        pending = asyncio.ensure_future(client.get_record_list())
        await rec.wait_for(CommandResultEvent, lambda e: True, after=0)
        while len(rec.of(CommandResultEvent)) < 200:  # every piece sent so far has arrived
            await rec.wait_for(CommandResultEvent, after=len(rec.events))
        assert client.stats.pending_result_bytes > 100_000
        with pytest.raises(CommandTimeout):
            await pending
        assert client.stats.pending_result_bytes == 0  # nothing kept after the timeout
        go_on.set()
        # the rest of that result is swallowed; the next request gets its own, whole answer
        rows = await client.get_record_list()
        assert [r.time for r in rows] == ["row-1"]
        assert client.stats.discarded_pieces >= 202
        await client.close()


async def test_a_first_piece_over_the_bound_still_discards_the_rest():
    async def big_first(conn: FaultConn) -> None:
        await conn.login()
        await conn.next_command()
        conn.answer(["CMDRESULT|CMD:GETRECORDLIST|RES:a\nb\nc\n", "CMDRESULT|CMD:GETRECORDLIST|RES:d",
                     "CMDRESULTEND|CMD:GETRECORDLIST"])
        await conn.serve()

    async with FaultServer(big_first) as srv:
        client, _ = _client(srv, max_result_rows=2)
        await client.login(*creds("3001"))
        first, second = await asyncio.gather(client.get_record_list(), client.get_record_list(),
                                             return_exceptions=True)
        assert isinstance(first, ResultTooLarge)
        assert [r.time for r in second] == ["row-1"]  # its own answer, not the tail of the first
        assert client.stats.discarded_pieces == 2
        await client.close()


def test_result_bounds_are_checked():
    with pytest.raises(ValueError, match="max_result_rows"):
        Client("127.0.0.1", max_result_rows=0)
    with pytest.raises(ValueError, match="max_result_bytes"):
        Client("127.0.0.1", max_result_bytes=-1)


# --- 4. hostile OAM answers ----------------------------------------------------------


def _chunked(size_line: bytes):
    async def respond(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size_line)
        await writer.drain()

    return respond


@pytest.mark.parametrize("size_line, message", [
    (b"ffffffff\r\n", "chunk of 4294967295 bytes"),
    (b"-5\r\n", "bad chunk size"),
    (b"0x10\r\n", "bad chunk size"),
    (b"1_0\r\n", "bad chunk size"),
    (b"zz\r\n", "bad chunk size"),
    (b"1" * 100 + b"\r\n", "bad chunk size"),
    (b"1" * 70_000 + b"\r\n", "bad chunk size"),
])
async def test_hostile_chunk_sizes_raise_discovery_error_at_once(size_line, message):
    async with HostileOam(_chunked(size_line)) as oam:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(DiscoveryError, match=message):
            await discover(oam.address, "07012343001", timeout=20)
        assert loop.time() - t0 < 10  # at once, not at the timeout


async def test_chunks_over_the_answer_limit_are_refused_before_reading():
    async def many(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            writer.write(b"4000\r\n" + b"a" * 0x4000 + b"\r\n")
        writer.write(b"2000\r\n")  # 3 x 16 KiB + 8 KiB > the 50,000-byte limit below
        await writer.drain()

    async with HostileOam(many) as oam:
        with pytest.raises(DiscoveryError, match="longer than 50000 bytes"):
            await discover(oam.address, "07012343001", timeout=20, max_answer=50_000)


@pytest.mark.parametrize("headers", [b"Content-Length: \xb2\r\n", b"Content-Length: -1\r\n",
                                     b"Content-Length: 99999999999\r\n"])
async def test_hostile_content_length_raises_discovery_error(headers):
    async def respond(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n" + headers + b"\r\nSERVERINFO|ADDR:1.2.3.4:8086")
        await writer.drain()

    async with HostileOam(respond) as oam:
        with pytest.raises(DiscoveryError, match="Content-Length"):
            await discover(oam.address, "07012343001", timeout=20)


def test_discover_bound_is_checked():
    with pytest.raises(ValueError, match="max_answer"):
        asyncio.run(discover("http://127.0.0.1:1", "x", max_answer=0))


# --- 5. bad frames: warnings rate-limited and counted --------------------------------


async def test_a_flood_of_bad_frames_logs_a_few_warnings_and_counts_all(caplog):
    caplog.set_level(logging.WARNING, "lguapi.client")
    flooded = asyncio.Event()

    async def flood(conn: FaultConn) -> None:
        await conn.login()
        bad_seed = encode_frame(0x0003, b"not base64 at all!")
        unknown = encode_frame(0x0042, b"?")
        await conn.flood([bad_seed, unknown] * 500)
        conn.send("CMDRESULT|CMD:GETVARINFO|NAME:after|VALUE:1")
        flooded.set()
        await conn.serve()

    async with FaultServer(flood) as srv:
        client, rec = _client(srv)
        await client.login(*creds("3001"))
        await asyncio.wait_for(flooded.wait(), 20)
        await rec.wait_for(Event, lambda e: "after" in e.raw, timeout=20)
        lines = [r for r in caplog.records if "frame" in r.getMessage()]
        assert 1 <= len(lines) <= 10, len(lines)
        st = client.stats
        assert st.bad_frames == 1000
        assert st.warnings_suppressed >= 990
        assert client.is_logged_in  # bad frames alone do not end the session
        await client.close()


# --- 6. BYE during the reconciliation after a reconnect ------------------------------


async def test_bye_during_reconciliation_stops_every_reconnect():
    async def drop_after_login(conn: FaultConn) -> None:
        await conn.login()
        conn.close()

    async def bye_on_reconcile(conn: FaultConn) -> None:
        await conn.login()
        cmd = await conn.next_command()
        assert cmd is not None and cmd.name == "GETSTATUSPEERS"
        conn.bye("duplicate login")

    async with FaultServer(drop_after_login, bye_on_reconcile, _serve) as srv:
        client, rec = _client(srv, heartbeat=1.0, auto_reconnect=0.05)
        await client.login(*creds("3001"))
        await rec.wait_for(Reconnected, timeout=10)
        gone = await rec.wait_for(Disconnected, lambda e: "BYE" in e.reason, timeout=10)
        assert not gone.will_reconnect
        with pytest.raises(asyncio.TimeoutError):  # twenty reconnect intervals: nobody comes back
            await srv.wait_connections(3, timeout=1.0)
        assert rec.of(Reconciled) == [] and not client.is_connected
        n = len(rec.of(Reconnecting))
        await client.close()
        assert len(rec.of(Reconnecting)) == n


async def test_bye_while_logging_in_again_stops_the_reconnect():
    async def drop_after_login(conn: FaultConn) -> None:
        await conn.login()
        conn.close()

    async def bye_instead_of_loginresult(conn: FaultConn) -> None:
        await conn.next_command()
        conn.bye("duplicate login")

    async with FaultServer(drop_after_login, bye_instead_of_loginresult, _serve) as srv:
        client, rec = _client(srv, heartbeat=1.0, auto_reconnect=0.05, backups=[("127.0.0.1", 1)])
        await client.login(*creds("3001"))
        await rec.wait_for(Disconnected, lambda e: "BYE" in e.reason, timeout=10)
        with pytest.raises(asyncio.TimeoutError):
            await srv.wait_connections(3, timeout=1.0)
        assert [e.address for e in rec.of(Reconnecting)] == [f"127.0.0.1:{srv.port}"]  # no backup tried
        await client.close()


# --- 7. masking of phone numbers in every usual shape ---------------------------------


@pytest.mark.parametrize("text, masked", [
    ("01012345678", "010****5678"),
    ("010-1234-5678", "010-****-5678"),
    ("010 1234 5678", "010 **** 5678"),
    ("010.1234.5678", "010.****.5678"),
    ("+82 10-1234-5678", "+82 10-****-5678"),
    ("+82-10-1234-5678", "+82-10-****-5678"),
    ("+82 10 1234 5678", "+82 10 **** 5678"),
    ("+821012345678", "+8210****5678"),
    ("02-123-4567", "02-***-4567"),
    ("031-123-4567", "031-***-4567"),
    ("(02) 1234-5678", "(02) ****-5678"),
    ("070-1234-3001", "070-****-3001"),
    ("0212345678", "021***5678"),
])
def test_numbers_are_masked_in_every_shape(text, masked):
    set_masking(True)
    assert mask_text(f"call from {text} now") == f"call from {masked} now"
    assert mask_text(f"FROM:{text}|TO:{text}") == f"FROM:{masked}|TO:{masked}"
    assert mask_text(f"PEERS={text},{text}") == f"PEERS={masked},{masked}"
    assert mask_text(f"번호{text}입니다") == f"번호{masked}입니다"  # glued to Korean text
    assert mask_number(text) == masked


_PREFIXES = ["010", "011", "016", "019", "070", "02", "031", "051", "064"]


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from(_PREFIXES), middle=st.integers(0, 9999), last=st.integers(0, 9999),
       four=st.booleans(), sep=st.sampled_from(["", "-", " ", "."]), plus=st.booleans())
def test_no_written_number_leaks_its_middle_digits(prefix, middle, last, four, sep, plus):
    set_masking(True)
    mid = f"{middle:04d}" if four else f"{middle % 1000:03d}"
    head = f"+82{sep or ''}{prefix[1:]}" if plus else prefix
    number = f"{head}{sep}{mid}{sep}{last:04d}"
    masked = mask_text(f"RECVSMS|FROM:{number}|MESSAGE:hi")
    shown = masked.split("FROM:", 1)[1].split("|", 1)[0]
    digits = sum(c.isdigit() for c in number)
    # the documented head: the written prefix group; written without separators, 3 digits (4 after +)
    head = (len(prefix) + plus) if sep else (4 if plus else 3)
    assert shown.endswith(f"{last:04d}") and shown.count("*") == digits - head - 4, (number, shown)
    assert shown.count("*") >= len(mid) - 1  # at most one middle digit shows (compact 02 numbers)
    assert mask_number(number) == shown


@settings(max_examples=300, deadline=None)
@given(epoch=st.integers(1_000_000_000, 1_999_999_999), seq=st.integers(0, 99_999),
       when=st.datetimes(), sep=st.sampled_from([".", ","]))
def test_unique_ids_and_times_are_never_masked(epoch, seq, when, sep):
    set_masking(True)
    text = (f"CHANNELOUT|UNIQUEID:{epoch}{sep}{seq}|TS:{when:%Y%m%d%H%M%S}|AT:{when:%Y-%m-%d %H:%M:%S}"
            f"|CHANNEL:SIP/3321-{seq:08d}")
    assert mask_text(text) == text


@pytest.mark.parametrize("text", [
    "2024-01-31 12:34:56", "20240131123456", "UNIQUEID:1712345678.1234", "UNIQUEID:1712345678,1234",
    "SIP/3321-09b4afc0", "SIP/3321-09123456", "Local/3458@xfercontext-1b56;2", "10.0.0.1:8086",
    "DURATION:0|BILLSEC:12", "EXTEN:101t4004", "RES:2026120509", "2024.01.31", "seq 0 1234 5678x",
    "Dial(SIP/070xxxx3023@210.182.171.16|90|)", "1588-1234", "v1.0.1.21",
])
def test_timestamps_ids_and_channels_stay_readable(text):
    set_masking(True)
    assert mask_text(text) == text


async def test_numbers_in_received_texts_are_masked_in_debug_logs(caplog):
    caplog.set_level(logging.DEBUG, "lguapi.client")

    async def ring(conn: FaultConn) -> None:
        await conn.login()
        conn.send("RECVSMS|FROM:+82 10-1234-5678|MESSAGE:call 010.9876.5432|SMSTO:070 1234 3001")
        await conn.serve()

    async with FaultServer(ring) as srv:
        client, rec = _client(srv)
        await client.login(*creds("3001"))
        sms = await rec.wait_for(Event, lambda e: e.name == "RECVSMS")
        assert "1234-5678" in sms.raw  # full in the data the user asked for
        await client.send(C.send_sms("3001", "010-5555-6666", "hi"))
        await client.close()
    text = caplog.text
    for whole in ("1234-5678", "9876.5432", "1234 3001", "5555", "5555-6666"):
        assert whole not in text
    assert "+82 10-****-5678" in text and "010.****.5432" in text
