"""The gateway against the real emulator on loopback: lifecycle, REST reads, snapshot, SSE feed,
static files, error bodies."""
from __future__ import annotations

import asyncio

import aiohttp

from gatewaykit import SseReader, gateway_stack, until


async def test_extensions_calls_snapshot_and_sse_follow_a_ringing_call():
    async with gateway_stack("3001-3003") as st, st.session() as http:
        r = await http.get(st.url + "/v1/extensions")
        assert r.status == 200
        body = await r.json()
        assert {e["exten"]: e["state"] for e in body["extensions"]} == {"3001": "idle", "3002": "idle", "3003": "idle"}
        assert all(e["domain"] == "ipcctest.com" and e["call_id"] is None for e in body["extensions"])

        sse = await http.get(st.url + "/v1/events?exten=3001")
        assert sse.status == 200 and sse.content_type == "text/event-stream"
        reader = SseReader(sse)
        call_id = st.emu.pbx.external_call("01012345678", "3001")
        (ring,) = await reader.messages(lambda m: m["type"] == "call.ringing")
        assert ring["kind"] == "call" and ring["exten"] == "3001" and ring["domain"] == "ipcctest.com"
        assert ring["data"]["remote_number"] == "01012345678"
        (state,) = await reader.messages(lambda m: m["type"] == "extension.state")
        assert state["data"] == {"exten": "3001", "domain": "ipcctest.com", "state": "ringing",
                                 "previous": "idle", "call_id": ring["data"]["id"]}
        r = await http.get(st.url + "/v1/extensions/3001")
        one = await r.json()
        assert one["state"] == "ringing" and one["call_id"] == ring["data"]["id"]
        r = await http.get(st.url + "/v1/calls")
        assert [c["id"] for c in (await r.json())["calls"]] == [ring["data"]["id"]]

        st.emu.pbx.phone_answer("3001")
        await reader.messages(lambda m: m["type"] == "call.answered")
        st.emu.pbx.external_hangup(call_id)
        (ended,) = await reader.messages(lambda m: m["type"] == "call.ended")
        assert ended["data"]["outcome"] == "answered"
        await reader.messages(lambda m: m["type"] == "extension.state" and m["data"]["state"] == "idle")
        ids = [f[0] for f in reader.frames]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert all(f[2]["id"] == f[0] for f in reader.frames)

        r = await http.get(st.url + f"/v1/calls?state=ended&since=0")
        ended_calls = (await r.json())["calls"]
        assert ended_calls[0]["id"] == ended["data"]["id"]
        r = await http.get(st.url + f"/v1/calls/{ended['data']['id']}")
        assert (await r.json())["state"] == "ended"

        r = await http.get(st.url + "/v1/snapshot")
        snap = await r.json()
        dom = snap["counters"]["domains"]["ipcctest.com"]
        assert dom["answered"] == 1 and dom["avg_talk_seconds"] is not None
        assert {"ringing", "missed", "abandoned", "avg_ring_seconds"} <= set(dom)
        assert snap["feed"]["last_id"] >= ended["id"]
        sse.close()


async def test_unknown_routes_and_ids_answer_json_404():
    async with gateway_stack("3001-3002") as st, st.session() as http:
        for path in ("/nope", "/v1/extensions/9999", "/v1/calls/123.4", "/static/../../etc/passwd"):
            r = await http.get(st.url + path)
            assert r.status == 404, path
            body = await r.json()
            assert body["error"] == "not_found" and body["message"]
        r = await http.delete(st.url + "/v1/extensions")
        assert r.status == 405 and (await r.json())["error"] == "method_not_allowed"


async def test_a_lost_connection_shows_offline_then_idle_and_counts_a_reconnect():
    from prometheus_client.parser import text_string_to_metric_families

    async with gateway_stack("3001-3002") as st, st.session() as http:
        feed = SseReader(await http.get(st.url + "/v1/events?exten=3002&kinds=extension,event"))
        (s,) = [s for s in st.emu.sessions() if s.exten == "3002"]
        s.close("test: dropped by the server")
        off, back = await feed.messages(lambda m: m["type"] == "extension.state", 2)
        assert off["data"] == {"exten": "3002", "domain": "ipcctest.com", "state": "offline", "previous": "idle",
                               "call_id": None}
        assert back["data"]["state"] == "idle" and back["data"]["previous"] == "offline"
        types = [f[2]["type"] for f in feed.frames]
        assert types.index("event.disconnected") < types.index("event.logged_in")
        await feed.messages(lambda m: m["type"] == "event.reconnected")
        text = await (await http.get(st.url + "/metrics")).text()
        samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}
        assert samples["lguapi_reconnects_total"] == 1
        feed.resp.close()
