"""Member events out (coupon.issued, coupon.expiring, tier.changed, lifecycle.changed,
benefit.granted): queued in the transaction that makes them, for every active program-wide
webhook subscription that wants the event, then sent, signed and retried, by the same outbox
as exchange events (partners.webhook.deliver_due); coupons issued, tier changes and benefits
granted are live events too (loyalty.live). One statement per event on PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import live_events, webhook_deliveries, webhook_subscriptions
from infra.types import UtcDateTime
from loyalty.live import Kind

# The events members follow live too (loyalty.live), and which of their fields the live row
# shows as its subject and state.
LIVE = {"coupon.issued": Kind.COUPON, "tier.changed": Kind.TIER, "benefit.granted": Kind.BENEFIT}
LIVE_COLUMNS = {
    Kind.COUPON: {"subject": "coupon_id", "state": "code"},
    Kind.TIER: {"subject": "from_tier", "state": "to_tier"},
    Kind.BENEFIT: {"subject": "period", "state": "benefit"},
}

MEMBER_EVENTS = (
    "coupon.issued", "coupon.expiring", "tier.changed", "lifecycle.changed", "benefit.granted",
)  # fmt: skip


async def emit(conn: AsyncConnection, event: str, at: datetime, **fields: Any) -> None:
    """Queue `event` with `fields` for the program's subscriptions that want it."""
    payload = orjson.dumps({"event": event, "at": at.isoformat(), **fields}, default=str).decode()
    wanted = (literal(",") + webhook_subscriptions.c.events + literal(",")).like(f"%,{event},%")
    due = literal(at, UtcDateTime())
    subscribers = select(
        webhook_subscriptions.c.id, literal(event), literal(payload), literal("PENDING"), due, due
    ).where(
        webhook_subscriptions.c.partner_id.is_(None),
        webhook_subscriptions.c.active == 1,
        or_(webhook_subscriptions.c.events.is_(None), wanted),
    )
    queued = insert(webhook_deliveries).from_select(
        ["subscription_id", "event", "payload", "status", "next_attempt_at", "created_at"],
        subscribers,
    )
    kind = LIVE.get(event)
    if kind is None:
        await conn.execute(queued)
        return
    heard = insert(live_events).values(
        at=at, kind=kind, member_id=fields.get("member_id"),
        body=orjson.dumps(fields, default=str).decode(),
        **{column: None if fields.get(name) is None else str(fields[name])
           for column, name in LIVE_COLUMNS[kind].items()},
    )  # fmt: skip
    if conn.dialect.name == "postgresql":  # one statement: the deliveries and the live event
        await conn.execute(heard.add_cte(queued.cte("queued")))
    else:
        await conn.execute(queued)
        await conn.execute(heard)
