"""Auth, exposure and configuration against the real emulator: the token × route matrix (scopes, extension
and domain limits, ?access_token on GETs only, masked numbers), anonymous access, TLS, CORS."""
from __future__ import annotations

import json

import aiohttp
import pytest

from lguapi.gateway import ConfigError, GatewayConfig, TokenConfig, hash_token
from lguapi.gateway.config import config_from_mapping
from lguapi.server.tlscert import client_context, write_self_signed

from gatewaykit import SseReader, gateway_stack

TOKENS = (
    TokenConfig("reader", hash_token("t-read"), frozenset({"read"})),
    TokenConfig("commander", hash_token("t-cmd"), frozenset({"command"})),
    TokenConfig("agent3001", hash_token("t-3001"), frozenset({"read", "command"}), extensions=frozenset({"3001"})),
    TokenConfig("otherdomain", hash_token("t-dom"), frozenset({"read", "command"}), domains=frozenset({"x.example"})),
    TokenConfig("masked", hash_token("t-mask"), frozenset({"read"}), mask_numbers=True),
)

# (token, method, path, expected status)
MATRIX = [
    (None, "GET", "/v1/extensions", 401),
    ("wrong", "GET", "/v1/extensions", 401),
    ("t-read", "GET", "/v1/extensions", 200),
    ("t-read", "GET", "/v1/snapshot", 200),
    ("t-read", "GET", "/v1/calls", 200),
    ("t-read", "GET", "/metrics", 200),
    ("t-read", "POST", "/v1/extensions/3001/get_var_info", 403),
    ("t-cmd", "GET", "/v1/extensions", 403),
    ("t-cmd", "GET", "/v1/events", 403),
    ("t-cmd", "POST", "/v1/extensions/3001/get_var_info", 200),
    ("t-3001", "GET", "/v1/extensions/3001", 200),
    ("t-3001", "GET", "/v1/extensions/3002", 403),
    ("t-3001", "POST", "/v1/extensions/3001/get_var_info", 200),
    ("t-3001", "POST", "/v1/extensions/3002/get_var_info", 403),
    ("t-dom", "GET", "/v1/extensions/3001", 403),
    ("t-dom", "POST", "/v1/extensions/3001/get_var_info", 403),
    (None, "GET", "/metrics", 401),
    (None, "POST", "/v1/extensions/3001/get_var_info", 401),
    (None, "GET", "/openapi.json", 200),
    (None, "GET", "/v1/health", 200),
]


