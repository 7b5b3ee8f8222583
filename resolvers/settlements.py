"""Root fields for settlement: statements (a partner reads only its own), closing, rate cards."""

from __future__ import annotations

import strawberry

from auth import ownership
from partners import rate_card, settlement
from partners.settlement import Period
from resolvers.convert import optional_id, terms
from resolvers.exchanges import own_partner
from schema.info import Info
from schema.inputs import AddRateCardInput
from schema.pagination import parse_id
from schema.partner import RateCard
from schema.permissions import ADMIN, READ_STATEMENTS
from schema.settlement import SettlementStatement, StatementSummary


@strawberry.type
class SettlementQueries:
    @strawberry.field(
        description="The statement of a partner and month (YYYY-MM): CLOSED as frozen, or the "
        "DRAFT recomputed now.",
        permission_classes=[READ_STATEMENTS],
    )
    async def settlement_statement(
        self, info: Info, period: str, partner_id: strawberry.ID | None = None
    ) -> SettlementStatement:
        partner = own_partner(info, partner_id)
        found = await settlement.statement(info.context.db, partner, Period.parse(period))
        return SettlementStatement.build(found)

    @strawberry.field(
        description="Stored statements, newest month first.", permission_classes=[READ_STATEMENTS]
    )
    async def settlement_statements(
        self, info: Info, partner_id: strawberry.ID | None = None
    ) -> list[StatementSummary]:
        wanted = ownership.statements_of(info.context.principal, optional_id(partner_id))
        rows = await settlement.list_statements(info.context.db, partner_id=wanted)
        return [StatementSummary.from_row(row) for row in rows]


@strawberry.type
class SettlementMutations:
    @strawberry.mutation(
        description="Freeze a finished month's statement; closing again answers the same.",
        permission_classes=[ADMIN],
    )
    async def close_settlement_statement(
        self, info: Info, partner_id: strawberry.ID, period: str
    ) -> SettlementStatement:
        closed = await settlement.close(info.context.db, parse_id(partner_id), Period.parse(period))
        return SettlementStatement.build(closed)

    @strawberry.mutation(permission_classes=[ADMIN])
    async def add_rate_card(self, info: Info, input: AddRateCardInput) -> RateCard:
        row = await rate_card.add_rate_card(
            info.context.db, partner_id=parse_id(input.partner_id),
            terms=terms(rate_card.RateCardTerms, input),
            valid_from=input.valid_from, valid_to=input.valid_to,
        )  # fmt: skip
        return RateCard.from_row(row)
