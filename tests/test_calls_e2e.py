"""CallTracker end to end: the emulator over real TCP on 127.0.0.1 (port 0), one
``lguapi.Client`` per extension, all attached to one tracker. The tracker's calls must equal
the emulator's own record (``Pbx.snapshot()["history"]``) call for call: id, direction,
parties, answer, cause and the missed/abandoned classification.

* the emulator's traffic generator (inbound, click-to-call, internal; abandoned rings,
  holds, blind transfers), seeded and bounded;
* scripted flows it does not generate: pickup, attended transfer, conference with
  invitations, call-with-conference, an internal call to a busy phone;
* a connection lost while its call ends: reconciled after the reconnect.
"""
from __future__ import annotations

import asyncio
import random

from lguapi.calls import CallTracker
from lguapi.client import Client
from lguapi.server import Directory, Emulator
from lguapi.server.traffic import TrafficConfig, TrafficGenerator

from kit.wait import until

CLIENT = {"heartbeat": 0, "auto_reconnect": 0, "cipher": "basic"}


class Rig:
    """An emulator, a logged-in client per extension, one tracker, every update collected."""

    def __init__(self, emu: Emulator, directory: Directory, **tracker_kw):
        self.emu = emu
        self.directory = directory
        self.tracker = CallTracker(**tracker_kw)
        self.clients: dict[str, Client] = {}
        self.updates: list = []
        self._reader: asyncio.Task | None = None

    async def __aenter__(self) -> "Rig":
        stream = self.tracker.updates()

        async def read():
            async for u in stream:
                self.updates.append(u)

        self._reader = asyncio.get_running_loop().create_task(read())
        for u in self.directory.users():
            c = Client("127.0.0.1", self.emu.port, **CLIENT)
            self.tracker.attach(c)
            await c.login(u.id, u.password)
            self.clients[u.exten] = c
        return self

    async def __aexit__(self, *exc) -> None:
        for c in self.clients.values():
            await c.close()
        self.tracker.close()  # ends the updates() iterator
        await self._reader

    def ringing(self, exten: str) -> bool:
        return any(c.active_extens.get(exten) == "ringing" for c in self.tracker.calls_of(exten))

    def connected(self, exten: str) -> bool:
        return any(c.active_extens.get(exten) == "connected" for c in self.tracker.calls_of(exten))

    async def settle(self) -> None:
        """Hang up whatever is left, then wait until the PBX and the tracker agree it is over."""
        pbx = self.emu.pbx
        for c in pbx.snapshot()["calls"]:
            try:
                pbx.external_hangup(c["id"])
            except (KeyError, ValueError):
                pass
        for u in self.directory.users():
            if pbx.phone_state(u.exten) != "idle":
                pbx.phone_hangup(u.exten)
        await until(lambda: not pbx.calls, what="the PBX to be idle")
        await until(lambda: not self.tracker.active, what="the tracker to see every call end")


def expectation(row: dict, monitored: set[str]) -> dict:
    """What the tracker must say about one history row of the emulator (docs/calls.md)."""
    d = row["direction"]
    answered = bool(row["answered"])
    rang = set(row["rang"]) & monitored
    cause = row["hangup_cause"]
    if answered:
        reason = "hangup"
    elif rang and d in ("inbound", "internal"):
        reason = "abandoned" if cause == 16 else "missed"
    else:
        reason = {17: "busy", 19: "no-answer", 21: "rejected", 16: "cancelled"}.get(cause, "unanswered")
    remote = row["from"] if d == "inbound" else row["to"] if d == "outbound" else (
        row["from"] if rang else row["to"])
    return {
        "direction": d, "answered": answered, "answered_by": row["answered_by"], "hangup_cause": cause,
        "end_reason": reason, "missed": reason == "missed", "abandoned": reason == "abandoned",
        "exten": set(row["extensions"]) & monitored, "remote_number": remote,
        # the dialled 070 number travels in the CHANNELLIST only (manual §5.2)
        "dialled_number": row["inexten"] if answered else None,
    }


def observed(call) -> dict:
    return {
        "direction": call.direction, "answered": call.answer_at is not None, "answered_by": call.answered_by,
        "hangup_cause": call.hangup_cause, "end_reason": call.end_reason, "missed": call.missed,
        "abandoned": call.abandoned, "exten": set(call.exten), "remote_number": call.remote_number,
        "dialled_number": call.dialled_number,
    }


