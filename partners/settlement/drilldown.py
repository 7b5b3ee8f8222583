"""What stands behind a statement: the transfers of each line, and points moved per day."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import case, func, literal, select

from infra.database import Database
from infra.models import statement_lines, statement_transfers, transfers
from partners.registry import partner_row as registry_partner
from partners.settlement.aggregation import billable_activity, not_yet_billed
from partners.settlement.periods import Period, zone_of
from partners.settlement.pricing import LineKind
from partners.settlement.statements import (
    StatementStatus,
    closed_periods,
    late_periods,
    stored_statement,
)


async def line_transfers(
    db: Database, partner_id: int, period: Period, *, kind: LineKind | None = None
) -> list[Any]:
    """The drill-down: (line kind, adjusts period, transfer id, created_at, quantity) rows, from
    the frozen record for a CLOSED statement, from the ledger for a DRAFT."""
    async with db.transaction() as conn:
        stored = await stored_statement(conn, partner_id, period)
        if stored is not None and stored.status is StatementStatus.CLOSED:
            query = (
                select(statement_lines.c.kind, statement_lines.c.adjusts_period,
                       statement_transfers.c.transfer_id, transfers.c.created_at,
                       statement_transfers.c.quantity)
                .join(statement_transfers, statement_transfers.c.line_id == statement_lines.c.id)
                .join(transfers, transfers.c.id == statement_transfers.c.transfer_id)
                .where(statement_lines.c.statement_id == stored.id)
                .order_by(statement_transfers.c.transfer_id)
            )  # fmt: skip
            if kind is not None:
                query = query.where(statement_lines.c.kind == kind)
            return list(await conn.execute(query))
        partner = await registry_partner(conn, partner_id)
        zone = zone_of(partner)
        ranges: list[tuple[tuple[datetime, datetime], str | None]] = [(period.bounds(zone), None)]
        ranges += [(late.bounds(zone), str(late)) for late in
                   late_periods(period, await closed_periods(conn, partner_id))]  # fmt: skip
        found: list[Any] = []
        for (start, end), adjusts in ranges:
            activity = billable_activity(partner_id, [(start, end)])
            if adjusts is not None:
                activity = activity.where(not_yet_billed())
            rows = activity.subquery()
            query = select(rows.c.kind, literal(adjusts).label("adjusts_period"),
                           rows.c.transfer_id, rows.c.created_at,
                           rows.c.quantity).order_by(rows.c.transfer_id)  # fmt: skip
            if kind is not None:
                query = query.where(rows.c.kind == kind)
            found += list(await conn.execute(query))
        return found


async def daily_points(db: Database, partner_id: int, period: Period) -> list[tuple[str, int]]:
    """Points moved per local day of the period (all billable transfers, unsigned), one query."""
    async with db.read() as conn:
        partner = await registry_partner(conn, partner_id)
        zone = zone_of(partner)
        start, end = period.bounds(zone)
        days = []
        day = start.astimezone(zone)
        while day.astimezone(UTC) < end:
            days.append(day)
            day = day + relativedelta(days=1)
        bounds = [d.astimezone(UTC) for d in days] + [end]
        rows = billable_activity(partner_id, [(start, end)]).subquery()
        bucket = case(
            *((rows.c.created_at < bounds[i + 1], literal(i)) for i in range(len(days))),
        ).label("day")
        totals = {
            row.day: int(row.points)
            for row in await conn.execute(
                select(bucket, func.sum(func.abs(rows.c.quantity)).label("points")).group_by(bucket)
            )
        }
    return [(d.date().isoformat(), totals.get(i, 0)) for i, d in enumerate(days)]
