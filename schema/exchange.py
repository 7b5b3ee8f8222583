"""Partner exchanges in the graph: terms, quotes, exchanges with their history, members'
accounts in partner programs with live balances, webhook subscriptions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from schema.enums import Direction, ExchangeState
from schema.info import Info
from schema.partner import Partner, partner_of
from schema.rows import Row
from schema.types import MemberAndPartner


@strawberry.type(description="A rate-locked offer; request it before it expires.")
class Quote(Row):
    id: strawberry.ID
    direction: Direction
    points: int
    units: int = strawberry.field(description="Partner units the points buy at the quoted rate.")
    rate: Decimal
    fee_points: int
    external_account: str
    expires_at: datetime
    partner_id: strawberry.Private[int]

    @strawberry.field
    async def partner(self, info: Info) -> Partner | None:
        return await partner_of(info, self.partner_id)


@strawberry.type
class ExchangeEvent:
    from_state: ExchangeState | None
    to_state: ExchangeState
    reason: str
    at: datetime


@strawberry.type
class Exchange(MemberAndPartner):
    id: strawberry.ID
    direction: Direction
    state: ExchangeState
    points: int
    units: int
    rate: Decimal
    fee_points: int
    external_account: str
    partner_reference: str | None
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="Every state change, oldest first.")
    async def history(self, info: Info) -> list[ExchangeEvent]:
        rows = await info.context.loaders.events_by_exchange.load(str(self.id))
        return [
            ExchangeEvent(
                from_state=None if row.from_state is None else ExchangeState(row.from_state),
                to_state=ExchangeState(row.to_state),
                reason=row.reason,
                at=row.at,
            )
            for row in rows
        ]


@strawberry.type
class WebhookSubscription:
    id: strawberry.ID
    url: str
    secret: str | None = strawberry.field(
        description="Signs every delivery (HMAC-SHA256); shown only when subscribing."
    )
    created_at: datetime

    @staticmethod
    def with_secret(row: Any, secret: str) -> WebhookSubscription:
        """A subscription just made, with its secret (shown this once)."""
        return WebhookSubscription(
            id=strawberry.ID(str(row.id)), url=row.url, secret=secret, created_at=row.created_at
        )
