"""The webhook dispatcher on its own: a real aiohttp receiver on loopback and a real SQLite outbox."""
from __future__ import annotations

import json
import logging
import sqlite3
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lguapi.gateway.signing import sign, verify
from lguapi.gateway.webhooks import DEFAULTS, WebhookDispatcher, WebhookEndpoint

from kit.clients import dead_port
from kit.wait import until
from kit.webhook_receiver import Receiver

SECRET = "shh-do-not-log-me"


def message(i: int, mtype: str = "call.ringing", exten: str = "3001", domain: str = "ipcctest.com") -> dict:
    kind = mtype.split(".")[0]
    return {"id": i, "kind": kind, "type": mtype, "ts": time.time(), "exten": exten, "domain": domain,
            "data": {"id": f"call-{i}", "exten": [exten], "remote_number": "01012345678", "state": "ringing"}}


def endpoint(url: str, **extra) -> WebhookEndpoint:
    table = {"name": "crm", "url": url, "secret": SECRET, "events": ["call.ringing", "call.ended"]}
    table.update(extra)
    return WebhookEndpoint.from_config(table)


FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "timeout": 15.0}   # generous: a loaded machine


# --- signing ---------------------------------------------------------------------------------

def test_signature_is_hmac_of_timestamp_dot_body():
    import hashlib
    import hmac

    body = b'{"id":7}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(b"k", 1700000000, body) == "sha256=" + expected
    assert verify(b"k", "1700000000", body, "sha256=" + expected, now=1700000100)
    assert not verify(b"k", "1700000000", body + b" ", "sha256=" + expected, now=1700000100)
    assert not verify(b"other", "1700000000", body, "sha256=" + expected, now=1700000100)
    assert not verify(b"k", "1700000000", body, "sha256=" + expected, now=1700001000)  # stale
    assert not verify(b"k", "17e8", body, "sha256=" + expected)


# --- configuration ---------------------------------------------------------------------------

@pytest.mark.parametrize("table, field", [
    ({"url": "http://x/h", "secret": "s", "events": ["call.ringing"]}, "name"),
    ({"name": "a b", "url": "http://x/h", "secret": "s", "events": ["call.ringing"]}, "name"),
    ({"name": "a", "url": "ftp://x/h", "secret": "s", "events": ["call.ringing"]}, "url"),
    ({"name": "a", "secret": "s", "events": ["call.ringing"]}, "url"),
    ({"name": "a", "url": "http://x/h", "events": ["call.ringing"]}, "secret"),
    ({"name": "a", "url": "http://x/h", "secret": "s", "secret_env": "X", "events": ["call.ringing"]}, "secret"),
    ({"name": "a", "url": "http://x/h", "secret_env": "LGUAPI_TEST_UNSET_VAR", "events": ["call.ringing"]},
     "secret_env"),
    ({"name": "a", "url": "http://x/h", "secret": "s"}, "events"),
    ({"name": "a", "url": "http://x/h", "secret": "s", "events": ["call.rang"]}, "events"),
    ({"name": "a", "url": "http://x/h", "secret": "s", "events": ["call.ringing"], "exten": []}, "exten"),
    ({"name": "a", "url": "http://x/h", "secret": "s", "events": ["call.ringing"], "timeout": 0}, "timeout"),
    ({"name": "a", "url": "http://x/h", "secret": "s", "events": ["call.ringing"], "concurrency": 1.5},
     "concurrency"),
    ({"name": "a", "url": "http://x/h", "secret": "s", "events": ["call.ringing"], "retries": 3}, "retries"),
])
def test_endpoint_config_errors_name_the_field(table, field):
    with pytest.raises(ValueError, match=field):
        WebhookEndpoint.from_config(table)


def test_endpoint_secret_from_env_and_hidden(monkeypatch):
    monkeypatch.setenv("CRM_HOOK_SECRET", "from-env-123")
    ep = WebhookEndpoint.from_config({"name": "crm", "url": "https://u:pw@crm.example:8443/hook?token=tok999",
                                      "secret_env": "CRM_HOOK_SECRET", "events": "call.*",
                                      "exten": "3001, 3002", "domain": ["a.com"]})
    assert ep.secret == b"from-env-123"
    assert ep.exten == frozenset({"3001", "3002"})
    text = repr(ep) + str(ep)
    for secret in ("from-env-123", "tok999", "pw@"):
        assert secret not in text
    assert ep.display_url == "https://crm.example:8443/hook"


