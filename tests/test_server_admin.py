"""The admin interface (docs/emulator-admin.md) against the real Emulator and PBX over real TCP.

HTTP requests go through tests/kit/httpraw.py; what the phones' sessions receive is read with
tests/kit/rawclient.py (built only on lgucore).
"""
from __future__ import annotations

import contextlib

from kit.httpraw import exchange, parse_replies, request
from kit.rawclient import RawClient
from kit.text import fields
from lguapi.server import Directory, Emulator
from lguapi.server.admin import AdminServer

DIRECTORY = Directory.generate("3001-3004")
U1, U2 = DIRECTORY.by_exten("3001"), DIRECTORY.by_exten("3002")
OUTSIDE = "01012345678"


@contextlib.asynccontextmanager
async def admin_stack(**emu_options):
    async with Emulator(DIRECTORY, port=0, **emu_options) as emu:
        async with AdminServer(emu, port=0, stats={"demo": lambda: {"n": 1}}) as admin:
            yield emu, admin


@contextlib.asynccontextmanager
async def phone(emu, user, cipher="seed"):
    async with RawClient.connect("127.0.0.1", emu.port, cipher=cipher) as c:
        assert (await c.login(user.id, user.password)).startswith("LOGINRESULT|STATUS:1|")
        yield c


async def test_inbound_call_answered_by_the_phone_and_hung_up_by_the_caller():
    async with admin_stack() as (emu, admin), phone(emu, U1) as c:
        r = await request(admin.port, "POST", "/calls", {"from": OUTSIDE, "to": U1.callerid})
        assert r.status == 201
        call_id = r.json()["id"]
        assert r.headers["location"] == f"/calls/{call_id}"
        ring = fields(await c.expect("RINGEVENT"))
        assert (ring["ISDIAL"], ring["CALLERID"], ring["UNIQUEID"], ring["AGENT"]) == ("0", OUTSIDE, call_id, "3001")
        r = await request(admin.port, "GET", "/state")
        assert r.status == 200 and r.json()["phones"]["3001"]["state"] == "ringing"
        r = await request(admin.port, "GET", f"/calls/{call_id}")
        assert r.status == 200 and r.json()["active"] is True and r.json()["from"] == OUTSIDE
        assert [c["id"] for c in (await request(admin.port, "GET", "/calls")).json()["calls"]] == [call_id]

        assert (await request(admin.port, "POST", "/phones/3001/answer")).json() == {"ok": True}
        cl = fields(await c.expect("CHANNELLIST"))
        assert (cl["UNIQUEID1"], cl["CALLER1ID"], cl["INEXTEN"]) == (call_id, OUTSIDE, U1.callerid)
        assert (await request(admin.port, "GET", "/state")).json()["phones"]["3001"]["state"] == "talking"

        assert (await request(admin.port, "POST", f"/calls/{call_id}/hangup")).json() == {"ok": True}
        out = fields(await c.expect("CHANNELOUT"))
        assert (out["SRCUNIQUEID"], out["HCAUSE"]) == (call_id, "16")
        await c.expect("CDREVENT")
        r = await request(admin.port, "GET", f"/calls/{call_id}")
        assert r.json()["active"] is False and r.json()["answered_by"] == "3001"
        state = (await request(admin.port, "GET", "/state")).json()
        assert state["phones"]["3001"]["state"] == "idle" and state["calls"] == []
        assert [h["id"] for h in state["history"]] == [call_id]


async def test_external_answer_of_a_phone_dial_and_phone_hangup():
    async with admin_stack() as (emu, admin), phone(emu, U1) as c:
        r = await request(admin.port, "POST", "/phones/3001/dial", {"to": OUTSIDE})
        assert r.status == 201
        call_id = r.json()["id"]
        ring = fields(await c.expect("RINGEVENT"))
        assert (ring["ISDIAL"], ring["CALLERID"]) == ("1", OUTSIDE)
        assert (await request(admin.port, "POST", f"/calls/{call_id}/answer")).status == 200
        cl = fields(await c.expect("CHANNELLIST"))
        assert cl["CALLER2ID"] == OUTSIDE
        assert (await request(admin.port, "POST", "/phones/3001/dtmf", {"digits": "12#"})).status == 200
        digits = [fields(await c.expect("DTMFEVENT"))["DIGIT"] for _ in range(3)]
        assert digits == ["1", "2", "#"]
        assert (await request(admin.port, "POST", "/phones/3001/hangup")).status == 200
        assert fields(await c.expect("CHANNELOUT"))["HCAUSE"] == "16"


async def test_internal_dial_rings_the_other_phone():
    async with admin_stack() as (emu, admin), phone(emu, U1) as c1, phone(emu, U2, cipher="basic") as c2:
        r = await request(admin.port, "POST", "/phones/3002/dial", {"to": "3001"})
        call_id = r.json()["id"]
        assert fields(await c1.expect("RINGEVENT"))["CALLERID"] == "3002"
        assert fields(await c2.expect("RINGEVENT"))["ISDIAL"] == "1"
        await request(admin.port, "POST", "/phones/3001/answer")
        t1, t2 = await c1.expect("CHANNELLIST"), await c2.expect("CHANNELLIST")
        assert t1 == t2 and fields(t1)["UNIQUEID1"] == call_id
        # the caller rejects nothing now: hang up from the answering side
        await request(admin.port, "POST", "/phones/3001/hangup")
        await c1.expect("CHANNELOUT")
        await c2.expect("CHANNELOUT")


