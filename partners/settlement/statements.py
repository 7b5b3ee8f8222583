"""Statements: computed from the ledger and usage, stored as DRAFT on every read, and frozen on
close with the transfers behind each line; late events of a closed month are billed as
ADJUSTMENT lines of the first open month after it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import (
    api_usage,
    coupon_templates,
    coupons,
    partners,
    rate_cards,
    statement_lines,
    statement_transfers,
    statements,
    transfers,
)
from infra.partner_records import RateCardRow, StatementRow
from loyalty import live
from loyalty.errors import InvalidState
from partners.registry import partner_row as registry_partner
from partners.settlement.aggregation import (
    ACTIVITY_KINDS,
    aggregate,
    billable_activity,
    not_yet_billed,
)
from partners.settlement.periods import Period, minor_unit, plain, zone_of
from partners.settlement.pricing import (
    Line,
    LineKind,
    Payer,
    card_segments,
    fee_line,
    lines_from,
    priced_line,
    segment_index,
)


class StatementStatus(StrEnum):
    DRAFT = "DRAFT"
    CLOSED = "CLOSED"


@dataclass
class Statement:
    partner_id: int
    period: Period
    status: StatementStatus
    currency: str
    lines: list[Line] = field(default_factory=list)
    inputs_hash: str = ""
    computed_at: datetime | None = None
    closed_at: datetime | None = None
    id: int | None = None
    # The first transfer (lowest id) no rate card prices, if any: the month cannot close.
    first_unpriced: int | None = None

    @property
    def unpriced(self) -> int:
        return sum(line.transfer_count for line in self.lines if line.kind is LineKind.UNPRICED)

    @property
    def payable_by_partner(self) -> Decimal:
        return sum(
            (line.amount for line in self.lines if line.payer is Payer.PARTNER),
            Decimal(0).quantize(minor_unit(self.currency)),
        )

    @property
    def payable_by_program(self) -> Decimal:
        return sum(
            (line.amount for line in self.lines if line.payer is Payer.PROGRAM),
            Decimal(0).quantize(minor_unit(self.currency)),
        )

    @property
    def net(self) -> Decimal:
        """Positive: the partner pays the program; negative: the program pays the partner."""
        return self.payable_by_partner - self.payable_by_program


async def rate_cards_of_partner(conn: AsyncConnection, partner_id: int) -> list[RateCardRow]:
    return list(await conn.execute(select(rate_cards).where(rate_cards.c.partner_id == partner_id)))


async def closed_periods(conn: AsyncConnection, partner_id: int) -> set[str]:
    return set(
        await conn.scalars(
            select(statements.c.period).where(
                statements.c.partner_id == partner_id,
                statements.c.status == StatementStatus.CLOSED,
            )
        )
    )


def late_periods(period: Period, closed: set[str]) -> list[Period]:
    """Closed months whose late events land in `period`: it is the first open month after."""
    late = []
    for month in sorted(closed):
        candidate = Period.parse(month)
        target = candidate.following()
        while str(target) in closed:
            target = target.following()
        if target == period:
            late.append(candidate)
    return late


async def compute(
    conn: AsyncConnection, partner_id: int, period: Period, *, now: datetime | None = None
) -> Statement:
    """The statement as the ledger stands now (not stored)."""
    if conn.dialect.name == "postgresql":
        # A plan this cheap gains nothing from JIT, which would cost more than the query.
        await conn.execute(text("SET LOCAL jit = off"))
    partner = await registry_partner(conn, partner_id)
    zone = zone_of(partner)
    start, end = period.bounds(zone)
    cards = await rate_cards_of_partner(conn, partner_id)
    currency = partner.settlement_currency
    segments = card_segments(cards, start, end)
    rows = await aggregate(conn, partner_id, [(start, end)], segments)
    lines, fingerprint = lines_from(rows, segments, currency)
    unpriced_ids = [row.id_min for row in rows if row.id_min is not None]

    usage_segment = segment_index(api_usage.c.minute, segments).label("segment")
    usage = list(
        await conn.execute(
            select(usage_segment, func.sum(api_usage.c.calls).label("calls"))
            .where(api_usage.c.partner_id == partner_id, api_usage.c.minute >= start,
                   api_usage.c.minute < end)
            .group_by(usage_segment)
        )
    )  # fmt: skip
    for row in sorted(usage, key=lambda r: r.segment):
        if row.segment >= 0:
            card = segments[row.segment].card
            lines.append(
                priced_line(LineKind.API_TRANSACTIONS, card, Decimal(int(row.calls)), 0, currency)
            )
            fingerprint.append(["API", card.id, int(row.calls)])
    for segment in segments:
        fee = fee_line(segment, (start, end), zone, currency)
        if fee is not None:
            lines.append(fee)
    funded = await _funded_discounts(conn, partner_id, start, end, currency)
    if funded is not None:
        lines.append(funded[0])
        fingerprint.append(funded[1])

    for late in late_periods(period, await closed_periods(conn, partner_id)):
        late_start, late_end = late.bounds(zone)
        late_segments = card_segments(cards, late_start, late_end)
        late_rows = await aggregate(
            conn, partner_id, [(late_start, late_end)], late_segments, not_yet_billed()
        )
        late_lines, late_print = lines_from(late_rows, late_segments, currency, str(late))
        lines += late_lines
        fingerprint += late_print
        unpriced_ids += [row.id_min for row in late_rows if row.id_min is not None]

    fingerprint.append([str(period), partner.timezone, currency,
                        sorted([c.id for c in cards])])  # fmt: skip
    digest = hashlib.sha256(orjson.dumps(fingerprint, default=str)).hexdigest()
    return Statement(partner_id=partner_id, period=period, status=StatementStatus.DRAFT,
                     currency=currency, lines=lines, inputs_hash=digest,
                     computed_at=now or datetime.now(UTC),
                     first_unpriced=min(unpriced_ids, default=None))  # fmt: skip


async def _funded_discounts(
    conn: AsyncConnection, partner_id: int, start: datetime, end: datetime, currency: str
) -> tuple[Line, list[Any]] | None:
    """The discounts of the coupons the partner funds, redeemed in the period: what it owes
    for them, one line, and what the statement's fingerprint takes of it (None: no such
    coupon)."""
    funded = (
        await conn.execute(
            select(func.count().label("coupons"), func.sum(coupons.c.discount).label("total"))
            .join(coupon_templates, coupon_templates.c.id == coupons.c.template_id)
            .where(coupon_templates.c.funded_by_partner_id == partner_id,
                   coupons.c.state == "REDEEMED", coupons.c.redeemed_at >= start,
                   coupons.c.redeemed_at < end)
        )
    ).one()  # fmt: skip
    if not funded.coupons:
        return None
    total = Decimal(funded.total)
    line = Line(LineKind.FUNDED_DISCOUNTS, Payer.PARTNER, None, plain(total), Decimal(1),
                total.quantize(minor_unit(currency)), funded.coupons)  # fmt: skip
    return line, ["FUNDED", str(total), funded.coupons]


async def stored_statement(
    conn: AsyncConnection, partner_id: int, period: Period
) -> Statement | None:
    header = (
        await conn.execute(
            select(statements).where(
                statements.c.partner_id == partner_id, statements.c.period == str(period)
            )
        )
    ).first()
    if header is None:
        return None
    minor = minor_unit(header.currency)
    lines = [
        Line(LineKind(r.kind), Payer(r.payer), r.rate_card_id, plain(r.quantity),
             plain(r.unit_rate), r.amount.quantize(minor), r.transfer_count, r.adjusts_period,
             None if r.commission_percent is None else plain(r.commission_percent))
        for r in await conn.execute(
            select(statement_lines)
            .where(statement_lines.c.statement_id == header.id)
            .order_by(statement_lines.c.position)
        )
    ]  # fmt: skip
    return Statement(
        partner_id=partner_id, period=period, status=StatementStatus(header.status),
        currency=header.currency, lines=lines, inputs_hash=header.inputs_hash,
        computed_at=header.computed_at, closed_at=header.closed_at, id=header.id,
    )  # fmt: skip


async def _save(conn: AsyncConnection, statement: Statement) -> int:
    values = {
        "partner_id": statement.partner_id, "period": str(statement.period),
        "status": statement.status, "currency": statement.currency,
        "payable_by_partner": statement.payable_by_partner,
        "payable_by_program": statement.payable_by_program,
        "inputs_hash": statement.inputs_hash, "computed_at": statement.computed_at,
        "closed_at": statement.closed_at,
    }  # fmt: skip
    existing = await conn.scalar(
        select(statements.c.id).where(
            statements.c.partner_id == statement.partner_id,
            statements.c.period == str(statement.period),
        )
    )
    if existing is None:
        statement_id = int(
            await conn.scalar(insert(statements).values(values).returning(statements.c.id))
        )
    else:
        statement_id = int(existing)
        await conn.execute(update(statements).where(statements.c.id == statement_id).values(values))
        await conn.execute(
            delete(statement_lines).where(statement_lines.c.statement_id == statement_id)
        )
    if statement.lines:
        await conn.execute(
            insert(statement_lines),
            [
                {"statement_id": statement_id, "position": n, "kind": line.kind,
                 "payer": line.payer, "rate_card_id": line.card_id,
                 "adjusts_period": line.adjusts_period, "quantity": line.quantity,
                 "unit_rate": line.unit_rate, "amount": line.amount,
                 "transfer_count": line.transfer_count,
                 "commission_percent": line.commission_percent}
                for n, line in enumerate(statement.lines)
            ],
        )  # fmt: skip
    return statement_id


async def statement(
    db: Database, partner_id: int, period: Period, *, now: datetime | None = None
) -> Statement:
    """A CLOSED statement as it was frozen, or the DRAFT recomputed now (and stored)."""
    async with db.transaction() as conn:
        stored = await stored_statement(conn, partner_id, period)
        if stored is not None and stored.status is StatementStatus.CLOSED:
            return stored
        draft = await compute(conn, partner_id, period, now=now)
        draft.id = await _save(conn, draft)
        return draft


async def close(
    db: Database, partner_id: int, period: Period, *, now: datetime | None = None
) -> Statement:
    """Freeze the statement: its lines, the transfers behind them and the inputs hash. Closing
    a closed statement answers it unchanged. The month must be over."""
    now = now or datetime.now(UTC)
    async with db.transaction() as conn:
        partner = await registry_partner(conn, partner_id)
        if period.bounds(zone_of(partner))[1] > now:
            raise InvalidState(f"{period} is not over yet in the partner's time zone")
        # Lock the partner's statements against a concurrent close (SQLite: BEGIN IMMEDIATE).
        await conn.execute(
            select(partners.c.id).where(partners.c.id == partner_id).with_for_update()
        )
        stored = await stored_statement(conn, partner_id, period)
        if stored is not None and stored.status is StatementStatus.CLOSED:
            return stored
        frozen = await compute(conn, partner_id, period, now=now)
        if frozen.unpriced:
            first = (
                await conn.execute(
                    select(transfers.c.id, transfers.c.created_at, transfers.c.reason).where(
                        transfers.c.id == frozen.first_unpriced
                    )
                )
            ).one()
            raise InvalidState(
                f"{period} cannot be closed: {frozen.unpriced} event(s) fall outside every rate "
                f"card, the first transfer {first.id} ({first.reason}, "
                f"{first.created_at:%Y-%m-%d %H:%M} UTC); add a rate card that covers them",
                unpricedCount=frozen.unpriced, firstTransferId=str(first.id),
            )  # fmt: skip
        frozen.status, frozen.closed_at = StatementStatus.CLOSED, now
        frozen.id = await _save(conn, frozen)
        await _freeze_transfers(conn, frozen)
        await live.record(
            conn, live.Kind.STATEMENT, now, partner_id=partner_id, subject=str(period),
            state=frozen.status.value, body={
                "currency": frozen.currency, "payableByPartner": str(frozen.payable_by_partner),
                "payableByProgram": str(frozen.payable_by_program)},
        )  # fmt: skip
        return frozen


async def _freeze_transfers(conn: AsyncConnection, frozen: Statement) -> None:
    """INSERT ... SELECT the transfers behind each base line (set-based, whatever the volume)."""
    assert frozen.id is not None
    partner = await registry_partner(conn, frozen.partner_id)
    zone = zone_of(partner)
    line_ids = {
        (row.kind, row.rate_card_id, row.adjusts_period): row.id
        for row in await conn.execute(
            select(statement_lines).where(statement_lines.c.statement_id == frozen.id)
        )
    }
    cards = await rate_cards_of_partner(conn, frozen.partner_id)
    periods: list[tuple[Period, str | None]] = [(frozen.period, None)]
    closed = await closed_periods(conn, frozen.partner_id)
    periods += [
        (late, str(late)) for late in late_periods(frozen.period, closed - {str(frozen.period)})
    ]
    for period, adjusts in periods:
        start, end = period.bounds(zone)
        for segment in card_segments(cards, start, end):
            activity = billable_activity(frozen.partner_id, [(segment.start, segment.end)])
            if adjusts is not None:
                activity = activity.where(not_yet_billed())
            rows = activity.subquery()
            for kind in {row.kind for row in frozen.lines if row.adjusts_period == adjusts}:
                line_id = line_ids.get((kind, segment.card.id, adjusts))
                if line_id is None or kind not in ACTIVITY_KINDS:
                    continue
                await conn.execute(
                    insert(statement_transfers).from_select(
                        ["member_id", "line_id", "transfer_id", "quantity"],
                        select(
                            rows.c.member_id, literal(line_id), rows.c.transfer_id, rows.c.quantity
                        ).where(rows.c.kind == kind),
                    )
                )


async def list_statements(db: Database, *, partner_id: int | None = None) -> list[StatementRow]:
    query = select(statements).order_by(statements.c.period.desc(), statements.c.partner_id)
    if partner_id is not None:
        query = query.where(statements.c.partner_id == partner_id)
    async with db.read() as conn:
        return list(await conn.execute(query))
