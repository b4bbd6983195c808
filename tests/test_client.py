"""lguapi.Client against the emulator over real TCP: every behaviour once, in the default cipher (SEED).

The per cipher x byte order smoke of every method is in test_client_matrix.py; faults in
test_client_faults.py; backpressure in test_client_overflow.py; OAM in test_client_oam.py.
"""
from __future__ import annotations

import asyncio
import logging

import pytest

import lguapi
from kit.clients import Recorder, creds, emulator, logged_in
from kit.wait import until
from lguapi import (
    CdrEvent, ChannelListEvent, ChannelOutEvent, CommandErrorEvent, CommandResultEvent, ConferenceEvent,
    Connected, Disconnected, DtmfEvent, Event, LoggedIn, LoginResultEvent, PeerMessageEvent, PingEvent, RingEvent,
    SmsEvent,
)
from lguapi import results as R
from lguapi.client import Client
from lguapi._log import set_masking
from lguapi.errors import CommandError, CommandTimeout, ConnectionLost, LguapiError, NoCurrentCall
from lguapi.server.tlscert import client_context, server_context, write_self_signed


def call_of(emu, exten: str) -> str:
    return emu.pbx.snapshot()["phones"][exten]["calls"][0]


async def test_login_events_and_attributes(caplog):
    caplog.set_level(logging.DEBUG, "lguapi")
    async with emulator() as emu:
        client = Client("127.0.0.1", emu.port, heartbeat=1)
        rec = Recorder(client)
        uid, pw = creds("3001")
        result = await client.login(uid, pw)
        assert isinstance(result, LoginResultEvent) and result.ok and result.status == 1
        assert result.exten == "3001" and result.exten_number == "3001" and result.caller_id == uid
        assert client.exten == "3001" and client.user_id == uid and client.is_logged_in and client.is_connected
        assert client.login_result is result
        assert rec.names() == ["Connected", "LoginResultEvent", "LoggedIn"]
        assert rec.events[2].result is result and rec.events[2].exten == "3001"
        assert rec.events[0].address == client.address == f"127.0.0.1:{emu.port}"
        assert rec.events[1].raw.startswith("LOGINRESULT|STATUS:1|EXTEN:3001|")
        with pytest.raises(LguapiError, match="already connected"):
            await client.login(uid, pw)
        await client.close()
        # secrets: never in logs or reprs; numbers masked
        assert pw not in caplog.text and pw not in repr(client)
        assert uid not in caplog.text and "070****3001" in caplog.text
        assert "PWD=***" in caplog.text  # the LOGIN text was logged at DEBUG, redacted


async def test_masking_can_be_turned_off(caplog):
    caplog.set_level(logging.INFO, "lguapi.client")
    set_masking(False)
    try:
        async with emulator() as emu:
            client, _ = await logged_in(emu, "3003")
            await client.close()
    finally:
        set_masking(True)
    uid, pw = creds("3003")
    assert uid in caplog.text and pw not in caplog.text


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return write_self_signed(str(tmp_path_factory.mktemp("tls")), hosts=["127.0.0.1"], prefix="srv")


