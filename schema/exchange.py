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
from schema.types import MemberAndPartner


@strawberry.type(description="A rate-locked offer; request it before it expires.")
class Quote:
    id: strawberry.ID
    direction: Direction
    points: int
    units: int = strawberry.field(description="Partner units the points buy at the quoted rate.")
    rate: Decimal
    fee_points: int
    external_account: str
    expires_at: datetime
    partner_id: strawberry.Private[int]

    @staticmethod
    def from_row(row: Any) -> Quote:
        return Quote(
            id=strawberry.ID(row.id),
            direction=Direction(row.direction),
            points=row.points,
            units=row.units,
            rate=row.rate,
            fee_points=row.fee_points,
            external_account=row.external_account,
            expires_at=row.expires_at,
            partner_id=row.partner_id,
        )

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

    @staticmethod
    def from_row(row: Any) -> Exchange:
        return Exchange(
            id=strawberry.ID(row.id),
            direction=Direction(row.direction),
            state=ExchangeState(row.state),
            points=row.points,
            units=row.units,
            rate=row.rate,
            fee_points=row.fee_points,
            external_account=row.external_account,
            partner_reference=row.partner_reference,
            created_at=row.created_at,
            updated_at=row.updated_at,
            member_id=row.member_id,
            partner_id=row.partner_id,
        )

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
