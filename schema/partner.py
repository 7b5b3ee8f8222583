"""Partners in the graph: the partner itself (a federation entity), its dated exchange terms, and
a member's account in its program with the live balance."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from partners.settlement import plain
from schema.enums import Direction
from schema.info import Info
from schema.pagination import parse_id
from schema.rows import Row


@strawberry.federation.type(keys=["id"])
class Partner(Row):
    id: strawberry.ID
    code: str
    name: str
    status: str
    settlement_currency: str
    connector_kind: str
    timezone: str

    @strawberry.field(description="Exchange terms per direction, dated, oldest first.")
    async def exchange_terms(self, info: Info) -> list[ExchangeTerms]:
        rows = await info.context.loaders.terms_by_partner.load(int(self.id))
        return [ExchangeTerms.from_row(row) for row in rows]

    @strawberry.field(
        description="The partner's rate cards (commissions and fees), dated, oldest first: an "
        "operator sees every partner's, a partner's client its own, anyone else none."
    )
    async def rate_cards(self, info: Info) -> list[RateCard]:
        rows = await info.context.loaders.rate_cards_by_partner.load(int(self.id))
        return [RateCard.from_row(row) for row in rows]

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
class ExchangeTerms(Row):
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


@strawberry.type(description="A partner's dated commission and fee terms (settlement currency).")
class RateCard(Row):
    id: strawberry.ID
    point_value: Decimal
    issuance_cost_per_point: Decimal
    redemption_commission_percent: Decimal
    outbound_unit_price: Decimal
    exchange_commission_percent: Decimal
    platform_fee_monthly: Decimal
    api_transaction_fee: Decimal
    valid_from: datetime
    valid_to: datetime | None

    @classmethod
    def from_row(cls, row: Any, **given: Any) -> RateCard:
        """As written (0.01, 3, 99), not as stored with the column's scale (0.01000000)."""
        terms = {name: plain(getattr(row, name)) for name in RATE_CARD_TERMS}
        return super().from_row(row, **terms, **given)


RATE_CARD_TERMS = (
    "point_value",
    "issuance_cost_per_point",
    "redemption_commission_percent",
    "outbound_unit_price",
    "exchange_commission_percent",
    "platform_fee_monthly",
    "api_transaction_fee",
)