def compare(rig: Rig) -> list[dict]:
    """Assert call-for-call equality; returns the visible history rows."""
    monitored = {u.exten for u in rig.directory.users()}
    history = rig.emu.pbx.snapshot()["history"]
    visible = [r for r in history if set(r["extensions"]) & monitored]  # a busy outside caller reaches no one
    ended = [c for c in rig.tracker.ended]
    by_id = {c.id: c for c in ended}
    assert len(by_id) == len(ended), "a call id came out twice"
    assert set(by_id) == {r["id"] for r in visible}, {
        "missing": sorted({r["id"] for r in visible} - set(by_id)),
        "extra": sorted(set(by_id) - {r["id"] for r in visible})}
    for r in visible:
        call = by_id[r["id"]]
        assert observed(call) == expectation(r, monitored), (r, call.to_dict())
        assert call.state == "ended" and call.talk_seconds >= 0 and call.ring_seconds >= 0
        for t in r["transfers"]:  # who transferred and to whom: both were on this one call
            assert {t["by"], t["to"]} & monitored <= set(call.exten), (t, call.to_dict())
    # the update stream told the same story: one "new" and one "ended" per call, merged ones withdrawn
    kinds: dict[str, list[str]] = {}
    for u in rig.updates:
        kinds.setdefault(u.call.id, []).append(u.kind)
    for cid, ks in kinds.items():
        assert ks[0] == "new" and ks.count("new") == 1 and ks[-1] == "ended" and ks.count("ended") == 1, (cid, ks)
    assert {cid for cid, ks in kinds.items()} >= set(by_id)
    merged = {u.call.id for u in rig.updates if u.kind == "ended" and u.call.end_reason == "merged"}
    assert set(kinds) - merged == set(by_id)
    return visible


async def test_traffic_generator_history_matches_the_tracker_call_for_call():
    directory = Directory.generate("3001-3024")
    async with Emulator(directory, port=0, rng=random.Random(11)) as emu:
        async with Rig(emu, directory) as rig:
            config = TrafficConfig(rate=15, max_calls=70, ring_mean=0.25, talk_mean=0.6, hold=0.3, hold_mean=0.1,
                                   transfer=0.25, unanswered=0.25)
            gen = TrafficGenerator(emu.pbx, directory, config, rng=random.Random(3))
            gen.start()
            try:
                await asyncio.wait_for(gen.wait(), 45)
            finally:
                gen.close()
            await rig.settle()
        visible = compare(rig)  # after the rig closed: every update was read
        kinds = {r["direction"] for r in visible}
        assert len(visible) >= 40 and kinds == {"inbound", "outbound", "internal"}
        assert any(r["transfers"] for r in visible), "no transfer happened: pick another seed"
        assert any(not r["answered"] for r in visible)
        assert any(u.state == "transferring" for u in rig.updates)
        # (the generator's HOLD answers go to the generator, not to a client: holds are
        # checked in the scripted test, where a client holds)