async def test_tls_around_the_tcp_stream(tls_files):
    async with emulator(ssl=server_context(tls_files.cert, tls_files.key)) as emu:
        client, rec = await logged_in(emu, "3001", tls=client_context(tls_files.ca))
        assert (await client.get_peer_info("3001"))["3001"].connected
        await client.close()
        untrusted = Client("127.0.0.1", emu.port, tls=True, heartbeat=0)  # system CAs: refused
        with pytest.raises(ConnectionLost, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await untrusted.login(*creds("3002"))
        await untrusted.close()


async def test_connect_context_manager():
    async with emulator() as emu:
        uid, pw = creds("3002")
        async with lguapi.connect("127.0.0.1", emu.port, user_id=uid, password=pw, heartbeat=0) as client:
            assert client.is_logged_in and client.exten == "3002"
            rec = Recorder(client)
        assert not client.is_connected
        assert [type(e) for e in rec.events] == [Disconnected] and rec.events[0].deliberate
        client2 = await lguapi.connect("127.0.0.1", emu.port, user_id=uid, password=pw, heartbeat=0)
        assert client2.is_logged_in
        await client2.close()
        with pytest.raises(lguapi.LoginError) as ei:
            async with lguapi.connect("127.0.0.1", emu.port, user_id=uid, password="nope", heartbeat=0):
                pass
        assert ei.value.status == -2


async def test_inbound_call_answer_hold_record_dtmf_hangup():
    async with emulator() as emu:
        client, rec = await logged_in(emu, "3001")
        emu.pbx.external_call("01012345678", "3001")
        ring = await rec.wait_for(RingEvent)
        assert ring.is_dial is False and ring.caller_id == "01012345678" and ring.exten == "3001"
        assert ring.agent == "3001" and ring.inbound_number is None  # INEXTEN:null
        assert client.call_state == "ringing"
        assert client.own_channel == ring.channel and client.remote_channel == ring.remote_channel
        cl = await client.answer()
        assert isinstance(cl, ChannelListEvent) and cl.channel1 == ring.remote_channel
        assert client.own_channel == cl.channel2 != ring.channel  # a new channel on answer (§5.2)
        assert client.remote_channel == cl.channel1 and client.call_state == "talking"
        held = await client.hold()
        assert held.cmd == "HOLD" and held.res == "OK"
        with pytest.raises(CommandError, match="HOLD failed: RES:ERR"):
            await client.hold()  # already held
        assert (await client.unhold()).res == "OK"
        assert (await client.start_record()).get("ACT") == "START"
        assert (await client.stop_record()).get("ACT") == "STOP"
        emu.pbx.phone_dtmf("3001", "1#")
        digits = [(await rec.wait_for(DtmfEvent, lambda e: e.digit == d)).digit for d in "1#"]
        assert digits == ["1", "#"]
        out = await client.hangup()
        assert isinstance(out, ChannelOutEvent) and out.channel == cl.channel2 and out.hangup_cause == 16
        assert client.call_state is None and client.own_channel is None
        cdr = await rec.wait_for(CdrEvent)
        assert cdr.disposition and cdr.src == "01012345678"
        # no current call: a clear error, and nothing was sent (no CMDERROR comes back)
        n = len(rec.events)
        for method in (client.hold, client.unhold, client.hangup, client.hangup_dst, client.start_record,
                       client.stop_record, client.answer):
            with pytest.raises(NoCurrentCall, match="no current call"):
                await method()
        with pytest.raises(NoCurrentCall):
            await client.transfer("3002")
        with pytest.raises(ValueError):  # NoCurrentCall is a ValueError too
            await client.redirect_conference("r1")
        await client.get_peer_info("3001")  # a round trip: a CMDERROR would have come before it
        assert not any(isinstance(e, CommandErrorEvent) for e in rec.events[n:])
        await client.close()


async def test_outbound_click2call_and_hangup_dst():
    async with emulator() as emu:
        client, rec = await logged_in(emu, "3001")
        ring = await client.click2call("010-1234-5678")
        assert isinstance(ring, RingEvent) and ring.is_dial and ring.caller_id == "01012345678"
        # ISDIAL:1 (§5.1): CHANNEL is the called party, RECHANNEL the own phone
        assert client.own_channel == ring.remote_channel and client.own_channel.startswith("SIP/3001-")
        assert client.remote_channel == ring.channel and client.call_state == "dialing"
        emu.pbx.external_answer(call_of(emu, "3001"))
        cl = await rec.wait_for(ChannelListEvent)
        assert cl.channel1 == client.own_channel and cl.channel2 == client.remote_channel
        out = await client.hangup_dst()
        assert isinstance(out, ChannelOutEvent)
        await rec.wait_for(ChannelOutEvent, lambda e: e.channel == cl.channel1)
        assert client.call_state is None
        # a dial that fails at once answers with CHANNELOUT (busy/no answer), never hangs
        other, _ = await logged_in(emu, "3002")
        emu.pbx.external_call("01099998888", "3002")
        failed = await client.click2call("3002")
        assert isinstance(failed, ChannelOutEvent) and failed.hangup_cause == 17
        with pytest.raises(CommandError, match="cannot call the own extension"):
            await client.click2call("3001")
        await other.close()
        await client.close()


async def test_internal_call_blind_transfer_and_pickup():
    async with emulator() as emu:
        a, ra = await logged_in(emu, "3001")
        b, rb = await logged_in(emu, "3002")
        c, rc = await logged_in(emu, "3003")
        await a.click2call("3002")
        ring_b = await rb.wait_for(RingEvent)
        assert ring_b.caller_id == "3001" and b.own_channel.startswith("SIP/3002-")
        cl = await b.answer()
        assert b.own_channel == cl.channel2 and a.own_channel == cl.channel1  # §5.3 both sides
        await ra.wait_for(ChannelListEvent)
        assert a.remote_channel == b.own_channel
        out = await b.transfer("3003")
        assert out.channel == cl.channel2 and b.call_state is None
        ring_c = await rc.wait_for(RingEvent)
        assert ring_c.caller_id == "3001"
        assert (await c.answer()).channel1 == a.own_channel
        await c.hangup()
        await ra.wait_for(ChannelOutEvent)
        # directed pickup: 3004 (no client) rings, 3002 picks it up
        emu.pbx.external_call("01011112222", "3004")
        await until(lambda: emu.pbx.phone_state("3004") == "ringing", "3004 ringing")
        picked = await b.pickup("3004")
        assert isinstance(picked, ChannelListEvent) and b.own_channel == picked.channel2
        assert b.own_channel.startswith("SIP/3002-")
        await b.hangup()
        # group pickup (3001..3009 share the generated group "300x")
        emu.pbx.external_call("01011113333", "3005")
        await until(lambda: emu.pbx.phone_state("3005") == "ringing", "3005 ringing")
        assert (await c.pickup()).channel2.startswith("SIP/3003-")
        await c.hangup()
        with pytest.raises(CommandError, match="nothing is ringing"):
            await c.pickup("3006")
        for x in (a, b, c):
            await x.close()


async def test_attended_transfer():
    async with emulator() as emu:
        a, ra = await logged_in(emu, "3001")
        b, rb = await logged_in(emu, "3002")
        c, rc = await logged_in(emu, "3003")
        emu.pbx.external_call("01012345678", "3002")
        await rb.wait_for(RingEvent)
        await b.answer()
        cl = await b.atxfer("3003")
        assert isinstance(cl, ChannelListEvent) and cl.channel2.startswith("Local/3003@xfercontext-")
        assert cl.channel2.endswith(";2")
        ring = await rc.wait_for(RingEvent)
        assert ring.atxfer is not None
        await c.answer()
        await b.hangup()  # completes the transfer: the caller now talks with 3003
        await rc.wait_for(ChannelListEvent, after=0)
        with pytest.warns(DeprecationWarning, match="withdrawn"):
            with pytest.raises(NoCurrentCall):
                await b.atxfer_cid("3001", "07012340101")
        await c.hangup()
        for x in (a, b, c):
            await x.close()


async def test_conferences():
    async with emulator() as emu:
        a, ra = await logged_in(emu, "3001")
        b, rb = await logged_in(emu, "3002")
        c, rc = await logged_in(emu, "3003")
        await a.click2call("3002")
        await rb.wait_for(RingEvent)
        await b.answer()
        await ra.wait_for(ChannelListEvent)
        conf = await a.redirect_conference("r1")
        assert isinstance(conf, ConferenceEvent) and conf.action == "CONFMEMBERADD" and conf.conf_name == "r1"
        assert await a.invite_conference("r1", "3003") is None  # rings 3003; joins when answered
        ring = await rc.wait_for(RingEvent)
        assert ring.caller_id == "3001"
        await c.answer(wait=False)
        joined = await ra.wait_for(ConferenceEvent, lambda e: e.member == "3003")
        assert joined.count == 3
        members = await a.get_conference_members("r1")
        assert {m.member for m in members} == {"3001", "3002", "3003"}
        assert all(isinstance(m, R.ConfMember) and m.channel for m in members)
        gone = await a.remove_conference("r1", [joined.channel])
        assert isinstance(gone, ConferenceEvent) and gone.action == "CONFMEMBERDEL"
        with pytest.warns(DeprecationWarning):
            with pytest.raises(CommandError):
                await c.join_conference("nope")
        with pytest.raises(CommandError, match="no conference"):
            await a.invite_conference("zz", "3003", wait=True)
        # call_with_conference from an idle phone
        d, rd = await logged_in(emu, "3004")
        cw = await d.call_with_conference("r2", ["3005"])
        assert isinstance(cw, ConferenceEvent) and cw.member == "3004" and cw.conf_name == "r2"
        for x in (a, b, c, d):
            await x.close()


async def test_messages_and_sms():
    async with emulator() as emu:
        a, ra = await logged_in(emu, "3001")
        b, rb = await logged_in(emu, "3002")
        res = await a.send_peer_msg(["3002", "3003"], "회의 10분 후 = 3층 A")
        assert res == {"3002": "OK", "3003": "NOT"}
        msg = await rb.wait_for(PeerMessageEvent)
        assert msg.sender == "3001" and msg.message == "회의 10분 후 = 3층 A" and msg.exten == "3002"
        assert (await a.send_peer_msg("ALLDOMAIN", "all@@hands")) == {"ALLDOMAIN": "OK"}
        assert (await rb.wait_for(PeerMessageEvent, lambda e: "all" in e.message)).text == "all\nhands"
        sms = await a.send_sms("010-1234-5678", "hello")
        assert sms == {"01012345678": "sms Send SUCCESS(01012345678)"}
        later = await a.send_sms(["01012345678"], "later", type="1", info="2030-01-02 03:04:05")
        assert "Reserve SUCCESS" in later["01012345678"]
        with pytest.raises(ValueError, match="at most 200"):
            await a.send_sms("01012345678", "x" * 201)
        with pytest.raises(ValueError, match="CR and LF"):
            await a.send_peer_msg("3002", "two\nlines")
        emu.pbx.inbound_sms("01055556666", creds("3001")[0], "문자 왔어요")
        got = await ra.wait_for(SmsEvent)
        assert got.sender == "01055556666" and got.message == "문자 왔어요" and got.to == creds("3001")[0]
        rows = await a.get_recv_sms_list(1)
        assert rows[0].sender == "01055556666" and rows[0].message == "문자 왔어요" and rows[0].timestamp
        assert await a.get_recv_sms_list(2) == []
        await a.close()
        await b.close()


async def test_queries_settings_and_history():
    async with emulator() as emu:
        a, ra = await logged_in(emu, "3001")
        info = await a.get_peer_info("3001,3002,9999")
        assert info["3001"].registered and info["3001"].connected
        assert info["3002"].registered and not info["3002"].connected and not info["9999"].registered
        st = await a.get_status_peers(["3001", "3002"])
        assert st == [R.PeerStatus("3001", "Down", None), R.PeerStatus("3002", "Down", None)]
        fw = await a.set_forward(1, 0, "3003", "2020-01-01 00:00:00", "2099-12-31 23:00:00")
        assert fw.enabled and fw.code == "IFW" and "3003" in fw.detail
        assert (await a.get_var_info("FORWARD")).value == "0:3003"
        assert not (await a.set_forward(0)).enabled
        assert (await a.set_user_info("COLOR", "blue")).res == "OK"
        assert await a.get_var_info("COLOR") == R.VarInfo("COLOR", "blue")
        assert (await a.address_book("0", pname="Kim", tel1="010-2222-3333")).res == "OK"
        assert (await a.address_book("1", keyidx="1", memo="vip")).res == "OK"
        with pytest.raises(CommandError, match="MAGADDRLIST failed: RES:ERR"):
            await a.address_book("2", keyidx="99")
        q = await a.get_queue_status()
        assert [m.member for m in q][:2] == ["3001", "3002"] and q[0].state == "idle" and q[0].calls == 0
        # a few calls for history and recordings
        for n in range(3):
            emu.pbx.external_call(f"0101234000{n}", "3001")
            await ra.wait_for(RingEvent, after=len(ra.events))
            await a.answer()
            if n == 0:
                await a.start_record()
            await a.hangup()
        await a.click2call("3002")
        await a.hangup()
        hist = await a.get_call_history(1, "0")
        assert len(hist) == 3 and all(isinstance(h, R.HistoryRow) for h in hist)
        assert {h.direction for h in hist} == {"inbound"} and hist[0].name is not None and hist[0].timestamp
        assert len(await a.get_call_history(1, "1")) == 1
        assert await a.get_call_history(0, 9) == 5  # the domain's rows: the internal call is one per side
        recs = await a.get_record_list()
        assert len(recs) == 1 and recs[0].exten == "3001" and recs[0].file
        # the pipe form and a raw command text
        assert isinstance(await a.send_sip_command("CMD GETVARINFO AGENT=3001 NAME=EXTEN"), CommandResultEvent)
        with pytest.raises(CommandError, match="FOO failed: unknown command FOO") as ei:
            await a.send_sip_command("CMD|FOO|x")
        assert ei.value.cmd == "FOO"
        await a.close()


async def test_split_results_reassembled():
    async with emulator() as emu:
        a, ra = await logged_in(emu, "3001")
        for n in range(12):
            emu.pbx.external_call(f"010555500{n:02d}", "3001")
            emu.pbx.external_hangup(call_of(emu, "3001"))
        emu.pbx.max_plain = 120  # about one row per CMDRESULT piece
        n0 = len(ra.events)
        rows = await a.get_call_history(1, 0)
        assert len(rows) == 12 and [r.result for r in rows] == ["NO-ANS"] * 12
        pieces = [e for e in ra.events[n0:] if isinstance(e, CommandResultEvent)]
        assert len(pieces) >= 6 and all(p.raw.endswith("\n") for p in pieces[:-1])
        assert isinstance(ra.events[-1], lguapi.CommandResultEndEvent)
        # two list queries in flight at once are answered in order
        r1, r2 = await asyncio.gather(a.get_call_history(1, 0), a.get_call_history(0, 9))
        assert len(r1) == 12 and r2 == 12
        await a.close()


async def test_callbacks_sync_async_errors_and_text_hook(caplog):
    async with emulator() as emu:
        client, rec = await logged_in(emu, "3001")
        seen_sync, seen_async, texts, by_name = [], [], [], []

        def bad(ev):
            raise RuntimeError("boom in a callback")

        async def slow(ev):
            await asyncio.sleep(0.01)
            seen_async.append(ev.unique_id)

        async def bad_async(ev):
            raise KeyError("async boom")

        client.on(RingEvent, bad)
        client.on(RingEvent, lambda ev: seen_sync.append(ev.unique_id))
        client.on("RingEvent", slow)
        client.on("CHANNELOUT", by_name.append)
        client.on(ChannelOutEvent, bad_async)
        client.add_text_hook(texts.append)
        n_before = len(rec.events)
        ids = []
        for n in range(3):
            emu.pbx.external_call(f"0101111000{n}", "3001")
            ids.append((await rec.wait_for(RingEvent, after=len(rec.events))).unique_id)
            await client.hangup()
        await until(lambda: len(seen_async) == 3 and len(by_name) == 3 and client.callback_errors == 6,
                    "every callback to run")
        assert seen_sync == ids and seen_async == ids  # every callback ran, in order, after the failures
        assert len(by_name) == 3 and all(isinstance(e, ChannelOutEvent) for e in by_name)
        assert client.callback_errors == 6 and isinstance(client.last_callback_error, (RuntimeError, KeyError))
        assert caplog.text.count("RuntimeError: boom in a callback") == 3 and "Traceback" in caplog.text
        assert any(t.startswith("RINGEVENT|ISDIAL:0|") for t in texts)
        assert all(isinstance(t, str) for t in texts) and len(texts) == len(rec.events) - n_before  # one text per wire event
        client.off(RingEvent, bad)
        client.off("RingEvent", slow)
        client.off(RingEvent, print)  # not subscribed: no error
        client.remove_text_hook(texts.append)
        emu.pbx.external_call("01011119999", "3001")
        await rec.wait_for(RingEvent, after=len(rec.events))
        assert client.callback_errors == 6 and len(seen_sync) == 4 and len(seen_async) == 3
        await client.close()
        with pytest.raises(ValueError):
            client.on(RingEvent, "not callable")
        with pytest.raises(ValueError):
            client.on(42, print)


async def test_events_iterator():
    async with emulator() as emu:
        client, rec = await logged_in(emu, "3001")
        got = []

        async def consume():
            async for ev in client.events():
                got.append(ev)

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0)  # one step of the loop: the consumer subscribes
        emu.pbx.external_call("01012345678", "3001")
        await rec.wait_for(RingEvent)
        await client.hangup()
        await client.close()
        await asyncio.wait_for(task, 5)  # the iteration ends with close()
        kinds = [type(e) for e in got]
        assert kinds[0] is RingEvent and ChannelOutEvent in kinds and kinds[-1] is Disconnected
        assert got[-1].deliberate and all(e.exten == "3001" for e in got)
        async with client.events() as late:  # a closed client's stream is empty
            assert [e async for e in late] == []


