"""Webhooks: partners subscribe to their exchanges' state changes. Deliveries are queued in the
transaction that changes the exchange (an outbox), sent HMAC-signed like connector calls, retried
with exponential backoff, and every attempt's result is recorded."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from infra.database import Database
from infra.models import webhook_deliveries, webhook_subscriptions
from infra.partner_records import DeliveryRow, SubscriptionRow
from loyalty.errors import NotFound, ValidationFailed
from loyalty.event import MEMBER_EVENTS
from partners.egress import EgressPolicy, EgressRefused
from partners.registry import partner_row
from partners.simulated import signature

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=10)


STRICT = EgressPolicy()


async def subscribe(
    db: Database,
    *,
    partner_id: int | None,
    url: str,
    events: list[str] | None = None,
    egress: EgressPolicy = STRICT,
    now: datetime | None = None,
) -> tuple[SubscriptionRow, str]:
    """A subscription and its signing secret (shown once), to a URL the egress policy allows:
    a partner's to its exchanges' state changes, or (no partner) the program's to member events
    (loyalty.event.MEMBER_EVENTS; `events` picks some, none given: all)."""
    egress.check_url(url)
    if events is not None and (
        partner_id is not None or not events or set(events) - set(MEMBER_EVENTS)
    ):
        raise ValidationFailed(f"events are some of {', '.join(MEMBER_EVENTS)}",
                               argument="events")  # fmt: skip
    secret = secrets.token_urlsafe(32)
    async with db.transaction() as conn:
        if partner_id is not None:
            await partner_row(conn, partner_id)
        row = (
            await conn.execute(
                insert(webhook_subscriptions)
                .values(
                    partner_id=partner_id,
                    events=None if events is None else ",".join(sorted(set(events))),
                    url=url,
                    secret=secret,
                    created_at=now or datetime.now(UTC),
                )
                .returning(*webhook_subscriptions.c)
            )
        ).one()
    return row, secret


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int
    retrying: int
    failed: int


def next_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s, ... after the first, second, third failure."""
    return FIRST_RETRY * 2 ** (attempts - 1)


async def deliver_due(
    db: Database,
    http: httpx.AsyncClient,
    *,
    egress: EgressPolicy = STRICT,
    now: datetime | None = None,
    limit: int = 100,
) -> DeliveryReport:
    """Send due deliveries, each to an address the egress policy allows at this moment."""
    now = now or datetime.now(UTC)
    async with db.read() as conn:
        due = list(
            await conn.execute(
                select(
                    webhook_deliveries, webhook_subscriptions.c.url, webhook_subscriptions.c.secret
                )
                .join(
                    webhook_subscriptions,
                    webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id,
                )
                .where(
                    webhook_deliveries.c.status == "PENDING",
                    webhook_deliveries.c.next_attempt_at <= now,
                )
                .order_by(webhook_deliveries.c.next_attempt_at)
                .limit(limit)
            )
        )
    outcomes: Counter[str] = Counter()
    for delivery in due:
        ok, status = await _send(http, egress, delivery)
        attempts = delivery.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "last_status": status}
        if ok:
            values.update(status="DELIVERED", delivered_at=now)
        elif attempts >= MAX_ATTEMPTS:
            values["status"] = "FAILED"
        else:
            values["next_attempt_at"] = now + next_delay(attempts)
        outcomes[values.get("status", "RETRYING")] += 1
        async with db.transaction() as conn:
            await conn.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == delivery.id)
                .values(values)
            )
    return DeliveryReport(
        delivered=outcomes["DELIVERED"], retrying=outcomes["RETRYING"], failed=outcomes["FAILED"]
    )


async def _send(http: httpx.AsyncClient, egress: EgressPolicy, delivery: Any) -> tuple[bool, str]:
    """POST one signed delivery; whether it was accepted, and the status to record."""
    body = delivery.payload.encode()
    timestamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-pointgate-timestamp": timestamp,
        "x-pointgate-signature": signature(delivery.secret, timestamp, body),
        "x-pointgate-delivery": str(delivery.id),
    }
    try:
        response = await egress.post(http, delivery.url, content=body, headers=headers)
    except httpx.HTTPError as error:
        return False, type(error).__name__
    except (EgressRefused, ValidationFailed):
        return False, "EGRESS_REFUSED"
    return response.is_success, f"HTTP {response.status_code}"


async def subscriptions_of(db: Database, partner_id: int | None) -> list[SubscriptionRow]:
    """A partner's subscriptions (None: the program's own), oldest first."""
    whose = (webhook_subscriptions.c.partner_id.is_(None) if partner_id is None
             else webhook_subscriptions.c.partner_id == partner_id)  # fmt: skip
    async with db.read() as conn:
        return list(await conn.execute(
            select(webhook_subscriptions).where(whose).order_by(webhook_subscriptions.c.id)
        ))  # fmt: skip


async def recent_deliveries(
    db: Database, *, partner_id: int | None, limit: int, before_id: int | None = None
) -> list[Any]:
    """Deliveries newest first, with their subscription's URL: a partner's (or, None, every
    one), a page of `limit` before the delivery `before_id`."""
    query = (
        select(webhook_deliveries, webhook_subscriptions.c.url, webhook_subscriptions.c.partner_id)
        .join(webhook_subscriptions,
              webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )  # fmt: skip
    if partner_id is not None:
        query = query.where(webhook_subscriptions.c.partner_id == partner_id)
    if before_id is not None:
        query = query.where(webhook_deliveries.c.id < before_id)
    async with db.read() as conn:
        return list(await conn.execute(query))


async def resend(
    db: Database, delivery_id: int, *, partner_id: int | None, now: datetime | None = None
) -> DeliveryRow:
    """Send a delivery (delivered, failed or waiting) once more, at the next run of the
    sender; `partner_id`: only one of that partner's. NOT_FOUND otherwise."""
    owned = select(webhook_subscriptions.c.id)
    if partner_id is not None:
        owned = owned.where(webhook_subscriptions.c.partner_id == partner_id)
    async with db.transaction() as conn:
        row = (await conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id,
                   webhook_deliveries.c.subscription_id.in_(owned))
            .values(status="PENDING", next_attempt_at=now or datetime.now(UTC))
            .returning(*webhook_deliveries.c)
        )).first()  # fmt: skip
    if row is None:
        raise NotFound(f"delivery {delivery_id} does not exist")
    return row
