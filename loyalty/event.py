"""Member events out (coupon.issued, coupon.expiring, tier.changed, lifecycle.changed,
benefit.granted): queued in the transaction that makes them, for every active program-wide
webhook subscription that wants the event, then sent, signed and retried, by the same outbox
as exchange events (partners.webhook.deliver_due). One INSERT ... SELECT per event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import webhook_deliveries, webhook_subscriptions
from infra.types import UtcDateTime

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
    await conn.execute(
        insert(webhook_deliveries).from_select(
            ["subscription_id", "event", "payload", "status", "next_attempt_at", "created_at"],
            subscribers,
        )
    )