async def test_command_timeout_keeps_answers_in_step():
    async with emulator() as emu:
        client, rec = await logged_in(emu, "3001", command_timeout=0.3)
        loop = asyncio.get_running_loop()
        real = emu.pbx.command
        held: list = []
        gate = {"open": False}

        def slow_pbx(user, name, args, pos, reply):
            # an in-order but slow server: answers wait until the gate opens, then keep their order
            if gate["open"]:
                return real(user, name, args, pos, reply)
            held.append((user, name, args, pos, reply))

        def open_gate():
            gate["open"] = True
            for item in held:
                real(*item)

        emu.pbx.command = slow_pbx
        loop.call_later(0.5, open_gate)
        with pytest.raises(CommandTimeout, match="GETVARINFO.*no answer within 0.3 s"):
            await client.get_var_info("CALLERID")
        # sent at 0.3 s, answered at 0.5 s right after the late CALLERID answer: that one is not mistaken for it
        assert await client.get_var_info("EXTEN") == R.VarInfo("EXTEN", "3001")
        late = [e for e in rec.of(CommandResultEvent) if e.get("NAME") == "CALLERID"]
        assert len(late) == 1  # the late answer still arrived as an event
        await client.close()


async def test_ping_answered_with_pong_and_heartbeat():
    async with emulator(idle_timeout=0.6) as emu:
        quiet, rq = await logged_in(emu, "3001", heartbeat=0)  # only PONG keeps it alive
        beating, rb = await logged_in(emu, "3002", heartbeat=0.1)
        await until(lambda: len(rq.of(PingEvent)) >= 2, "two PINGs to the quiet client")
        assert quiet.is_logged_in
        assert rb.of(PingEvent) == [] and beating.is_logged_in  # heartbeats count as activity
        await quiet.close()
        await beating.close()


