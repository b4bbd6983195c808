"""`lguapi gateway --cluster`: one gateway (in this process) and one headless member (another OS
process) share the extensions; the gateway serves every extension's state, calls, feed, metrics
and wallboard (in a real headless Chromium), and routes commands for the other member's
extensions with the same answers as local."""
from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

import aiohttp
import pytest

from kit.browser import browser, call, screenshot, tile_text, wait_js, wait_state
from kit.cluster import EMULATOR_IDLE, Member, owned_once, until, write_accounts
from kit.wait import eventually
from lguapi.cluster.gateway import cluster_gateway
from lguapi.cluster.leases import LeaseConfig
from lguapi.gateway import GatewayConfig
from lguapi.server import Directory, Emulator

#: kit.cluster.TEST_LEASES as a LeaseConfig (TTL 5 s > the emulator's idle timeout 3 s + renew 0.5 s)
LEASES = LeaseConfig(shards=32, lease_ttl=5, renew_interval=0.5, member_ttl=2, fence_margin=1.5, settle=1)
CALLER = "01055501234"


@contextlib.asynccontextmanager
async def gateway_and_member(tmp_path, redis_url: str, extens: str) -> AsyncIterator[dict[str, Any]]:
    """The emulator, a cluster gateway here and a headless member process sharing ``extens``."""
    directory = Directory.generate(extens)
    ids = [u.id for u in directory.users()]
    accounts = write_accounts(directory, tmp_path / "accounts.toml")
    async with Emulator(directory, port=0, idle_timeout=EMULATOR_IDLE) as emu:
        other = Member("other", tmp_path, redis_url, emu.port, accounts)
        cfg = GatewayConfig(upstream_host="127.0.0.1", upstream_port=emu.port, accounts=directory, port=0,
                            anonymous=frozenset({"read", "command"}))
        gw = cluster_gateway(cfg, redis_url, lease_config=LEASES)
        try:
            await gw.start()
            node = gw.monitor.node
            n = len(ids)
            await until(lambda: owned_once(emu, ids) and 0 < len(node.owned_ids()) < n
                        and other.status().get("online_extensions", 0) + len(node.owned_ids()) == n, 90,
                        "the two members to share the extensions")
            yield {"emu": emu, "gw": gw, "other": other, "node": node, "directory": directory, "ids": ids}
        finally:
            await gw.close()
            await other.stop()
        assert emu.duplicate_login_byes == 0


