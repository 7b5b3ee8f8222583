"""Aggregation: a partner's billable ledger activity in a month, summed per base line and rate
card in SQL, with id checksums that make a statement's inputs hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import exchanges, statement_transfers, transfers
from loyalty.ledger import Phase
from partners.settlement.pricing import Segment, Totals

# Ledger activity: which transfers make which base line, and their sign.
ACTIVITY_REASONS = {
    "EARN": ("ISSUANCE", 1),
    "REFUND": ("ISSUANCE", -1),
    "REDEEM": ("REDEMPTION", 1),
    "REDEMPTION_CANCEL": ("REDEMPTION", -1),
    "EXCHANGE_OUT": ("OUTBOUND_EXCHANGE", 1),
    "EXCHANGE_IN": ("INBOUND_EXCHANGE", 1),
    # Points of campaigns the partner funds (program-funded ones carry no partner).
    "CAMPAIGN": ("ISSUANCE", 1),
    "CAMPAIGN_REFUND": ("ISSUANCE", -1),
}


ACTIVITY_KINDS = {kind for kind, _ in ACTIVITY_REASONS.values()}


def billable_activity(
    partner_id: int,
    ranges: list[tuple[datetime, datetime]],
    segments: list[Segment] | None = None,
) -> Any:
    """The partner's billable transfers in the given ranges, one row each, with the base line
    kind and the signed quantity (points; partner units for outbound exchanges). Given the
    rate card segments, an event outside all of them is of kind UNPRICED."""
    unpriced = (
        [(~or_(false(), *(and_(transfers.c.created_at >= s.start, transfers.c.created_at < s.end)
                          for s in segments)), literal("UNPRICED"))]
        if segments is not None
        else []
    )  # fmt: skip
    kind = case(
        *unpriced,
        *((transfers.c.reason == reason, literal(kind)) for reason, (kind, _) in
          ACTIVITY_REASONS.items()),
    )  # fmt: skip
    sign = case(
        *((transfers.c.reason == reason, literal(sign)) for reason, (_, sign) in
          ACTIVITY_REASONS.items() if sign < 0),
        else_=literal(1),
    )  # fmt: skip
    quantity = case(
        (transfers.c.reason == "EXCHANGE_OUT", exchanges.c.units),
        else_=sign * transfers.c.amount,
    )
    in_ranges = or_(*(and_(transfers.c.created_at >= a, transfers.c.created_at < b)
                      for a, b in ranges))  # fmt: skip
    return (
        select(
            transfers.c.member_id,
            transfers.c.id.label("transfer_id"),
            transfers.c.created_at,
            kind.label("kind"),
            quantity.label("quantity"),
        )
        .select_from(
            transfers.outerjoin(
                exchanges,
                and_(
                    exchanges.c.member_id == transfers.c.member_id,
                    exchanges.c.transfer_id == transfers.c.pending_id,
                ),
            )
        )
        .where(
            transfers.c.partner_id == partner_id,
            in_ranges,
            transfers.c.reason.in_(list(ACTIVITY_REASONS)),
            # Posted movements only: a single transfer, or the POST that ends a PENDING.
            transfers.c.phase.in_([Phase.SINGLE, Phase.POST]),
        )
    )


def not_yet_billed() -> ColumnElement[bool]:
    return ~exists().where(
        statement_transfers.c.member_id == transfers.c.member_id,
        statement_transfers.c.transfer_id == transfers.c.id,
    )


async def aggregate(
    conn: AsyncConnection,
    partner_id: int,
    ranges: list[tuple[datetime, datetime]],
    segments: list[Segment],
    *conditions: Any,
) -> list[Totals]:
    """Per (base line, rate card segment) totals. One pass per segment (a month usually has one
    rate card) where the database only filters and sums, grouped by the raw reason: a handful
    of groups, so PostgreSQL aggregates in parallel like a bare count. Reasons fold into lines
    with their sign here; outbound exchanges count partner units, from their exchanges."""
    totals: dict[tuple[str, int], Totals] = {}
    for index, segment in enumerate(segments):
        pieces = [(max(a, segment.start), min(b, segment.end)) for a, b in ranges]
        pieces = [(a, b) for a, b in pieces if a < b]
        if pieces:
            await _sum_segment(conn, partner_id, pieces, index, totals, conditions)
    # Billable events that no rate card covers: counted apart, they cannot be priced.
    covered = [and_(transfers.c.created_at >= s.start, transfers.c.created_at < s.end)
               for s in segments]  # fmt: skip
    uncovered = (
        await conn.execute(
            select(func.count().label("transfers"), func.sum(transfers.c.id).label("id_sum"),
                   func.max(transfers.c.id).label("id_max"),
                   func.min(transfers.c.id).label("id_min"))
            .where(*_billable(partner_id, ranges, conditions),
                   transfers.c.reason.in_(list(ACTIVITY_REASONS)), *(~c for c in covered))
        )
    ).one()  # fmt: skip
    if uncovered.transfers:
        totals[("UNPRICED", -1)] = Totals(
            "UNPRICED", -1, uncovered.transfers, uncovered.transfers, int(uncovered.id_sum),
            int(uncovered.id_max), int(uncovered.id_min),
        )  # fmt: skip
    return list(totals.values())


def _billable(
    partner_id: int, ranges: list[tuple[datetime, datetime]], conditions: Any
) -> tuple[Any, ...]:
    in_ranges = or_(*(and_(transfers.c.created_at >= a, transfers.c.created_at < b)
                      for a, b in ranges))  # fmt: skip
    return (
        transfers.c.partner_id == partner_id,
        in_ranges,
        transfers.c.phase.in_([Phase.SINGLE, Phase.POST]),
        *conditions,
    )


async def _sum_segment(
    conn: AsyncConnection,
    partner_id: int,
    ranges: list[tuple[datetime, datetime]],
    index: int,
    totals: dict[tuple[str, int], Totals],
    conditions: Any,
) -> None:
    billable = _billable(partner_id, ranges, conditions)
    checksums = (
        func.count().label("transfers"),
        func.sum(transfers.c.id).label("id_sum"),
        func.max(transfers.c.id).label("id_max"),
    )
    points = await conn.execute(
        select(transfers.c.reason, func.sum(transfers.c.amount).label("quantity"), *checksums)
        .where(*billable, transfers.c.reason.in_(
            [reason for reason in ACTIVITY_REASONS if reason != "EXCHANGE_OUT"]))
        .group_by(transfers.c.reason)
    )  # fmt: skip
    units = await conn.execute(
        select(literal("EXCHANGE_OUT").label("reason"),
               func.sum(exchanges.c.units).label("quantity"), *checksums)
        .select_from(
            transfers.join(exchanges, exchanges.c.transfer_id == transfers.c.pending_id)
        )
        .where(*billable, transfers.c.reason == "EXCHANGE_OUT")
    )  # fmt: skip
    for row in [*points, *units]:
        if not row.transfers:
            continue
        kind, sign = ACTIVITY_REASONS[row.reason]
        line = totals.setdefault((kind, index), Totals(kind, index))
        line.quantity += sign * int(row.quantity)
        line.transfers += row.transfers
        line.id_sum += int(row.id_sum)
        line.id_max = max(line.id_max, int(row.id_max))