def test_heartbeat_clamped_with_warning(caplog):
    with pytest.warns(UserWarning, match="above the vendor's 30 s cap"):
        c = Client("127.0.0.1", heartbeat=45)
    assert c.heartbeat == 30 and "above the vendor's 30 s cap" in caplog.text
    assert Client("127.0.0.1", heartbeat=None).heartbeat == 0
    for bad in (dict(heartbeat=-1), dict(auto_reconnect=-1), dict(cipher="rot13"), dict(byteorder="middle"),
                dict(charset="nope"), dict(command_timeout=0), dict(max_queue=0), dict(port=0), dict(tls="yes")):
        with pytest.raises(ValueError):
            Client("127.0.0.1", **bad)


async def test_not_logged_in_and_bad_arguments():
    async with emulator() as emu:
        client = Client("127.0.0.1", emu.port, heartbeat=0)
        with pytest.raises(ConnectionLost, match="not connected"):
            await client.get_peer_info("3001")
        with pytest.raises(ValueError, match="password is required"):
            await client.login(creds("3001")[0], "")
        await client.login(*creds("3001"))
        with pytest.raises(ValueError, match="peers is required"):
            await client.get_peer_info("")
        with pytest.raises(ValueError, match="not a real date"):
            await client.get_call_history(start="20240230")
        with pytest.raises(ValueError, match="cannot carry"):
            await client.send_peer_msg("3002", "emoji \U0001F600")  # not in cp949
        await client.close()