@pytest.mark.timeout(240)
async def test_a_gateway_serves_and_commands_the_whole_cluster(tmp_path, redis_server):
    async with gateway_and_member(tmp_path, redis_server.url, "3001-3040") as rig:
        emu, gw, other, node, directory, ids = (rig[k] for k in ("emu", "gw", "other", "node", "directory", "ids"))
        feed: list[dict] = []
        gw.hub.add_listener(feed.append)
        remote = sorted(u.exten for u in directory.users() if not node.holds(u.exten))
        local = sorted(u.exten for u in directory.users() if node.holds(u.exten))
        r_ext, l_ext = remote[0], local[0]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            async def get(path):
                async with http.get(gw.url + path) as r:
                    return r.status, await r.json()

            async def post(ext, method, body=None):
                async with http.post(f"{gw.url}/v1/extensions/{ext}/{method}", json=body or {}) as r:
                    return r.status, await r.json()

            async def states():
                _, body = await get("/v1/extensions")
                return {e["exten"]: e["state"] for e in body["extensions"]}

            # every extension, the other member's included, is idle in this gateway's reads
            await eventually(states, lambda st: set(st.values()) == {"idle"}, "every extension idle", timeout=30)
            assert set((await states()).values()) == {"idle"} and len(await states()) == 40

            # an outside call rings the other member's extension: state, calls and feed here
            emu.pbx.external_call("01055550000", r_ext)
            await eventually(lambda: get(f"/v1/extensions/{r_ext}"), lambda r: r[1]["state"] == "ringing",
                             "the other member's extension ringing", timeout=30)
            status, ext = await get(f"/v1/extensions/{r_ext}")
            assert status == 200 and ext["state"] == "ringing" and ext["call_id"]
            _, calls = await get("/v1/calls")
            assert any(r_ext in c["exten"] for c in calls["calls"])
            await until(lambda: any(m["kind"] == "call" and m["type"] == "call.ringing" and m["exten"] == r_ext
                                    for m in feed), 10, "call.ringing of the remote extension in the feed")
            assert any(m["type"] == "extension.state" and m["data"]["exten"] == r_ext
                       and m["data"]["state"] == "ringing" for m in feed)

            # commands for it go to its owner: answer, then hang up
            status, body = await post(r_ext, "answer")
            assert status == 200, body
            await until(lambda: emu.pbx.phone_state(r_ext) != "ringing", 10, "the routed answer")
            status, body = await post(r_ext, "hangup")
            assert status == 200 and body["result"]["event"] == "ChannelOutEvent", body
            await until(lambda: any(m["type"] == "call.ended" and r_ext in m["data"]["exten"] for m in feed), 10,
                        "call.ended of the remote extension")

            # the same refusals as local: 409 with the server's message, 400, 404
            r_status, r_body = await post(r_ext, "pickup", {"exten": l_ext})
            l_status, l_body = await post(l_ext, "pickup", {"exten": r_ext})
            assert r_status == l_status == 409 and r_body["error"] == l_body["error"] == "command_refused"
            assert (await post(r_ext, "click2call", {}))[0] == 400
            assert (await post(r_ext, "no_such_method"))[0] == 404

            _, snap = await get("/v1/snapshot")
            assert snap["counters"]["total"]["ended"] >= 1 and snap["states"]["idle"] == 40
            assert snap["cluster"]["owned_extensions"] == len(local)
            async with http.get(gw.url + "/metrics") as r:
                text = await r.text()
            for name in ("lguapi_cluster_owned_extensions", "lguapi_cluster_lease_renewals_total",
                         "lguapi_cluster_stream_published_total", "lguapi_cluster_sink_pending"):
                assert name in text, name

            # the owner dies: this member takes its extensions over, with a gap notice each
            other.kill9()
            await until(lambda: owned_once(emu, ids) and len(node.owned_ids()) == 40, 60, "takeover")
            await until(lambda: any(m["kind"] == "gap" and m["type"] == "gap.failover" and m["exten"] == r_ext
                                    for m in feed), 20, "the gap notice of a taken-over extension")
            status, body = await post(r_ext, "get_status_peers", {"peers": r_ext})
            assert status == 200, body
            assert emu.duplicate_login_byes == 0


@pytest.mark.timeout(180)
async def test_the_wallboard_shows_the_extensions_another_member_owns(tmp_path, redis_server):
    async with gateway_and_member(tmp_path, redis_server.url, "3001-3012") as rig, browser() as driver:
        emu, gw, node, directory = rig["emu"], rig["gw"], rig["node"], rig["directory"]
        remote = sorted(u.exten for u in directory.users() if not node.holds(u.exten))
        local = sorted(u.exten for u in directory.users() if node.holds(u.exten))
        assert remote and local
        r_ext = remote[0]
        await call(driver.get, gw.url + "/")
        await wait_js(driver, "window.wallboard.ready && window.wallboard.connected", what="page live")
        assert await call(driver.execute_script, "return window.wallboard.tiles") == 12
        for e in remote + local:
            await wait_state(driver, e, "idle")

        # the other member's extension rings, is answered and hangs up: the tile follows
        emu.pbx.external_call(CALLER, r_ext)
        await wait_state(driver, r_ext, "ringing")
        await wait_js(driver, f"{tile_text(r_ext, 'remote')} === {CALLER!r}", what="the caller on the remote tile")
        await screenshot(driver, "wallboard-cluster-ringing.png")
        emu.pbx.phone_answer(r_ext)
        await wait_state(driver, r_ext, "talking")
        emu.pbx.phone_hangup(r_ext)
        await wait_state(driver, r_ext, "idle")
        assert await call(driver.execute_script, f"return {tile_text(r_ext, 'remote')}") == ""
        assert not node.holds(r_ext) and rig["other"].proc.poll() is None  # still the other member's
        await call(driver.get, "about:blank")
