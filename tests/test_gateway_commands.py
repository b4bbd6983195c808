"""REST commands against the real emulator: every Client method through
``POST /v1/extensions/{exten}/{method}``, argument checks, and the error mapping
(400, 404, 409 with the server's message, 503 offline, 504 no answer)."""
from __future__ import annotations

import asyncio

import pytest

from lguapi.client import Client
from lguapi.gateway.commands import METHODS
from lguapi.gateway.jsonable import to_jsonable

from kit.gateway import FAST, gateway_stack
from kit.wait import until

# method -> (JSON body, the wire command the PBX receives, or None when the client refuses
# locally because there is no current call)
CASES = {
    "click2call": ({"number": "3002"}, "CLICKCALL"),
    "answer": ({}, None),
    "hold": ({}, "HOLD"),
    "unhold": ({}, "UNHOLD"),
    "pickup": ({"exten": "3002"}, "PICKUP"),
    "hangup": ({}, "HANGUP"),
    "hangup_dst": ({}, None),
    "hangup_channel": ({"channel": "SIP/3009-00000001"}, "HANGUP"),
    "start_record": ({}, None),
    "stop_record": ({}, None),
    "transfer": ({"exten": "3003"}, None),
    "atxfer": ({"exten": "3003"}, None),
    "atxfer_cid": ({"exten": "3003", "cid": "07012343001"}, None),
    "redirect_conference": ({"room": "8001"}, None),
    "invite_conference": ({"room": "8001", "peers": ["3003"]}, "INVITECONF"),
    "join_conference": ({"room": "8001"}, "JOINCONF"),
    "call_with_conference": ({"room": "8001", "peers": ["3002", "3003"]}, "CALLWITHCONF"),
    "remove_conference": ({"room": "8001", "channels": ["SIP/3009-00000001"]}, "REMOVECONF"),
    "send_sip_command": ({"text": "CMD|HANGUP|SIP/3009-00000001"}, "HANGUP"),
    "send_sms": ({"peers": ["01012345678"], "text": "hi"}, "SENDSMS"),
    "send_peer_msg": ({"peers": ["3002"], "text": "hi"}, "SENDPEERMSG"),
    "set_forward": ({"use": "0"}, "SETFORWARD"),
    "set_user_info": ({"key": "NAME", "value": "x"}, "SETUSERINFO"),
    "address_book": ({"type": "1", "gname": "g"}, "MAGADDRLIST"),
    "get_peer_info": ({"peers": ["3002"]}, "GETPEERINFO"),
    "get_call_history": ({}, "GETCALLHISTORY"),
    "get_status_peers": ({"peers": ["3002"]}, "GETSTATUSPEERS"),
    "get_recv_sms_list": ({}, "GETRECVSMSLIST"),
    "get_var_info": ({"name": "EXTEN"}, "GETVARINFO"),
    "get_queue_status": ({}, "GETQSTATUS"),
    "get_record_list": ({}, "GETRECORDLIST"),
    "get_conference_members": ({"room": "8001"}, "GETLISTCONFMEMBER"),
}
QUERIES = ("get_peer_info", "get_call_history", "get_status_peers", "get_recv_sms_list", "get_var_info",
           "get_queue_status", "get_record_list", "get_conference_members")


def test_the_allow_list_is_exactly_the_clients_command_methods():
    assert set(CASES) == set(METHODS)
    lifecycle = {"login", "close", "send", "on", "off", "events", "add_text_hook", "remove_text_hook",
                 "pause_reading", "resume_reading"}
    public = {n for n in dir(Client) if not n.startswith("_") and callable(getattr(Client, n))
              and asyncio.iscoroutinefunction(getattr(Client, n))}
    assert public - lifecycle == set(METHODS)


def recording(emu):
    seen: list[str] = []
    real = emu.pbx.command

    def rec(user, name, args, pos, reply):
        seen.append(name)
        return real(user, name, args, pos, reply)

    emu.pbx.command = rec
    return seen


# the two methods the vendor withdrew still reach the wire, with their documented warning
@pytest.mark.filterwarnings("ignore:.*is withdrawn by the vendor:DeprecationWarning")
async def test_every_method_reaches_the_server_as_its_wire_command():
    async with gateway_stack("3001-3009") as st, st.session() as http:
        seen = recording(st.emu)
        for method, (body, wire) in CASES.items():
            seen.clear()
            r = await http.post(f"{st.url}/v1/extensions/3004/{method}", json=body)
            data = await r.json()
            assert r.status in (200, 409), (method, r.status, data)
            if wire is None:
                assert r.status == 409 and "no current call" in data["message"], (method, data)
                assert seen == []
            else:
                await until(lambda: seen, what=f"{method} at the PBX")
                assert seen[0] == wire, method
            if r.status == 200:
                assert data["exten"] == "3004" and data["method"] == method and "result" in data
            else:
                assert data["error"] == "command_refused" and data["message"]


