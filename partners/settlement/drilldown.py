"""What stands behind a statement: the transfers of each line, and their quantities per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import and_, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import statement_lines, statement_transfers, transfers
from partners.registry import partner_row as registry_partner
from partners.settlement.aggregation import billable_activity, not_yet_billed
from partners.settlement.periods import Period, zone_of
from partners.settlement.pricing import LineKind, card_segments
from partners.settlement.statements import (
    StatementStatus,
    closed_periods,
    late_periods,
    rate_cards_of_partner,
    stored_statement,
)


async def _activity(conn: AsyncConnection, partner_id: int, period: Period) -> Any:
    """(kind, adjusts_period, transfer_id, created_at, quantity), one row per transfer behind
    a base line: the frozen record of a CLOSED statement, the ledger for a DRAFT (events no
    rate card prices are of kind UNPRICED), so each kind's quantities add up to its line."""
    stored = await stored_statement(conn, partner_id, period)
    if stored is not None and stored.status is StatementStatus.CLOSED:
        return (
            select(statement_lines.c.kind, statement_lines.c.adjusts_period,
                   statement_transfers.c.transfer_id, transfers.c.created_at,
                   statement_transfers.c.quantity)
            .join(statement_transfers, statement_transfers.c.line_id == statement_lines.c.id)
            .join(transfers, and_(transfers.c.member_id == statement_transfers.c.member_id,
                                  transfers.c.id == statement_transfers.c.transfer_id))
            .where(statement_lines.c.statement_id == stored.id)
        ).subquery()  # fmt: skip
    zone = zone_of(await registry_partner(conn, partner_id))
    cards = await rate_cards_of_partner(conn, partner_id)
    ranges: list[tuple[Period, str | None]] = [(period, None)]
    ranges += [(late, str(late)) for late in
               late_periods(period, await closed_periods(conn, partner_id))]  # fmt: skip
    parts = []
    for month, adjusts in ranges:
        start, end = month.bounds(zone)
        activity = billable_activity(partner_id, [(start, end)], card_segments(cards, start, end))
        if adjusts is not None:
            activity = activity.where(not_yet_billed())
        rows = activity.subquery()
        parts.append(select(rows.c.kind, literal(adjusts).label("adjusts_period"),
                            rows.c.transfer_id, rows.c.created_at, rows.c.quantity))  # fmt: skip
    return union_all(*parts).subquery()


async def line_transfers(
    db: Database, partner_id: int, period: Period, *, kind: LineKind | None = None
) -> list[Any]:
    """The drill-down: (line kind, adjusts period, transfer id, created_at, quantity) rows, from
    the frozen record for a CLOSED statement, from the ledger for a DRAFT."""
    async with db.transaction() as conn:
        rows = await _activity(conn, partner_id, period)
        query = select(rows).order_by(rows.c.transfer_id)
        if kind is not None:
            query = query.where(rows.c.kind == kind)
        return list(await conn.execute(query))


@dataclass(frozen=True, slots=True)
class DailyActivity:
    """A statement's own (not adjustment) base lines per local day: for each kind, the
    quantities added and taken back (refunds, cancellations) on each day."""

    days: list[str]
    added: dict[str, list[int]]
    taken_back: dict[str, list[int]]


async def daily_activity(db: Database, partner_id: int, period: Period) -> DailyActivity:
    """One grouped query over the same transfers as the statement's lines."""
    async with db.transaction() as conn:
        zone = zone_of(await registry_partner(conn, partner_id))
        start, end = period.bounds(zone)
        days = []
        day = start.astimezone(zone)
        while day.astimezone(UTC) < end:
            days.append(day)
            day = day + relativedelta(days=1)
        bounds: list[datetime] = [d.astimezone(UTC) for d in days] + [end]
        rows = await _activity(conn, partner_id, period)
        bucket = case(
            *((rows.c.created_at < bounds[i + 1], literal(i)) for i in range(len(days))),
        ).label("day")
        taken = (rows.c.quantity < 0).label("taken")
        found = await conn.execute(
            select(rows.c.kind, bucket, taken, func.sum(rows.c.quantity).label("quantity"))
            .where(rows.c.adjusts_period.is_(None))
            .group_by(rows.c.kind, bucket, taken)
        )
        added: dict[str, list[int]] = {}
        taken_back: dict[str, list[int]] = {}
        for row in found:
            series = taken_back if row.taken else added
            series.setdefault(row.kind, [0] * len(days))[row.day] += abs(int(row.quantity))
    return DailyActivity([d.date().isoformat() for d in days], added, taken_back)