async def test_inbound_sms_reaches_the_owner():
    async with admin_stack() as (emu, admin), phone(emu, U2) as c:
        r = await request(admin.port, "POST", "/sms", {"from": OUTSIDE, "to": U2.callerid, "text": "hello 안녕"})
        assert (r.status, r.json()) == (200, {"ok": True})
        sms = fields(await c.expect("RECVSMS"))
        assert sms == {"FROM": OUTSIDE, "MESSAGE": "hello 안녕", "SMSTO": U2.callerid}


async def test_sessions_health_and_stats():
    async with admin_stack() as (emu, admin):
        assert (await request(admin.port, "GET", "/health")).json()["sessions"] == 0
        async with phone(emu, U1, cipher="none"):
            health = (await request(admin.port, "GET", "/health")).json()
            assert health["ok"] is True and health["sessions"] == 1 and health["uptime"] >= 0
            sessions = (await request(admin.port, "GET", "/sessions")).json()["sessions"]
            assert [(s["exten"], s["id"], s["cipher"]) for s in sessions] == [("3001", U1.id, "none")]
            assert sessions[0]["peer"].startswith("127.0.0.1:")
        assert (await request(admin.port, "GET", "/stats")).json() == {"demo": {"n": 1}}
        assert admin.url == f"http://127.0.0.1:{admin.port}"


async def test_errors_are_json_with_the_documented_status():
    async with admin_stack() as (emu, admin):
        port = admin.port

        async def err(method, path, body=None, status=400, contains=""):
            r = await request(port, method, path, body)
            assert r.status == status, (method, path, r.status, r.text)
            assert r.headers["content-type"] == "application/json"
            msg = r.json()["error"]
            assert contains in msg, msg
            return msg

        # malformed requests: 400
        await err("POST", "/calls", b"{broken", contains="not valid JSON")
        await err("POST", "/calls", [1, 2], contains="JSON object")
        await err("POST", "/calls", {"to": U1.callerid}, contains="'from'")
        await err("POST", "/calls", {"from": 1012345678, "to": U1.callerid}, contains="'from'")
        await err("POST", "/calls", {"from": "010|1", "to": U1.callerid}, contains="'from'")
        await err("POST", "/calls", {"from": OUTSIDE}, contains="'to'")
        await err("POST", "/phones/3001/dtmf", {"digits": "12x"}, contains="digits")
        await err("POST", "/phones/3001/dtmf", {}, contains="digits")
        await err("POST", "/phones/3001/dial", {}, contains="'to'")
        await err("POST", "/sms", {"from": OUTSIDE, "to": U1.callerid}, contains="'text'")
        await err("POST", "/sms", {"from": OUTSIDE, "to": U1.callerid, "text": "a|b"}, contains="'text'")
        await err("POST", "/sms", {"from": OUTSIDE, "to": U1.callerid, "text": "x" * 201}, contains="200")
        await err("POST", "/phones/bad%7Cexten/answer", contains="malformed extension")
        # unknown things: 404
        await err("POST", "/calls", {"from": OUTSIDE, "to": "07099999999"}, status=404, contains="07099999999")
        await err("POST", "/calls/123.456/answer", status=404, contains="123.456")
        await err("POST", "/calls/123.456/hangup", status=404)
        await err("GET", "/calls/123.456", status=404)
        await err("POST", "/phones/9999/answer", status=404, contains="9999")
        await err("POST", "/phones/9999/dtmf", {"digits": "1"}, status=404)
        await err("POST", "/sms", {"from": OUTSIDE, "to": "07099999999", "text": "x"}, status=404)
        await err("GET", "/nope", status=404)
        # the PBX refuses in its current state: 409
        await err("POST", "/phones/3001/answer", status=409, contains="nothing is ringing")
        await err("POST", "/phones/3001/hangup", status=409, contains="no call")
        await err("POST", "/phones/3001/dtmf", {"digits": "1"}, status=409)
        await err("POST", "/phones/3001/dial", {"to": "3001"}, status=409, contains="itself")
        call_id = (await request(port, "POST", "/calls", {"from": OUTSIDE, "to": "3001"})).json()["id"]
        await err("POST", f"/calls/{call_id}/answer", status=409, contains="no outside number ringing")
        # wrong methods: 405 with Allow
        r = await request(port, "GET", "/calls/1/answer")
        assert r.status == 405 and r.headers["allow"] == "POST" and "error" in r.json()
        r = await request(port, "DELETE", "/state")
        assert r.status == 405 and r.headers["allow"] == "GET"
        r = await request(port, "PUT", "/calls")
        assert r.status == 405 and r.headers["allow"] == "GET, POST"
        # too large: 413
        await err("POST", "/calls", b"x" * 20000, status=413)
        # garbage: 400 as JSON, and the server goes on
        replies = parse_replies(await exchange(port, b"\x16\x03\x01 garbage\r\n\r\n"))
        assert replies[0].status == 400 and "error" in replies[0].json()
        assert (await request(port, "GET", "/health")).status == 200