def test_endpoint_filters():
    ep = WebhookEndpoint.from_config({"name": "a", "url": "http://x/h", "secret": "s",
                                      "events": ["call.*", "extension.state"], "exten": ["3001"]})
    assert ep.matches(message(1, "call.answered"))
    assert ep.matches(message(1, "extension.state"))
    assert not ep.matches(message(1, "event.ring"))
    assert not ep.matches(message(1, "call.ringing", exten="3002"))
    # a call is matched by any of its extensions
    msg = message(1, "call.ended", exten="3002")
    msg["data"]["exten"] = ["3002", "3001"]
    assert ep.matches(msg)
    every = WebhookEndpoint.from_config({"name": "a", "url": "http://x/h", "secret": "s", "events": ["*"],
                                         "domain": "b.com"})
    assert every.matches(message(1, "event.dtmf", domain="b.com"))
    assert not every.matches(message(1, "event.dtmf", domain="a.com"))
    assert not every.matches({"id": 1, "kind": "gap", "type": "gap", "domain": "b.com"})


def test_options_from_config():
    opts = WebhookDispatcher.options_from_config({"outbox": "/tmp/x.sqlite3", "max_attempts": 3,
                                                  "backoff_base": 0.5, "timeout": 4})
    assert opts == {"outbox_path": "/tmp/x.sqlite3", "max_attempts": 3, "backoff_base": 0.5, "timeout": 4.0}
    assert set(DEFAULTS) >= set(opts)
    with pytest.raises(ValueError, match="max_attempts"):
        WebhookDispatcher.options_from_config({"max_attempts": 0})
    with pytest.raises(ValueError, match="'retries'"):
        WebhookDispatcher.options_from_config({"retries": 3})
    with pytest.raises(ValueError, match="backoff_cap"):
        WebhookDispatcher.options_from_config({"backoff_base": 10, "backoff_cap": 1})
    with pytest.raises(ValueError, match="unique"):
        WebhookDispatcher("x.sqlite3", [endpoint("http://x/h"), endpoint("http://y/h")])


# --- delivery --------------------------------------------------------------------------------

async def test_signed_delivery_with_filters_and_metrics(tmp_path):
    registry = CollectorRegistry()
    async with Receiver(SECRET.encode()) as rx:
        ep = endpoint(rx.url, exten=["3001"])
        async with WebhookDispatcher(tmp_path / "outbox.sqlite3", [ep], registry=registry, **FAST) as disp:
            disp.offer(message(1))
            disp.offer(message(2, "call.ringing", exten="3002"))   # other extension: filtered
            disp.offer(message(3, "call.answered"))                # not subscribed
            disp.offer(message(4, "call.ended"))
            await rx.wait_for(lambda r: len(r.delivered) == 2)
            await until(lambda: len(disp.deliveries("delivered")) == 2)
            assert disp.deliveries("pending") == [] and disp.deliveries("failed") == []
            rows = {r["id"]: r for r in disp.deliveries()}
        hits = rx.hits
        assert [h.message["id"] for h in hits] == [1, 4] or sorted(h.message["id"] for h in hits) == [1, 4]
        for h in hits:
            assert h.verified and h.status == 200
            assert h.headers["Content-Type"] == "application/json"
            assert h.headers["X-Lguapi-Signature"].startswith("sha256=")
            assert abs(int(h.headers["X-Lguapi-Timestamp"]) - time.time()) < 60
            assert h.headers["X-Lguapi-Event"] == h.message["type"]
            assert h.headers["X-Lguapi-Attempt"] == "1"
            assert h.message["data"]["remote_number"] == "01012345678"   # full number: the CRM's data
        assert len({h.key for h in hits}) == 2
        assert set(rows) == {h.key for h in hits}
        for row in rows.values():
            assert row["status"] == "delivered" and row["attempts"] == 1 and row["last_status"] == 200
            assert row["idempotency_key"] == row["id"] and row["event"]["type"] in ("call.ringing", "call.ended")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(generate_latest(registry).decode()) for s in fam.samples}
    assert samples[("lguapi_webhook_deliveries_total", (("endpoint", "crm"), ("outcome", "delivered")))] == 2
    assert samples[("lguapi_webhook_delivery_seconds_count", (("endpoint", "crm"),))] == 2
    assert (tmp_path / "outbox.sqlite3").stat().st_mode & 0o777 == 0o600


