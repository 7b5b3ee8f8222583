"""Member events out: queued with the change that makes them, for the program's subscriptions
that want them, and sent signed through the same outbox as exchange events."""

from __future__ import annotations

from datetime import timedelta

import httpx
import orjson
from sqlalchemy import select

from infra.models import coupons, webhook_deliveries
from loyalty.promotions import offer
from partners import webhook
from partners.egress import EgressPolicy
from partners.simulated import signature
from tests.factories import a_member, a_partner, a_purchase
from tests.loyalty.promotions.test_offers import DAY_0, the_offers

CRM = EgressPolicy(allow_hosts=frozenset({"crm.test", "push.test", "acme.test"}))


async def queued(db) -> list[tuple[int, str, dict]]:
    async with db.read() as conn:
        return [
            (row.subscription_id, row.event, orjson.loads(row.payload))
            for row in await conn.execute(
                select(webhook_deliveries).order_by(webhook_deliveries.c.id)
            )
        ]  # fmt: skip


async def test_member_events_reach_the_subscriptions_that_want_them_signed(db, program):
    await the_offers(db, program)
    crm, crm_secret = await webhook.subscribe(db, partner_id=None, url="https://crm.test/in",
                                              egress=CRM)  # fmt: skip
    push, _ = await webhook.subscribe(db, partner_id=None, url="https://push.test/in",
                                      events=["tier.changed"], egress=CRM)  # fmt: skip
    shop = await a_partner(db, "acme-coffee")
    await webhook.subscribe(db, partner_id=shop.id, url="https://acme.test/in", egress=CRM)

    ada = await a_member(db, now=DAY_0)
    await a_purchase(db, program, ada.id, "5000.00", at=DAY_0 + timedelta(days=1))

    events = await queued(db)
    to_crm = [(event, body) for sub, event, body in events if sub == crm.id]
    assert [event for event, _ in to_crm] == [
        "benefit.granted",
        "coupon.issued",  # at enrolment: the gift pack, the first-order coupon
        "tier.changed",
        "coupon.issued",
        "benefit.granted",  # GOLD and its threshold coupon
    ]
    assert [(e, b["to_tier"], b["reason"]) for s, e, b in events if s == push.id] == [
        ("tier.changed", "GOLD", "UPGRADE")
    ]
    assert {sub for sub, _, _ in events} == {crm.id, push.id}  # the partner's hears none
    issued = next(body for event, body in to_crm if event == "coupon.issued")
    assert issued["member_id"] == ada.id and issued["template"] == "first-order"

    received = []

    def crm_endpoint(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    http = httpx.AsyncClient(transport=httpx.MockTransport(crm_endpoint))
    report = await webhook.deliver_due(db, http, egress=CRM, now=DAY_0 + timedelta(days=2))

    assert report.delivered == 6
    first = next(r for r in received if r.url.host == "crm.test")
    timestamp = first.headers["x-pointgate-timestamp"]
    assert first.headers["x-pointgate-signature"] == signature(crm_secret, timestamp,
                                                               first.content)  # fmt: skip


async def test_the_daily_job_announces_lifecycle_changes_and_coming_expiries_once(db, program):
    await the_offers(db, program)
    await webhook.subscribe(db, partner_id=None, url="https://crm.test/in", egress=CRM,
                            events=["lifecycle.changed", "coupon.expiring"])  # fmt: skip
    ada = await a_member(db, now=DAY_0)  # a first-order coupon valid 30 days

    first = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=1))
    near_the_end = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=29))
    again = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=29, hours=1))
    no_longer_new = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=31))

    events = [(event, body) for _, event, body in await queued(db)]
    # seen for the first time (NEW): recorded, not announced
    assert (first.lifecycle_changes, first.expiring) == (0, 0)
    # the first-order coupon (valid 30 days) ends within two days: announced once
    assert (near_the_end.expiring, again.expiring) == (1, 0)
    assert (no_longer_new.lifecycle_changes, no_longer_new.expired) == (1, 1)
    assert [e for e, _ in events] == ["coupon.expiring", "lifecycle.changed"]
    changed = dict(events)["lifecycle.changed"]
    assert (changed["member_id"], changed["from_lifecycle"], changed["to_lifecycle"]) == (
        ada.id, "NEW", "DORMANT")  # fmt: skip
    async with db.read() as conn:
        states = list(await conn.scalars(select(coupons.c.state).where(
            coupons.c.member_id == ada.id).order_by(coupons.c.id)))  # fmt: skip
    # the first-order coupon is EXPIRED (the win-back offer waits for 90 quiet days)
    assert states == ["EXPIRED"]
