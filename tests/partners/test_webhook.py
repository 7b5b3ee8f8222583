"""Webhook deliveries: queued with each exchange state change, HMAC-signed, retried with
backoff, recorded."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import httpx
import orjson
import pytest
from sqlalchemy import select

from infra.models import webhook_deliveries
from loyalty.errors import ValidationFailed
from partners import webhook
from partners.directory import ConnectorDirectory
from partners.egress import EgressPolicy
from partners.simulated import signature
from tests.factories import NOW, a_member_with_an_account, a_partner_with_terms
from tests.partners.test_exchange import an_exchange

TEST_HOSTS = EgressPolicy(allow_hosts=frozenset({"acme.test", "down.test"}))


async def deliveries(db):
    async with db.read() as conn:
        return list(
            await conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.id))
        )


async def test_state_changes_are_delivered_signed_and_retried_until_accepted(db):
    partner = await a_partner_with_terms(db)
    _subscription, secret = await webhook.subscribe(
        db, partner_id=partner.id, url="https://acme.test/hooks", now=NOW
    )  # .test names resolve nowhere: the receiver is a MockTransport, allowed by name
    holder = await a_member_with_an_account(db, partner)
    done = await an_exchange(db, ConnectorDirectory(), holder, partner)
    received: list[httpx.Request] = []
    answers = iter([503, 200, 200, 200])

    def partner_endpoint(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(next(answers))

    http = httpx.AsyncClient(transport=httpx.MockTransport(partner_endpoint))
    first = await webhook.deliver_due(db, http, egress=TEST_HOSTS, now=NOW)
    too_early = await webhook.deliver_due(
        db, http, egress=TEST_HOSTS, now=NOW + timedelta(seconds=5)
    )
    retried = await webhook.deliver_due(
        db, http, egress=TEST_HOSTS, now=NOW + timedelta(seconds=11)
    )

    # REQUESTED, RESERVED and POSTED each queued one delivery
    assert (first.delivered, first.retrying) == (2, 1)
    assert (too_early.delivered, too_early.retrying) == (0, 0)
    assert (retried.delivered, retried.retrying) == (1, 0)
    rows = await deliveries(db)
    assert [row.status for row in rows] == ["DELIVERED"] * 3
    assert [row.attempts for row in rows] == [2, 1, 1]
    states = [orjson.loads(row.payload)["state"] for row in rows]
    assert states == ["REQUESTED", "RESERVED", "POSTED"]
    request = received[-1]
    expected = signature(secret, request.headers["x-pointgate-timestamp"], request.content)
    assert request.headers["x-pointgate-signature"] == expected
    assert orjson.loads(request.content)["exchange_id"] == done.id
    await http.aclose()


async def test_a_delivery_gives_up_after_the_last_attempt(db):
    partner = await a_partner_with_terms(db)
    await webhook.subscribe(db, partner_id=partner.id, url="https://down.test/hooks", now=NOW)
    holder = await a_member_with_an_account(db, partner)
    await an_exchange(db, ConnectorDirectory(), holder, partner)
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(500)))

    at = NOW
    for attempt in range(1, webhook.MAX_ATTEMPTS + 1):
        await webhook.deliver_due(db, http, egress=TEST_HOSTS, now=at)
        at += webhook.next_delay(attempt)

    rows = await deliveries(db)
    assert {(row.status, row.attempts, row.last_status) for row in rows} == {
        ("FAILED", webhook.MAX_ATTEMPTS, "HTTP 500")
    }
    await http.aclose()


REFUSED_URLS = [
    "http://127.0.0.1:8839/hook",
    "https://127.0.0.1/hook",
    "https://[::1]/hook",
    "https://10.0.0.5/hook",
    "https://192.168.1.1/hook",
    "https://172.16.0.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hook",
    "https://[::ffff:127.0.0.1]/hook",
    # IPv4 embedded in IPv6, found from outside: compatible, NAT64, 6to4, Teredo, SIIT
    "https://[::7f00:1]/hook",
    "https://[64:ff9b::7f00:1]/hook",
    "https://[64:ff9b:1::a00:5]/hook",
    "https://[2002:7f00:1::1]/hook",
    "https://[2002:a9fe:a9fe::1]/hook",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
    "https://[::ffff:0:7f00:1]/hook",
    "https://0.0.0.0/hook",
    "https://localhost/hook",
    "https://user:pw@partner.example/hook",
    "ftp://partner.example/hook",
    "https:///nohost",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_webhooks_to_internal_addresses_are_refused_at_subscription(db, url):
    partner = await a_partner_with_terms(db)

    with pytest.raises(ValidationFailed):
        await webhook.subscribe(db, partner_id=partner.id, url=url, now=NOW)


async def test_production_wants_https_and_development_may_allow_a_local_receiver(db):
    partner = await a_partner_with_terms(db)
    local = EgressPolicy(https_only=False, allow_hosts=frozenset({"127.0.0.1"}))

    with pytest.raises(ValidationFailed):
        await webhook.subscribe(db, partner_id=partner.id, url="http://partner.example/h")
    row, _ = await webhook.subscribe(
        db, partner_id=partner.id, url="http://127.0.0.1:8839/h", egress=local
    )
    assert row.url == "http://127.0.0.1:8839/h"


async def test_a_name_that_resolves_to_a_private_address_at_delivery_is_not_called(db, monkeypatch):
    partner = await a_partner_with_terms(db)
    await webhook.subscribe(db, partner_id=partner.id, url="https://rebind.example/h", now=NOW)
    holder = await a_member_with_an_account(db, partner)
    await an_exchange(db, ConnectorDirectory(), holder, partner)
    answers = {"rebind.example": "127.0.0.1"}

    async def resolve(self, host, port, **_):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(asyncio.get_running_loop().__class__, "getaddrinfo", resolve)
    called: list[httpx.Request] = []
    http = httpx.AsyncClient(transport=httpx.MockTransport(
        lambda request: called.append(request) or httpx.Response(200)))  # fmt: skip

    refused = await webhook.deliver_due(db, http, now=NOW)
    answers["rebind.example"] = "93.184.216.34"
    delivered = await webhook.deliver_due(db, http, now=NOW + timedelta(hours=1))

    assert (refused.delivered, refused.retrying) == (0, 3)
    assert {row.last_status for row in await deliveries(db)} == {"HTTP 200"}
    assert delivered.delivered == 3
    # sent to the address that was checked, under the subscribed name
    assert {(r.url.host, r.headers["host"], r.extensions["sni_hostname"]) for r in called} == {
        ("93.184.216.34", "rebind.example", "rebind.example")}  # fmt: skip