async def test_retries_on_500_then_delivered(tmp_path):
    async with Receiver(SECRET.encode(), fail_first=2) as rx:
        async with WebhookDispatcher(tmp_path / "o.sqlite3", [endpoint(rx.url)], **FAST) as disp:
            disp.offer(message(1))
            await rx.wait_for(lambda r: len(r.delivered) == 1)
            await until(lambda: len(disp.deliveries("delivered")) == 1)
            row = disp.deliveries("delivered")[0]
    assert [h.status for h in rx.hits] == [500, 500, 200]
    assert [h.attempt for h in rx.hits] == [1, 2, 3]
    assert [h.headers["X-Lguapi-Attempt"] for h in rx.hits] == ["1", "2", "3"]
    assert len({h.key for h in rx.hits}) == 1                      # one idempotency key for all attempts
    assert all(h.verified for h in rx.hits)                         # each attempt signed afresh
    assert row["attempts"] == 3 and row["last_status"] == 200


async def test_restart_mid_retry_loses_nothing_and_delivers_once(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    n = 20
    async with Receiver(SECRET.encode(), fail_first=1) as rx:
        opts = {"backoff_base": 1.0, "backoff_cap": 1.0, "timeout": 15.0}   # no timeout-made repeats
        disp = WebhookDispatcher(path, [endpoint(rx.url)], **opts)
        await disp.start()
        for i in range(n):
            disp.offer(message(i))
        await rx.wait_for(lambda r: len(r.hits) >= n)               # every first attempt answered 500
        for i in range(n, n + 5):                                    # offered just before closing
            disp.offer(message(i))
        await disp.close()
        assert not rx.delivered or len(rx.delivered) < n + 5
        reopened = WebhookDispatcher(path, [endpoint(rx.url)], **opts)
        await reopened.start()
        try:
            assert reopened.stats()["pending"] + len(reopened.deliveries("delivered")) == n + 5
            await rx.wait_for(lambda r: len(r.ok_per_key()) == n + 5)
            await until(lambda: len(reopened.deliveries("delivered", limit=1000)) == n + 5)
        finally:
            await reopened.close()
    assert set(rx.ok_per_key().values()) == {1}                      # nothing delivered twice
    ids = sorted(h.message["id"] for h in rx.delivered)
    assert ids == list(range(n + 5))                                 # nothing lost
    assert reopened.stats()["pending"] == 0


async def test_dead_letter_then_retry(tmp_path):
    registry = CollectorRegistry()
    async with Receiver(SECRET.encode(), status=503) as rx:
        async with WebhookDispatcher(tmp_path / "o.sqlite3", [endpoint(rx.url)], registry=registry,
                                     max_attempts=3, **FAST) as disp:
            disp.offer(message(1))
            await until(lambda: len(disp.deliveries("failed")) == 1)
            failed = disp.deliveries("failed")[0]
            assert failed["attempts"] == 3 and failed["last_status"] == 503
            assert "gave up after 3 attempts" in failed["last_error"]
            assert disp.stats()["failed"] == 1
            assert await disp.retry("no-such-delivery") is None
            rx.status = 200
            row = await disp.retry(failed["id"])
            assert row is not None and row["status"] == "pending" and row["attempts"] == 0
            await until(lambda: len(disp.deliveries("delivered")) == 1)
            assert disp.deliveries("failed") == [] and disp.stats()["failed"] == 0
            delivered = await disp.retry(failed["id"])               # nothing to do: returned as is
            assert delivered is not None and delivered["status"] == "delivered"
    assert [h.status for h in rx.hits] == [503, 503, 503, 200]
    assert len({h.key for h in rx.hits}) == 1
    text = generate_latest(registry).decode()
    assert 'lguapi_webhook_deliveries_total{endpoint="crm",outcome="failed"} 1.0' in text
    assert 'lguapi_webhook_deliveries_total{endpoint="crm",outcome="retry"} 2.0' in text


async def test_4xx_is_permanent_but_429_and_408_are_retried(tmp_path):
    async with Receiver(SECRET.encode(), status=400) as rx:
        async with WebhookDispatcher(tmp_path / "o.sqlite3", [endpoint(rx.url)], **FAST) as disp:
            disp.offer(message(1))
            await until(lambda: len(disp.deliveries("failed")) == 1)
            row = disp.deliveries("failed")[0]
            assert row["attempts"] == 1 and row["last_status"] == 400 and "not retried" in row["last_error"]
            for status in (429, 408):
                rx.status = status
                disp.offer(message(status))
                await rx.wait_for(lambda r, s=status: sum(h.status == s for h in r.hits) >= 2)
                rx.status = 200
                await until(lambda s=status: any(d["event_id"] == s for d in disp.deliveries("delivered")))


async def test_timeouts_and_refused_connections_are_retried(tmp_path):
    async with Receiver(SECRET.encode(), delay=1.0) as rx:
        async with WebhookDispatcher(tmp_path / "o.sqlite3", [endpoint(rx.url, timeout=0.2)],
                                     **FAST) as disp:
            disp.offer(message(1))
            await until(lambda: any((d["last_error"] or "").startswith("timeout")
                                         for d in disp.deliveries("pending")))
            rx.delay = 0.0
            await until(lambda: len(disp.deliveries("delivered")) == 1)
    dead = f"http://127.0.0.1:{dead_port()}/hook"
    async with WebhookDispatcher(tmp_path / "o2.sqlite3", [endpoint(dead)], max_attempts=2, **FAST) as disp:
        disp.offer(message(2))
        await until(lambda: len(disp.deliveries("failed")) == 1)
        row = disp.deliveries("failed")[0]
        assert row["attempts"] == 2 and row["last_status"] is None
        assert "Connect" in row["last_error"] or "connect" in row["last_error"]


async def test_outbox_bound_drops_with_a_clear_log(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="lguapi")
    registry = CollectorRegistry()
    dead = f"http://127.0.0.1:{dead_port()}/hook"
    disp = WebhookDispatcher(tmp_path / "o.sqlite3", [endpoint(dead)], registry=registry, max_outbox=3,
                             backoff_base=30.0, backoff_cap=60.0)
    await disp.start()
    try:
        for i in range(5):
            disp.offer(message(i))
        assert disp.stats()["pending"] == 3 and disp.stats()["dropped"] == 2
        assert "outbox full (max_outbox=3" in caplog.text
        await until(lambda: len(disp.deliveries("pending")) == 3)
    finally:
        await disp.close()
    assert 'outcome="dropped"} 2.0' in generate_latest(registry).decode()


async def test_an_endpoint_can_have_numbers_masked(tmp_path):
    async with Receiver(SECRET.encode()) as rx:
        full = endpoint(rx.url)
        masked = WebhookEndpoint.from_config({"name": "partner", "url": rx.url, "secret": SECRET,
                                              "events": ["call.ringing"], "mask_numbers": True})
        async with WebhookDispatcher(tmp_path / "o.sqlite3", [full, masked], **FAST) as disp:
            disp.offer(message(1))
            await rx.wait_for(lambda r: len(r.delivered) == 2)
    numbers = sorted(h.message["data"]["remote_number"] for h in rx.delivered)
    assert numbers == ["010****5678", "01012345678"] and all(h.verified for h in rx.hits)
    with pytest.raises(ValueError, match="mask_numbers"):
        WebhookEndpoint.from_config({"name": "p", "url": rx.url, "secret": "s", "events": ["*"],
                                     "mask_numbers": "yes"})


async def test_no_secret_in_logs_or_outbox_listing(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="lguapi")
    async with Receiver(SECRET.encode(), fail_first=1) as rx:
        ep = endpoint(rx.url + "?token=querytoken42")
        async with WebhookDispatcher(tmp_path / "o.sqlite3", [ep], max_attempts=2, **FAST) as disp:
            disp.offer(message(1))
            await until(lambda: len(disp.deliveries("delivered")) == 1)
            listing = json.dumps(disp.deliveries())
            text = caplog.text + listing + repr(disp) + repr(ep)
    assert SECRET not in text and "querytoken42" not in text


async def test_bad_delivery_status_is_a_value_error(tmp_path):
    async with WebhookDispatcher(tmp_path / "o.sqlite3", []) as disp:
        with pytest.raises(ValueError, match="unknown delivery status"):
            disp.deliveries("lost")
        disp.offer(message(1))          # no endpoint: nothing queued
        assert disp.stats()["pending"] == 0
    with pytest.raises(ValueError, match="file path"):
        WebhookDispatcher(":memory:", [])


async def test_old_delivered_and_failed_rows_are_pruned(tmp_path):
    async with Receiver(SECRET.encode()) as rx:
        async with WebhookDispatcher(tmp_path / "o.sqlite3", [endpoint(rx.url)], delivered_retention=0.2,
                                     failed_retention=0.2, prune_interval=0.1, **FAST) as disp:
            disp.offer(message(1))
            await until(lambda: len(disp.deliveries("delivered")) == 1)
            rx.status = 400
            disp.offer(message(2))
            await until(lambda: disp.stats()["failed"] == 1)
            await until(lambda: disp.deliveries() == [] and disp.stats()["failed"] == 0)


async def test_a_backlog_beyond_the_memory_window_waits_on_disk_in_order(tmp_path):
    path = tmp_path / "o.sqlite3"
    opts = dict(FAST, memory_window=4, concurrency=1)
    async with Receiver(SECRET.encode(), delay=0.005) as rx:
        async with WebhookDispatcher(path, [endpoint(rx.url)], **opts) as disp:
            for i in range(60):
                disp.offer(message(i))
            await rx.wait_for(lambda r: len(r.delivered) >= 10)
        # closed with most of the backlog still pending: it comes back in order after a restart
        async with WebhookDispatcher(path, [endpoint(rx.url)], **opts) as disp:
            await rx.wait_for(lambda r: len(r.ok_per_key()) == 60)
            await until(lambda: disp.stats()["pending"] == 0)
    assert [h.message["id"] for h in rx.delivered] == list(range(60))      # in order, each once


async def test_offers_after_close_are_counted_and_a_bad_outbox_path_fails_start(tmp_path, caplog):
    disp = WebhookDispatcher(tmp_path / "o.sqlite3", [endpoint("http://127.0.0.1:9/hook")])
    await disp.start()
    await disp.close()
    disp.offer(message(1))
    assert disp.stats()["dropped"] == 1 and "the dispatcher is closed" in caplog.text
    broken = WebhookDispatcher(tmp_path / "no-such-dir" / "o.sqlite3", [endpoint("http://127.0.0.1:9/hook")])
    with pytest.raises(OSError, match="No such file"):
        await broken.start()
    await broken.close()


async def test_pending_deliveries_of_a_removed_endpoint_become_failed(tmp_path):
    path = tmp_path / "o.sqlite3"
    dead = endpoint(f"http://127.0.0.1:{dead_port()}/hook")
    async with WebhookDispatcher(path, [dead], backoff_base=30.0, backoff_cap=60.0) as disp:
        disp.offer(message(1))
        await until(lambda: (disp.deliveries("pending") or [{}])[0].get("attempts") == 1)
    other = WebhookEndpoint.from_config({"name": "erp", "url": "http://127.0.0.1:9/h", "secret": "s",
                                         "events": ["call.ended"]})
    db = sqlite3.connect(path)                   # make its retry due now instead of in 15-60 s
    with db:
        db.execute("UPDATE deliveries SET next_at = 0")
    db.close()
    async with WebhookDispatcher(path, [other]) as disp:
        await until(lambda: len(disp.deliveries("failed")) == 1)
        assert disp.deliveries("failed")[0]["last_error"] == "endpoint not configured"
