"""Settlement statements in the graph."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from partners.settlement import Statement as DomainStatement
from partners.statement_report import describe
from schema.info import Info
from schema.partner import Partner, partner_of
from schema.rows import Row


@strawberry.type
class StatementLine:
    kind: str
    description: str
    payer: str = strawberry.field(description="PARTNER or PROGRAM: who pays this line.")
    quantity: Decimal
    unit_rate: Decimal
    commission_percent: Decimal | None = strawberry.field(
        description="For a commission line: the rate card's percentage (unitRate is that share "
        "of the base line's unit rate)."
    )
    amount: Decimal = strawberry.field(
        description="quantity x unitRate rounded half-even; for the platform fee, the monthly fee "
        "x the share of the month the card is in force."
    )
    adjusts_period: str | None = strawberry.field(
        description="For a late event of a closed month: that month."
    )
    transfer_count: int
    rate_card_id: strawberry.ID | None


@strawberry.type
class SettlementStatement:
    period: str
    status: str
    currency: str
    lines: list[StatementLine]
    payable_by_partner: Decimal
    payable_by_program: Decimal
    net: Decimal = strawberry.field(
        description="Positive: the partner pays the program; negative: the program pays."
    )
    inputs_hash: str
    computed_at: datetime | None
    closed_at: datetime | None
    partner_id: strawberry.Private[int]

    @strawberry.field
    async def partner(self, info: Info) -> Partner | None:
        return await partner_of(info, self.partner_id)

    @strawberry.field(description="Where to download it (with the same bearer token).")
    def exports(self) -> list[str]:
        base = f"/settlements/{self.partner_id}/{self.period}"
        return [f"{base}/lines.csv", f"{base}/transfers.csv", f"{base}/report.html"]

    @staticmethod
    def build(statement: DomainStatement) -> SettlementStatement:
        return SettlementStatement(
            period=str(statement.period), status=statement.status.value,
            currency=statement.currency,
            lines=[
                StatementLine(
                    kind=line.kind.value, description=describe(line.kind.value,
                                                                line.adjusts_period),
                    payer=line.payer.value, quantity=line.quantity, unit_rate=line.unit_rate,
                    commission_percent=line.commission_percent, amount=line.amount,
                    adjusts_period=line.adjusts_period, transfer_count=line.transfer_count,
                    rate_card_id=None if line.card_id is None else strawberry.ID(str(line.card_id)),
                )
                for line in statement.lines
            ],
            payable_by_partner=statement.payable_by_partner,
            payable_by_program=statement.payable_by_program, net=statement.net,
            inputs_hash=statement.inputs_hash, computed_at=statement.computed_at,
            closed_at=statement.closed_at, partner_id=statement.partner_id,
        )  # fmt: skip


@strawberry.type
class StatementSummary(Row):
    period: str
    status: str
    currency: str
    payable_by_partner: Decimal
    payable_by_program: Decimal
    closed_at: datetime | None
    partner_id: strawberry.Private[int]

    @strawberry.field
    async def partner(self, info: Info) -> Partner | None:
        return await partner_of(info, self.partner_id)