async def test_scripted_flows_match_the_emulators_history():
    directory = Directory.generate("3001-3004")
    async with Emulator(directory, port=0, rng=random.Random(5), ring_timeout=1.0) as emu:
        pbx = emu.pbx
        # loopback connections drift apart by milliseconds: a short grace keeps the test quick
        async with Rig(emu, directory, end_grace=0.3) as rig:
            c1, c2 = rig.clients["3001"], rig.clients["3002"]
            cid = lambda e: directory.by_exten(e).callerid  # noqa: E731

            # pickup: 3001 rings, 3002 picks it up
            call = pbx.external_call("01011110001", cid("3001"))
            await until(lambda: rig.ringing("3001"), what="3001 ringing")
            await c2.pickup("3001")
            await until(lambda: rig.connected("3002"), what="3002 connected")
            pbx.external_hangup(call)
            await rig.settle()

            # attended transfer from 3001 to 3003, completed by 3001 hanging up
            call = pbx.external_call("01011110002", cid("3001"))
            await until(lambda: rig.ringing("3001"), what="3001 ringing")
            pbx.phone_answer("3001")
            await until(lambda: rig.connected("3001"), what="3001 connected")
            await c1.hold()
            await until(lambda: any(c.state == "held" for c in rig.tracker.calls_of("3001")), what="held")
            await c1.unhold()
            await until(lambda: rig.connected("3001"), what="3001 back")
            await c1.atxfer("3003")
            await until(lambda: rig.ringing("3003"), what="3003 ringing")
            pbx.phone_answer("3003")
            await until(lambda: rig.connected("3003"), what="3003 connected")
            await c1.hangup()
            await until(lambda: not rig.tracker.calls_of("3001"), what="3001 out of the call")
            pbx.external_hangup(call)
            await rig.settle()

            # a conference: 3001 redirects its call into room 7001, invites 3002 (answers) and 3004 (does not)
            call = pbx.external_call("01011110003", cid("3001"))
            await until(lambda: rig.ringing("3001"), what="3001 ringing")
            pbx.phone_answer("3001")
            await until(lambda: rig.connected("3001"), what="3001 connected")
            await c1.redirect_conference("7001")
            await c1.invite_conference("7001", ["3002", "3004"])
            await until(lambda: rig.ringing("3002") and rig.ringing("3004"), what="the invitations")
            pbx.phone_answer("3002")
            await until(lambda: rig.connected("3002"), what="3002 in the room")
            await until(lambda: not rig.ringing("3004"), what="3004's invitation to time out")
            pbx.phone_hangup("3002")
            await rig.settle()

            # call-with-conference: 3003 calls 3004 into room 7002
            await rig.clients["3003"].call_with_conference("7002", ["3004"])
            await until(lambda: rig.ringing("3004"), what="3004 invited")
            pbx.phone_answer("3004")
            await until(lambda: rig.connected("3004"), what="3004 in the room")
            await rig.settle()

            # an internal call to a busy phone: the caller sees only its CHANNELOUT (17) and a CDREVENT
            call = pbx.external_call("01011110004", cid("3002"))
            await until(lambda: rig.ringing("3002"), what="3002 ringing")
            pbx.phone_answer("3002")
            await until(lambda: rig.connected("3002"), what="3002 connected")
            pbx.phone_dial("3001", "3002")
            await until(lambda: any(c.end_reason == "busy" for c in rig.tracker.ended), what="the busy attempt")
            await rig.settle()

        visible = compare(rig)  # after the rig closed: every update was read
        assert len(visible) == 6
        pickup, atxfer, conference, with_conf, talk, busy = sorted(
            visible, key=lambda r: (r["start"], int(r["id"].split(".")[1])))
        assert talk["answered_by"] == "3002" and busy["busy"] == ["3002"]
        by_id = {c.id: c for c in rig.tracker.ended}
        assert by_id[pickup["id"]].answered_by == "3002"
        assert by_id[atxfer["id"]].handled_by == ("3001", "3003")
        assert by_id[conference["id"]].room == "7001"
        assert set(by_id[conference["id"]].exten) == {"3001", "3002", "3004"}
        assert by_id[with_conf["id"]].answered_by == "3004"
        assert (by_id[busy["id"]].end_reason, by_id[busy["id"]].hangup_cause) == ("busy", 17)


async def test_a_channelout_lost_in_a_reconnect_is_reconciled():
    directory = Directory.generate("3001-3002")
    async with Emulator(directory, port=0) as emu:
        tracker = CallTracker()
        client = Client("127.0.0.1", emu.port, heartbeat=0, auto_reconnect=0.1, cipher="basic")
        tracker.attach(client)
        user = directory.by_exten("3001")
        await client.login(user.id, user.password)
        try:
            call_id = emu.pbx.external_call("01012345678", user.callerid)
            await until(lambda: tracker.active, what="the ring")
            emu.pbx.phone_answer("3001")
            (call,) = tracker.active.values()
            await until(lambda: call.state == "connected", what="connected")
            # the connection drops, and the call ends while it is down: its CHANNELOUT goes nowhere
            (session,) = [s for s in emu.sessions() if s.exten == "3001"]
            session.close("test: connection lost")
            emu.pbx.external_hangup(call_id)
            await until(lambda: call.state == "ended", what="the reconciliation")
            assert call.end_reason == "lost-after-reconnect"
            assert (call.answered_by, call.missed, call.abandoned) == ("3001", False, False)
            assert client.is_logged_in and not tracker.active
            (row,) = emu.pbx.snapshot()["history"]
            assert row["id"] == call.id and row["answered_by"] == "3001"
        finally:
            await client.close()
            tracker.close()
