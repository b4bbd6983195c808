"""The gateway's HTTP surface against the real emulator: hostile input gets clean JSON 4xx,
/metrics parses with prometheus-client's parser, /openapi.json documents exactly the real routes."""
from __future__ import annotations

import asyncio
import re

from prometheus_client.parser import text_string_to_metric_families

from lguapi.gateway.app import ROUTES
from lguapi.gateway.openapi import openapi_path
from lguapi.gateway.webhooks import WebhookEndpoint

from kit.gateway import SseReader, gateway_stack
from kit.wait import until


async def raw_request(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()


async def test_hostile_input_gets_clean_json_4xx():
    async with gateway_stack("3001-3002", max_body_bytes=4096) as st, st.session() as http:
        url = st.url + "/v1/extensions/3001/get_var_info"
        cases = [
            (dict(data=b"{" + b'"name":"' + b"x" * 10_000 + b'"}', headers={"Content-Type": "application/json"}),
             413, "max_body_bytes (4096)"),
            (dict(data=b"[" * 4000 + b"]" * 4, headers={"Content-Type": "application/json"}), 400, "nested too deeply"),
            (dict(data=b'{"name": ', headers={"Content-Type": "application/json"}), 400, "not valid JSON"),
            (dict(data=b'{"name": "\xff\xfe"}', headers={"Content-Type": "application/json"}), 400, "UTF-8"),
            (dict(data=b'["EXTEN"]', headers={"Content-Type": "application/json"}), 400, "JSON object"),
            (dict(data=b"name=EXTEN", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415, "JSON"),
            (dict(data=b"\xff", headers={"Content-Type": "text/plain"}), 415, "JSON"),
        ]
        for kw, status, fragment in cases:
            r = await http.post(url, **kw)
            body = await r.json()
            assert r.status == status and fragment in body["message"], (status, body)
            assert set(body) == {"error", "message"} and "Traceback" not in body["message"]
        r = await http.post(url, data=b'{"name": "EXTEN"}',  # curl -d: JSON sent with a form type
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 200 and (await r.json())["result"]["value"] == "3001"
        for path in ("/v1/extensions/%ff%fe", "/v1/calls/%00", "/v1/" + "a" * 3000):
            r = await http.get(st.url + path)
            assert 400 <= r.status < 500 and (await r.json())["error"]
        r = await http.get(st.url + "/v1/calls?since=soon")
        assert r.status == 400
        r = await http.get(st.url + "/v1/calls?limit=0")
        assert r.status == 400
        for garbage in (b"\x00\x01\x02 nonsense\r\n\r\n", b"GET /v1/extensions HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
            answer = await raw_request(st.gateway.port, garbage)  # broken HTTP framing: aiohttp's own 400
            assert re.match(rb"HTTP/1\.[01] 400 ", answer) and b"Traceback" not in answer, answer[:80]
        r = await http.get(st.url + "/v1/extensions")  # still serving
        assert r.status == 200


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(fams: dict, name: str, **labels) -> float:
    for fam in fams.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise KeyError((name, labels))


async def test_metrics_parse_and_count_what_happened(tmp_path):
    hook = WebhookEndpoint.from_config({"name": "crm", "url": "http://127.0.0.1:9/hook", "secret": "s",
                                        "events": ["call.ended"]})
    async with gateway_stack("3001-3003", webhooks=(hook,), webhook_outbox=str(tmp_path / "outbox.sqlite3"),
                             webhook_options={"max_attempts": 1}) as st, st.session() as http:
        feed = SseReader(await http.get(st.url + "/v1/events?kinds=call"))
        call_id = st.emu.pbx.external_call("01012345678", "3001")
        await feed.messages(lambda m: m["type"] == "call.ringing")
        st.emu.pbx.phone_answer("3001")
        await feed.messages(lambda m: m["type"] == "call.answered")
        text = await (await http.get(st.url + "/metrics")).text()
        fams = families(text)
        assert value(fams, "lguapi_extensions", state="talking") == 1
        assert value(fams, "lguapi_extensions", state="idle") == 2
        assert value(fams, "lguapi_active_calls") == 1
        assert value(fams, "lguapi_feed_subscribers") == 1
        st.emu.pbx.external_hangup(call_id)
        await feed.messages(lambda m: m["type"] == "call.ended")
        fams = families(await (await http.get(st.url + "/metrics")).text())
        assert value(fams, "lguapi_calls_total", outcome="answered") == 1
        assert value(fams, "lguapi_tracker_total", count="calls") == 1
        assert value(fams, "lguapi_tracker_total", count="evicted") == 0
        assert value(fams, "lguapi_logins_total") == 3
        assert value(fams, "lguapi_login_failures_total") == 0
        assert value(fams, "lguapi_reconnects_total") == 0
        assert value(fams, "lguapi_events_total", type="RINGEVENT") >= 1
        assert value(fams, "lguapi_feed_messages_total") >= 3
        assert value(fams, "lguapi_feed_dropped_subscribers_total") == 0
        assert value(fams, "lguapi_sink_backlog") == 0
        assert "lguapi_webhook_deliveries" in fams and "lguapi_webhook_delivery_seconds" in fams
        feed.resp.close()
        await until(lambda: st.gateway.hub.subscribers == 0, what="the subscriber to leave")
        fams = families(await (await http.get(st.url + "/metrics")).text())
        assert value(fams, "lguapi_feed_subscribers") == 0


async def test_openapi_documents_exactly_the_real_routes():
    async with gateway_stack("3001-3002", anonymous=()) as st, st.session() as http:
        r = await http.get(st.url + "/openapi.json")
        assert r.status == 200
        doc = await r.json()
        assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": st.url}]
        documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
        real = {(route.method, openapi_path(route.resource.canonical)) for route in st.gateway.app.router.routes()
                if route.method != "HEAD"}
        assert documented == real
        assert len(real) == len(ROUTES)
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                assert op["responses"] and op["summary"] and op["operationId"]
                concrete = path.replace("{exten}", "3001").replace("{method}", "get_var_info") \
                    .replace("{id}", "1").replace("{path}", "app.js")
                if op["security"]:  # every protected route really asks for a token
                    r = await http.request(method.upper(), st.url + concrete)
                    assert r.status == 401, (method, path)
        methods = doc["paths"]["/v1/extensions/{exten}/{method}"]["post"]["parameters"][1]["schema"]["enum"]
        assert "click2call" in methods and "get_call_history" in methods


async def test_a_bug_in_a_handler_is_a_json_500_without_the_traceback(caplog):
    async with gateway_stack("3001-3002") as st, st.session() as http:
        def broken(*a, **kw):
            raise RuntimeError("secret internals")

        st.gateway.monitor.snapshot = broken  # a bug somewhere below a route
        r = await http.get(st.url + "/v1/snapshot")
        body = await r.json()
        assert r.status == 500 and body == {"error": "internal_error", "message": "internal error (logged by the gateway)"}
        assert "secret internals" not in await r.text()
        assert any("secret internals" in (rec.exc_text or str(rec.exc_info)) for rec in caplog.records)
        assert (await http.get(st.url + "/v1/extensions")).status == 200  # and it goes on


async def test_event_names_the_protocol_does_not_have_are_counted_under_a_bounded_set_of_labels():
    """A server sending ever new event names: the first MAX_OTHER_EVENT_NAMES get a label each,
    the rest are counted together under "other" (a label per name would grow without end)."""
    from lguapi.gateway.bridge import MAX_OTHER_EVENT_NAMES, OTHER_EVENT_NAME

    async with gateway_stack("3001-3002") as st, st.session() as http:
        n = MAX_OTHER_EVENT_NAMES + 36
        for i in range(n):
            st.emu.deliver("3001", f"ODDEVENT{i}|X:1")
        st.emu.deliver("3001", "ODDEVENT0|X:2")  # a name already counted keeps its own label

        async def odd() -> dict[str, float]:
            fams = families(await (await http.get(st.url + "/metrics")).text())
            return {s.labels["type"]: s.value for s in fams["lguapi_events"].samples
                    if s.labels["type"].startswith("ODDEVENT") or s.labels["type"] == OTHER_EVENT_NAME}

        seen: dict[str, float] = {}

        async def all_counted() -> bool:
            seen.update(await odd())
            return sum(seen.values()) == n + 1

        deadline = asyncio.get_running_loop().time() + 15
        while not await all_counted():
            assert asyncio.get_running_loop().time() < deadline, seen
            await asyncio.sleep(0.05)
        assert len(seen) == MAX_OTHER_EVENT_NAMES + 1
        assert seen[OTHER_EVENT_NAME] == 36 and seen["ODDEVENT0"] == 2
