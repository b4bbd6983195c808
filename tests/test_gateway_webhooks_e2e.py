"""Webhooks through the whole gateway: emulator admin rings -> Monitor -> feed -> signed POSTs
to a real receiver on loopback; a gateway restart mid-retry; the dead-letter REST routes."""
from __future__ import annotations

import asyncio
import dataclasses

import pytest

from lguapi.gateway import Gateway
from lguapi.gateway.webhooks import WebhookEndpoint
from lguapi.server.admin import AdminServer

from kit.admin import admin_post
from kit.gateway import gateway_stack
from kit.wait import eventually, until
from kit.webhook_receiver import Receiver

SECRET = "e2e-hook-secret"
CALLER = "01077712345"


def hook(url: str, **extra) -> WebhookEndpoint:
    table = {"name": "crm", "url": url, "secret": SECRET,
             "events": ["call.ringing", "call.answered", "call.ended"], "exten": ["3001"]}
    table.update(extra)
    return WebhookEndpoint.from_config(table)




def types(rx: Receiver) -> list[str]:
    return [h.message["type"] for h in rx.delivered]


async def test_ring_answer_hangup_reach_the_receiver_signed(tmp_path):
    async with Receiver(SECRET.encode()) as rx:
        async with gateway_stack("3001-3003", webhooks=(hook(rx.url),),
                                 webhook_outbox=str(tmp_path / "outbox.sqlite3"),
                                 webhook_options={"backoff_base": 0.1, "backoff_cap": 0.5}) as st, \
                AdminServer(st.emu, port=0) as admin:
            await admin_post(admin, "/calls", {"from": CALLER, "to": "07012343001"})
            await rx.wait_for(lambda r: "call.ringing" in types(r))
            await admin_post(admin, "/phones/3001/answer")
            await admin_post(admin, "/phones/3001/hangup")
            await rx.wait_for(lambda r: "call.ended" in types(r))
            await admin_post(admin, "/calls", {"from": CALLER, "to": "07012343002"})   # not 3001: filtered
            await admin_post(admin, "/phones/3002/hangup")
            async with st.session() as http:
                async def delivered() -> list:
                    async with http.get(st.url + "/v1/webhooks/deliveries?status=delivered") as resp:
                        assert resp.status == 200
                        return (await resp.json())["deliveries"]

                # the receiver holds a delivery before the dispatcher has read its answer and marked
                # it delivered in the outbox: the listing catches up a moment later
                listed = await eventually(delivered, lambda ds: {d["id"] for d in ds} >= {h.key for h in rx.delivered},
                                          "every delivery the receiver got to be listed as delivered")
    assert types(rx) == ["call.ringing", "call.answered", "call.ended"]
    assert all(h.verified and h.headers["X-Lguapi-Attempt"] == "1" for h in rx.hits)
    ring = rx.delivered[0].message
    assert ring["kind"] == "call" and ring["exten"] == "3001"
    assert ring["data"]["remote_number"] == CALLER and ring["data"]["direction"] == "inbound"
    ended = rx.delivered[-1].message
    assert ended["data"]["id"] == ring["data"]["id"] and ended["data"]["outcome"]
    assert {d["id"] for d in listed} >= {h.key for h in rx.delivered}


@pytest.mark.timeout(120)
async def test_gateway_restart_mid_retry_loses_nothing(tmp_path):
    outbox = str(tmp_path / "outbox.sqlite3")
    options = {"backoff_base": 0.2, "backoff_cap": 0.5, "max_attempts": 1000}
    async with Receiver(SECRET.encode(), status=503) as rx:
        async with gateway_stack("3001-3003", webhooks=(hook(rx.url),), webhook_outbox=outbox,
                                 webhook_options=options) as st, AdminServer(st.emu, port=0) as admin:
            await admin_post(admin, "/calls", {"from": CALLER, "to": "07012343001"})
            await admin_post(admin, "/phones/3001/hangup")
            await rx.wait_for(lambda r: {h.message["type"] for h in r.hits} >= {"call.ringing", "call.ended"})
            cfg = st.gateway.config
            await st.gateway.close()                                    # restart while retries wait
            assert st.gateway.dispatcher.stats()["pending"] >= 2 and rx.delivered == []
            rx.status = 200
            async with Gateway(dataclasses.replace(cfg, port=0)) as again:
                await rx.wait_for(lambda r: set(types(r)) >= {"call.ringing", "call.ended"})
                await until(lambda: again.dispatcher.stats()["pending"] == 0, what="outbox drained")
                assert again.dispatcher.deliveries("failed") == []
    assert set(rx.ok_per_key().values()) == {1}                         # nothing delivered twice
    assert len(rx.ok_per_key()) == len({h.key for h in rx.hits})        # nothing lost
    assert all(h.verified for h in rx.hits)


async def test_dead_letter_and_retry_over_rest(tmp_path):
    async with Receiver(SECRET.encode(), status=500) as rx:
        async with gateway_stack("3001-3003", webhooks=(hook(rx.url, events=["call.ringing"]),),
                                 webhook_outbox=str(tmp_path / "outbox.sqlite3"),
                                 webhook_options={"max_attempts": 2, "backoff_base": 0.05, "backoff_cap": 0.1}
                                 ) as st, AdminServer(st.emu, port=0) as admin, st.session() as http:
            await admin_post(admin, "/calls", {"from": CALLER, "to": "07012343001"})
            async def listed(status: str) -> list:
                async with http.get(st.url + f"/v1/webhooks/deliveries?status={status}") as resp:
                    assert resp.status == 200
                    return (await resp.json())["deliveries"]

            while not (failed := await listed("failed")):                # the test's timeout bounds it
                await asyncio.sleep(0.05)
            assert len(failed) == 1 and failed[0]["attempts"] == 2 and failed[0]["last_status"] == 500
            rx.status = 200
            async with http.post(st.url + f"/v1/webhooks/deliveries/{failed[0]['id']}/retry") as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "pending"
            async with http.post(st.url + "/v1/webhooks/deliveries/nope/retry") as resp:
                assert resp.status == 404 and (await resp.json())["error"]
            await rx.wait_for(lambda r: len(r.delivered) == 1)
            await eventually(lambda: listed("delivered"), lambda ds: [d["id"] for d in ds] == [failed[0]["id"]],
                             "the retried delivery recorded as delivered")
            async with http.get(st.url + "/v1/webhooks/deliveries?status=lost") as resp:
                assert resp.status == 400
    assert [h.status for h in rx.hits] == [500, 500, 200]
