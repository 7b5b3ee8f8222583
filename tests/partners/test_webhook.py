"""Webhook deliveries: queued with each exchange state change, HMAC-signed, retried with
backoff, recorded."""

from __future__ import annotations

from datetime import timedelta

import httpx
import orjson
from sqlalchemy import select

from infra.models import webhook_deliveries
from partners import webhook
from partners.directory import ConnectorDirectory
from partners.simulated import signature
from tests.partners.test_exchange import (
    NOW,
    a_member_with_an_account,
    a_partner_with_terms,
    an_exchange,
)


async def deliveries(db):
    async with db.read() as conn:
        return list(
            await conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.id))
        )


async def test_state_changes_are_delivered_signed_and_retried_until_accepted(db):
    partner = await a_partner_with_terms(db)
    _subscription, secret = await webhook.subscribe(
        db, partner_id=partner.id, url="https://acme.test/hooks", now=NOW
    )
    holder = await a_member_with_an_account(db, partner)
    done = await an_exchange(db, ConnectorDirectory(), holder, partner)
    received: list[httpx.Request] = []
    answers = iter([503, 200, 200, 200])

    def partner_endpoint(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(next(answers))

    http = httpx.AsyncClient(transport=httpx.MockTransport(partner_endpoint))
    first = await webhook.deliver_due(db, http, now=NOW)
    too_early = await webhook.deliver_due(db, http, now=NOW + timedelta(seconds=5))
    retried = await webhook.deliver_due(db, http, now=NOW + timedelta(seconds=11))

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
        await webhook.deliver_due(db, http, now=at)
        at += webhook.next_delay(attempt)

    rows = await deliveries(db)
    assert {(row.status, row.attempts, row.last_status) for row in rows} == {
        ("FAILED", webhook.MAX_ATTEMPTS, "HTTP 500")
    }
    await http.aclose()
