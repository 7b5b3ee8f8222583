"""Partners in the graph: the partner itself (a federation entity), its dated exchange terms, and
a member's account in its program with the live balance."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from schema.enums import Direction
from schema.info import Info
from schema.pagination import parse_id


@strawberry.federation.type(keys=["id"])
class Partner:
    id: strawberry.ID
    code: str
    name: str
    status: str
    settlement_currency: str
    connector_kind: str
    timezone: str

    @staticmethod
    def from_row(row: Any) -> Partner:
        return Partner(
            id=strawberry.ID(str(row.id)), code=row.code, name=row.name, status=row.status,
            settlement_currency=row.settlement_currency, connector_kind=row.connector_kind,
            timezone=row.timezone,
        )  # fmt: skip

    @strawberry.field(description="Exchange terms per direction, dated, oldest first.")
    async def exchange_terms(self, info: Info) -> list[ExchangeTerms]:
        rows = await info.context.loaders.terms_by_partner.load(int(self.id))
        return [ExchangeTerms.from_row(row) for row in rows]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Partner | None:
        row = await info.context.loaders.partner_by_id.load(parse_id(id))
        return None if row is None else cls.from_row(row)


async def partner_of(info: Info, partner_id: int | None) -> Partner | None:
    """The partner, or null when there is none or the caller may not see it."""
    if partner_id is None:
        return None
    row = await info.context.loaders.partner_by_id.load(partner_id)
    return None if row is None else Partner.from_row(row)


@strawberry.type
class ExchangeTerms:
    id: strawberry.ID
    direction: Direction
    rate: Decimal = strawberry.field(description="Program points per partner unit.")
    min_points: int
    max_points: int
    step_points: int
    daily_cap_points: int = strawberry.field(description="Per member and day (UTC).")
    fee_points: int
    valid_from: datetime
    valid_to: datetime | None

    @staticmethod
    def from_row(row: Any) -> ExchangeTerms:
        return ExchangeTerms(
            id=strawberry.ID(str(row.id)),
            direction=Direction(row.direction),
            rate=row.rate,
            min_points=row.min_points,
            max_points=row.max_points,
            step_points=row.step_points,
            daily_cap_points=row.daily_cap_points,
            fee_points=row.fee_points,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
        )


@strawberry.type(description="A member's account in a partner's program.")
class PartnerAccount:
    external_id: str
    partner_id: strawberry.Private[int]

    @strawberry.field
    async def partner(self, info: Info) -> Partner | None:
        return await partner_of(info, self.partner_id)

    @strawberry.field(
        description="Live from the partner (one call per partner per request, with a deadline); "
        "null with an error on this field when the partner does not answer in time."
    )
    async def balance(self, info: Info) -> int | None:
        value: int = await info.context.loaders.partner_balance.load(
            (self.partner_id, self.external_id)
        )
        return value