async def test_the_token_matrix():
    async with gateway_stack("3001-3003", tokens=TOKENS, anonymous=()) as st, st.session() as http:
        for token, method, path, status in MATRIX:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            body = {"name": "EXTEN"} if method == "POST" else None
            r = await http.request(method, st.url + path, headers=headers, json=body)
            assert r.status == status, (token, method, path, r.status, await r.text())
            if status >= 400:
                err = await r.json()
                assert set(err) == {"error", "message"} and err["message"]
            if status == 401:
                assert r.headers["WWW-Authenticate"] == "Bearer"
        r = await http.get(st.url + "/v1/extensions", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert r.status == 401 and "Bearer" in (await r.json())["message"]


async def test_limits_narrow_lists_snapshot_and_feed():
    async with gateway_stack("3001-3003", tokens=TOKENS, anonymous=()) as st, st.session("t-3001") as http:
        r = await http.get(st.url + "/v1/extensions")
        assert [e["exten"] for e in (await r.json())["extensions"]] == ["3001"]
        r = await http.get(st.url + "/v1/snapshot")
        assert list((await r.json())["extensions"]) == ["3001"]
        feed = SseReader(await http.get(st.url + "/v1/events?exten=3001,3002&kinds=call"))
        st.emu.pbx.external_call("01011112222", "3002")
        st.emu.pbx.external_call("01033334444", "3001")
        (ring,) = await feed.messages(lambda m: m["type"] == "call.ringing")
        assert ring["exten"] == "3001"  # 3002's call was never sent to this token
        r = await http.get(st.url + "/v1/calls")
        assert [c["exten"] for c in (await r.json())["calls"]] == [["3001"]]
        feed.resp.close()
    async with gateway_stack("3001-3002", tokens=TOKENS, anonymous=()) as st, st.session("t-dom") as http:
        r = await http.get(st.url + "/v1/extensions")
        assert (await r.json())["extensions"] == []
        r = await http.get(st.url + "/v1/snapshot")
        snap = await r.json()
        assert snap["extensions"] == {} and "total" not in snap["counters"]


async def test_access_token_query_on_gets_only_and_masked_numbers():
    async with gateway_stack("3001-3002", tokens=TOKENS, anonymous=()) as st, st.session() as http:
        feed = SseReader(await http.get(st.url + "/v1/events?kinds=call&access_token=t-mask"))
        full = SseReader(await http.get(st.url + "/v1/events?kinds=call&access_token=t-read"))
        st.emu.pbx.external_call("01055556666", "3001")
        (masked,) = await feed.messages(lambda m: m["type"] == "call.ringing")
        (plain,) = await full.messages(lambda m: m["type"] == "call.ringing")
        assert masked["data"]["remote_number"] == "010****6666"
        assert plain["data"]["remote_number"] == "01055556666"
        assert masked["data"]["id"] == plain["data"]["id"] and masked["exten"] == "3001"
        r = await http.get(st.url + "/v1/calls?access_token=t-mask")
        assert "01055556666" not in await r.text() and "010****6666" in await r.text()
        r = await http.post(st.url + "/v1/extensions/3001/get_var_info?access_token=t-cmd", json={"name": "EXTEN"})
        assert r.status == 401 and "GET routes only" in (await r.json())["message"]
        ws = await http.ws_connect(st.url + "/v1/ws?access_token=t-read")
        await ws.close()
        feed.resp.close()
        full.resp.close()


async def test_anonymous_only_on_loopback_and_only_its_scopes():
    with pytest.raises(ConfigError, match="only on a loopback"):
        GatewayConfig(extensions="3001", host="0.0.0.0", anonymous=frozenset({"read"}))
    with pytest.raises(ConfigError, match="unknown scope"):
        GatewayConfig(extensions="3001", anonymous=frozenset({"admin"}))
    async with gateway_stack("3001-3002", anonymous=("read",)) as st, st.session() as http:
        assert (await http.get(st.url + "/v1/extensions")).status == 200
        r = await http.post(st.url + "/v1/extensions/3001/get_var_info", json={"name": "EXTEN"})
        assert r.status == 403


def test_exposure_warnings_and_token_config(tmp_path):
    cfg = GatewayConfig(extensions="3001", host="0.0.0.0", cors_origins=("*",))
    warnings = cfg.exposure_warnings()
    assert any("without TLS" in w for w in warnings) and any("any origin" in w for w in warnings)
    assert GatewayConfig(extensions="3001").exposure_warnings() == []
    tls = GatewayConfig(extensions="3001", host="0.0.0.0", tls_cert="c.pem", tls_key="k.pem",
                        tokens=TOKENS[:1])
    assert tls.exposure_warnings() == []
    data = {"upstream": {"extensions": "3001"},
            "tokens": [{"name": "a", "token_env": "GW_TOKEN", "scopes": ["read"]},
                       {"name": "b", "sha256": hash_token("x").upper()},
                       {"name": "c", "token": "plain"}]}
    cfg = config_from_mapping(data, environ={"GW_TOKEN": "from-env"})
    assert [t.sha256 for t in cfg.tokens] == [hash_token("from-env"), hash_token("x"), hash_token("plain")]
    assert "from-env" not in repr(cfg) and "plain" not in repr(cfg.tokens)
    with pytest.raises(ConfigError, match="GW_TOKEN is not set"):
        config_from_mapping(data, environ={})
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_mapping({"upstream": {"extensions": "3001"}, "http": {"prot": 1}})


async def test_tls_and_cors(tmp_path):
    files = write_self_signed(str(tmp_path), hosts=["127.0.0.1"], prefix="gw")
    async with gateway_stack("3001-3002", tls_cert=files.cert, tls_key=files.key,
                             cors_origins=("https://crm.example",)) as st:
        assert st.url.startswith("https://127.0.0.1:")
        conn = aiohttp.TCPConnector(ssl=client_context(files.ca))
        async with aiohttp.ClientSession(connector=conn) as http:
            r = await http.get(st.url + "/v1/extensions", headers={"Origin": "https://crm.example"})
            assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "https://crm.example"
            r = await http.get(st.url + "/v1/extensions", headers={"Origin": "https://evil.example"})
            assert "Access-Control-Allow-Origin" not in r.headers
            r = await http.options(st.url + "/v1/extensions/3001/hangup",
                                   headers={"Origin": "https://crm.example", "Access-Control-Request-Method": "POST",
                                            "Access-Control-Request-Headers": "authorization,content-type"})
            assert r.status == 204 and "Authorization" in r.headers["Access-Control-Allow-Headers"]
            r = await http.get(st.url + "/nope", headers={"Origin": "https://crm.example"})
            assert r.status == 404 and r.headers["Access-Control-Allow-Origin"] == "https://crm.example"
            r = await http.get(st.url + "/v1/events", headers={"Origin": "https://crm.example"})
            assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "https://crm.example"
            r.close()


def test_oam_without_a_host_discovers_the_server():
    cfg = config_from_mapping({"upstream": {"oam": "oam.example:9999", "extensions": "3001"}})
    assert cfg.upstream_host is None and cfg.oam == "oam.example:9999"
    from lguapi.gateway.app import make_monitor

    monitor = make_monitor(cfg)
    assert monitor.host is None