def _call_texts(exten: str) -> list[str]:
    """An answered inbound call on ``exten``, then 20 CHANNELOUTs of channels that are not
    its own (more than the client lets its own-call state lag), then the caller hanging up."""
    trunk = "SIP/gw2.eicn-0000aaaa"
    mine = f"SIP/{exten}-0000bbbb"
    texts = [f"RINGEVENT|ISDIAL:0|CHANNEL:SIP/{exten}-0000cccc|RECHANNEL:{trunk}|INEXTEN:null|AGENT:{exten}"
             f"|CALLERID:01012345678|UNIQUEID:1700000300.1",
             f"CHANNELLIST|CHANNEL1:{trunk}|CHANNEL2:{mine}|CALLER1ID:01012345678|CALLER2ID:{exten}"
             f"|INEXTEN:null|UNIQUEID1:1700000300.1|UNIQUEID2:1700000300.2"]
    texts += [f"CHANNELOUT|CHANNEL:SIP/9{i:03d}-0000dddd|RECHANNEL:SIP/9999-0000eeee|UNIQUEID:1700000400.{i}"
              f"|SRCUNIQUEID:1700000400.{i}|HCAUSE:16" for i in range(20)]
    texts.append(f"CHANNELOUT|CHANNEL:{trunk}|RECHANNEL:{mine}|UNIQUEID:1700000300.1|SRCUNIQUEID:1700000300.1"
                 f"|HCAUSE:16")
    return texts


async def test_the_own_call_is_the_same_asked_after_every_event_or_only_at_the_end():
    """The client folds call events into its own-call state when asked (or every 16 events):
    asking late gives what asking after each event gives."""
    async with emulator(extens="3001-3002") as emu:
        late, late_rec = await logged_in(emu, "3001")
        eager, eager_rec = await logged_in(emu, "3002")
        seen: list[tuple] = []
        eager.on(Event, lambda ev: seen.append((eager.own_channel, eager.remote_channel, eager.call_state)))
        try:
            for exten in ("3001", "3002"):
                for text in _call_texts(exten):
                    emu.deliver(exten, text)
            for rec in (late_rec, eager_rec):
                await rec.wait_for(ChannelOutEvent, lambda e: e.unique_id == "1700000300.1")
            assert seen[1] == ("SIP/3002-0000bbbb", "SIP/gw2.eicn-0000aaaa", "talking")
            assert (late.own_channel, late.remote_channel, late.call_state) == ("SIP/3001-0000bbbb", None, "talking")
            assert seen[-1] == ("SIP/3002-0000bbbb", None, "talking")
        finally:
            await late.close()
            await eager.close()
