"""The web wallboard in a real headless Chromium against a real gateway and emulator on loopback.

Rings go through the emulator's admin HTTP interface, as an outside caller and a handset would.
Screenshots land in tests/artifacts/ (git-ignored).
"""
from __future__ import annotations

import dataclasses
import time

import pytest

from lguapi.gateway import Gateway, TokenConfig, hash_token
from lguapi.server.admin import AdminServer

from kit.admin import admin_post
from kit.browser import browser, call, screenshot, tile_text, wait_js, wait_state
from kit.gateway import gateway_stack

CALLER = "01055501234"


@pytest.mark.timeout(240)
async def test_wallboard_follows_a_call_and_survives_a_gateway_restart():
    async with gateway_stack("3001-3012") as st, AdminServer(st.emu, port=0) as admin, browser() as driver:
        await call(driver.get, st.url + "/")
        await wait_js(driver, "window.wallboard.ready && window.wallboard.connected", what="page live")
        assert await call(driver.execute_script, "return window.wallboard.tiles") == 12
        await wait_state(driver, "3001", "idle")

        # an outside caller rings 3001's 070 number: ringing, with the caller's number
        await admin_post(admin, "/calls", {"from": CALLER, "to": "07012343001"})
        await wait_state(driver, "3001", "ringing")
        await wait_js(driver, f"{tile_text('3001', 'remote')} === {CALLER!r}", what="remote number shown")
        await screenshot(driver, "wallboard-ringing.png")

        # the handset answers: talking, and the duration ticks
        await admin_post(admin, "/phones/3001/answer")
        await wait_state(driver, "3001", "talking")
        first = await wait_js(driver, tile_text("3001", "dur"), what="duration shown")
        await wait_js(driver, f"{tile_text('3001', 'dur')} !== {first!r}", 10, "duration ticking")
        await screenshot(driver, "wallboard-talking.png")

        # hang up: idle again, the number cleared, the counters count one answered call
        await admin_post(admin, "/phones/3001/hangup")
        await wait_state(driver, "3001", "idle")
        assert await call(driver.execute_script, f"return {tile_text('3001', 'remote')}") == ""
        await wait_js(driver, "document.querySelector('#counters tbody tr td:nth-of-type(4)').textContent === '1'",
                      15, "answered counter at 1")

        # Korean labels
        await call(driver.execute_script, "document.getElementById('lang').click()")
        await wait_js(driver, "document.querySelector('h1').textContent === '상황판'", what="Korean title")
        await wait_js(driver, f"{tile_text('3001', 'state')} === '대기'", what="Korean state label")
        await screenshot(driver, "wallboard-korean.png")

        # the gateway restarts on the same port: the page reconnects by itself and follows again
        cfg = dataclasses.replace(st.gateway.config, port=int(st.url.rsplit(":", 1)[1]))
        await st.gateway.close()
        await wait_js(driver, "!window.wallboard.connected", what="outage noticed")
        snapshots = await call(driver.execute_script, "return window.wallboard.snapshots")
        async with Gateway(cfg):
            await wait_js(driver, f"window.wallboard.connected && window.wallboard.snapshots > {snapshots}", 60,
                          "reconnected and re-synced after the restart")
            await admin_post(admin, "/calls", {"from": CALLER, "to": "07012343002"})
            await wait_state(driver, "3002", "ringing")
            await admin_post(admin, "/phones/3002/hangup")
            await wait_state(driver, "3002", "idle")
            await call(driver.get, "about:blank")   # closes the page's event stream


@pytest.mark.timeout(120)
async def test_wallboard_with_a_token_from_its_url():
    token = TokenConfig("wall", hash_token("wall-token-1"), frozenset({"read"}),
                        extensions=frozenset({"3001", "3002"}), mask_numbers=True)
    async with gateway_stack("3001-3004", anonymous=(), tokens=(token,)) as st, \
            AdminServer(st.emu, port=0) as admin, browser() as driver:
        await call(driver.get, st.url + "/")                          # no token: told so, no tiles
        await wait_js(driver, "document.getElementById('status').dataset.state === 'denied'", what="denied")
        assert await call(driver.execute_script, "return window.wallboard.tiles") == 0
        await call(driver.get, st.url + "/?access_token=wall-token-1")
        await wait_js(driver, "window.wallboard.ready && window.wallboard.connected", what="page live")
        assert await call(driver.execute_script, "return window.wallboard.tiles") == 2   # the token's extensions
        await admin_post(admin, "/calls", {"from": CALLER, "to": "07012343002"})
        await wait_state(driver, "3002", "ringing")
        await wait_js(driver, f"{tile_text('3002', 'remote')} === '010****1234'", what="masked number")
        await admin_post(admin, "/phones/3002/hangup")
        await wait_state(driver, "3002", "idle")
        await call(driver.get, "about:blank")


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.asyncio_debug(False)  # scale: the 12-extension tests run these paths in debug mode
async def test_wallboard_with_5000_extensions():
    async with gateway_stack("3001-8000") as st, AdminServer(st.emu, port=0) as admin, browser() as driver:
        t0 = time.monotonic()
        await call(driver.get, st.url + "/")
        await wait_js(driver, "window.wallboard.ready && window.wallboard.connected", 120, "page live")
        loaded = time.monotonic() - t0
        stats = await call(driver.execute_script, "return window.wallboard")
        assert stats["tiles"] == 5000
        await wait_state(driver, "7999", "idle", 60)
        # a burst of 100 rings: every tile follows, and frames keep coming while it happens
        await call(driver.execute_script, """
            window.__frames = []; var last = performance.now();
            (function tick(ts) { window.__frames.push(ts - last); last = ts;
              if (window.__frames.length < 100000) requestAnimationFrame(tick); })(performance.now());""")
        t1 = time.monotonic()
        for i in range(100):
            await admin_post(admin, "/calls", {"from": f"0105550{i:04d}", "to": f"0701234{3001 + 50 * i}"})
        await wait_js(driver, "document.querySelectorAll('.tile.s-ringing').length === 100", 60, "100 ringing")
        burst = time.monotonic() - t1
        frames = await call(driver.execute_script, "return window.__frames.slice(1)")
        await screenshot(driver, "wallboard-5000.png")
        worst = max(frames) if frames else 0.0
        print(f"\nwallboard 5000: page live in {loaded:.2f} s, tiles built in {stats['renderMs']:.0f} ms, "
              f"100 rings shown in {burst:.2f} s, longest frame {worst:.0f} ms over {len(frames)} frames")
        assert frames, "no animation frames while the burst was shown"