async def test_query_results_equal_the_clients_own_typed_results():
    async with gateway_stack("3001-3004") as st, st.session() as http:
        client = st.gateway.monitor.client("3001")
        for method in QUERIES:
            body = CASES[method][0]
            r = await http.post(f"{st.url}/v1/extensions/3001/{method}", json=body)
            assert r.status == 200, (method, await r.text())
            direct = to_jsonable(await getattr(client, method)(**body))
            assert (await r.json())["result"] == direct, method


async def test_a_call_driven_over_rest_click_answer_hold_hangup():
    async with gateway_stack("3001-3004") as st, st.session() as http:
        post = lambda ext, m, body=None: http.post(f"{st.url}/v1/extensions/{ext}/{m}", json=body or {})
        r = await post("3001", "click2call", {"number": "3002"})
        assert r.status == 200 and (await r.json())["result"]["event"] == "RingEvent"
        await until(lambda: st.gateway.monitor.line_state("3002") == "ringing", what="3002 ringing")
        r = await post("3002", "answer")
        assert r.status == 200, await r.text()
        await until(lambda: st.gateway.monitor.line_state("3002") == "talking", what="3002 talking")
        assert (await post("3002", "hold")).status == 200
        await until(lambda: st.gateway.monitor.line_state("3002") == "held", what="3002 held")
        assert (await post("3002", "unhold")).status == 200
        r = await post("3001", "hangup")
        assert r.status == 200 and (await r.json())["result"]["event"] == "ChannelOutEvent"
        await until(lambda: st.gateway.monitor.line_state("3002") == "idle", what="3002 idle")
        r = await post("3003", "pickup", {"exten": "3004"})  # nothing rings at 3004: the server refuses
        body = await r.json()
        assert r.status == 409 and body["error"] == "command_refused" and body["message"]


@pytest.mark.parametrize("body, fragment", [
    ({"nope": 1}, "unknown argument(s) 'nope'"),
    ({}, "missing required argument(s) 'number'"),
    ({"number": {"a": 1}}, "must be a string, a number or a list"),
    ({"number": "3002", "wait": "yes"}, "'wait' must be true or false"),
    ({"number": [[1]]}, "must be a string, a number or a list"),
])
async def test_bad_arguments_are_400_before_anything_is_sent(body, fragment):
    async with gateway_stack("3001-3002") as st, st.session() as http:
        seen = recording(st.emu)
        r = await http.post(f"{st.url}/v1/extensions/3001/click2call", json=body)
        data = await r.json()
        assert r.status == 400 and data["error"] == "bad_request" and fragment in data["message"]
        assert seen == []


async def test_unknown_method_or_extension_or_denied_method_is_404():
    async with gateway_stack("3001-3002", deny_methods=frozenset({"send_sip_command"})) as st, st.session() as http:
        for path in ("/v1/extensions/3001/login", "/v1/extensions/3001/_send", "/v1/extensions/3001/close",
                     "/v1/extensions/3001/send_sip_command", "/v1/extensions/9999/hangup"):
            r = await http.post(st.url + path, json={})
            assert r.status == 404 and (await r.json())["error"] == "not_found", path


async def test_offline_extension_is_503():
    options = dict(FAST, auto_reconnect=0)
    async with gateway_stack("3001-3002", client_options=options) as st, st.session() as http:
        (s,) = [s for s in st.emu.sessions() if s.exten == "3001"]
        s.close("test: dropped by the server")
        await until(lambda: st.gateway.monitor.line_state("3001") == "offline", what="3001 offline")
        r = await http.post(f"{st.url}/v1/extensions/3001/get_var_info", json={"name": "EXTEN"})
        body = await r.json()
        assert r.status == 503 and body["error"] == "extension_offline" and "3001" in body["message"]


async def test_no_answer_in_time_is_504():
    options = dict(FAST, command_timeout=0.3)
    async with gateway_stack("3001-3002", client_options=options) as st, st.session() as http:
        st.emu.pbx.command = lambda user, name, args, pos, reply: None  # a server that never answers
        r = await http.post(f"{st.url}/v1/extensions/3001/get_var_info", json={"name": "EXTEN"})
        body = await r.json()
        assert r.status == 504 and body["error"] == "timeout" and "no answer within 0.3 s" in body["message"]
