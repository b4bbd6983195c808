"""A smoke of every Client method against the emulator in each cipher x byte order (6 combinations).

Full behaviour is asserted once in test_client.py; here each method must work and return its
typed result under every framing and cipher the protocol allows.
"""
from __future__ import annotations

import pytest

from kit.clients import emulator, logged_in
from lguapi import (
    ChannelListEvent, ChannelOutEvent, CommandResultEvent, ConferenceEvent, PeerMessageEvent, RingEvent, SmsEvent,
)
from lguapi import results as R
from lguapi.errors import CommandError


@pytest.mark.parametrize("byteorder", ["big", "little"])
@pytest.mark.parametrize("cipher", ["none", "basic", "seed"])
async def test_every_method(cipher, byteorder):
    async with emulator(byteorder=byteorder) as emu:
        kw = dict(cipher=cipher, byteorder=byteorder)
        a, ra = await logged_in(emu, "3001", **kw)
        b, rb = await logged_in(emu, "3002", **kw)
        c, rc = await logged_in(emu, "3003", **kw)

        # queries and settings
        assert (await a.get_peer_info("3002"))["3002"].connected
        assert isinstance((await a.get_status_peers("3001"))[0], R.PeerStatus)
        assert (await a.set_user_info("NOTE", "x1")).res == "OK"
        assert (await a.get_var_info("NOTE")).value == "x1"
        assert (await a.address_book("0", pname="Kim")).res == "OK"
        assert isinstance((await a.get_queue_status())[0], R.QueueMember)
        assert (await a.set_forward("1", "1", "3003")).enabled
        assert not (await a.set_forward("0")).enabled
        assert await a.send_peer_msg("3002", "안녕하세요 peer") == {"3002": "OK"}
        assert (await rb.wait_for(PeerMessageEvent)).message == "안녕하세요 peer"
        assert "SUCCESS" in (await a.send_sms("01012345678", "문자"))["01012345678"]
        emu.pbx.inbound_sms("01099990000", "3001", "수신 문자")
        assert (await ra.wait_for(SmsEvent)).message == "수신 문자"
        assert (await a.get_recv_sms_list())[0].message == "수신 문자"
        assert isinstance(await a.send_sip_command("CMD GETVARINFO AGENT=3001 NAME=EXTEN"), CommandResultEvent)

        # an internal call: answer, hold, record, attended transfer
        assert isinstance(await a.click2call("3002"), RingEvent)
        await rb.wait_for(RingEvent)
        assert isinstance(await b.answer(), ChannelListEvent)
        assert (await b.hold()).res == "OK" and (await b.unhold()).res == "OK"
        assert (await b.start_record()).res == "OK" and (await b.stop_record()).res == "OK"
        assert (await b.atxfer("3003")).channel2.startswith("Local/3003@")
        await rc.wait_for(RingEvent)
        assert isinstance(await c.answer(), ChannelListEvent)
        await b.hangup()  # completes the transfer
        assert isinstance(await c.hangup_dst(), ChannelOutEvent)
        # blind transfer
        n = len(rc.events)
        await a.click2call("3002")
        await rb.wait_for(RingEvent, after=len(rb.events) - 1)
        await b.answer()
        assert isinstance(await b.transfer("3003"), ChannelOutEvent)
        await rc.wait_for(RingEvent, after=n)
        await c.answer()
        assert isinstance(await c.hangup(), ChannelOutEvent)
        # conference
        n = len(rc.events)
        await a.click2call("3002")
        await rb.wait_for(RingEvent, after=len(rb.events) - 1)
        await b.answer()
        assert isinstance(await a.redirect_conference("room1"), ConferenceEvent)
        await a.invite_conference("room1", "3003")
        await rc.wait_for(RingEvent, after=n)
        await c.answer(wait=False)
        joined = await ra.wait_for(ConferenceEvent, lambda e: e.member == "3003")
        assert len(await a.get_conference_members("room1")) == 3
        assert (await a.remove_conference("room1", joined.channel)).action == "CONFMEMBERDEL"
        with pytest.warns(DeprecationWarning):
            with pytest.raises(CommandError):
                await c.join_conference("room1")
        await a.hangup()
        await b.hangup()
        assert isinstance(await c.call_with_conference("room2", "3005"), ConferenceEvent)
        await c.hangup()
        # pickup, hangup of a named channel, the withdrawn AtXferCID
        emu.pbx.external_call("01011112222", "3004")
        await rb.wait_for(RingEvent, after=0)
        picked = await b.pickup("3004")
        assert isinstance(picked, ChannelListEvent)
        with pytest.warns(DeprecationWarning):
            assert (await b.atxfer_cid("3001", "07012340101")).channel2.startswith("Local/3001@")
        await ra.wait_for(RingEvent, lambda e: e.atxfer is not None)
        await a.hangup()
        assert isinstance(await b.hangup_channel(picked.channel2), ChannelOutEvent)
        # history of all that
        assert len(await a.get_call_history(1, 1)) >= 3
        assert isinstance(await a.get_call_history(0, 9), int)
        assert isinstance(await b.get_record_list(), list)
        for x in (a, b, c):
            await x.close()
        assert a.callback_errors == b.callback_errors == c.callback_errors == 0
