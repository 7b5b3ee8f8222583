"""Pricing: which rate card prices which stretch of a month, and each line's payer, unit rate
and amount (quantity x unit rate, rounded half-even to the currency's minor unit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, literal

from partners.settlement.periods import minor_unit, plain


class LineKind(StrEnum):
    ISSUANCE = "ISSUANCE"
    REDEMPTION = "REDEMPTION"
    REDEMPTION_COMMISSION = "REDEMPTION_COMMISSION"
    OUTBOUND_EXCHANGE = "OUTBOUND_EXCHANGE"
    OUTBOUND_COMMISSION = "OUTBOUND_COMMISSION"
    INBOUND_EXCHANGE = "INBOUND_EXCHANGE"
    INBOUND_COMMISSION = "INBOUND_COMMISSION"
    PLATFORM_FEE = "PLATFORM_FEE"
    API_TRANSACTIONS = "API_TRANSACTIONS"
    # Events no rate card prices (legacy data, a card added later): counted, priced at zero,
    # and a month holding any cannot be closed.
    UNPRICED = "UNPRICED"
    # Discounts of coupons the partner funds, redeemed in the month (in the program currency,
    # which a funding partner settles in).
    FUNDED_DISCOUNTS = "FUNDED_DISCOUNTS"


class Payer(StrEnum):
    PARTNER = "PARTNER"
    PROGRAM = "PROGRAM"


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the period priced by one rate card."""

    card: Any
    start: datetime
    end: datetime


@dataclass
class Line:
    kind: LineKind
    payer: Payer
    card_id: int | None
    quantity: Decimal
    unit_rate: Decimal
    amount: Decimal
    transfer_count: int
    adjusts_period: str | None = None
    # For commission lines: the rate card's percentage (the unit rate is that share of a point).
    commission_percent: Decimal | None = None


def card_segments(cards: list[Any], start: datetime, end: datetime) -> list[Segment]:
    """Cut [start, end) by rate card: a later card takes over from its valid_from."""
    ordered = sorted(cards, key=lambda card: (card.valid_from, card.id))
    segments = []
    for index, card in enumerate(ordered):
        takes_over = ordered[index + 1].valid_from if index + 1 < len(ordered) else None
        card_end = min(t for t in (card.valid_to, takes_over, end) if t is not None)
        seg_start, seg_end = max(card.valid_from, start), min(card_end, end)
        if seg_start < seg_end:
            segments.append(Segment(card, seg_start, seg_end))
    return segments


def segment_index(column: Any, segments: list[Segment]) -> Any:
    """SQL: which segment an instant falls in (-1: none, so no card prices it)."""
    if not segments:
        return literal(-1)
    return case(
        *((and_(column >= s.start, column < s.end), literal(i)) for i, s in enumerate(segments)),
        else_=literal(-1),
    )


def _priced(kind: LineKind, card: Any) -> tuple[Payer, Decimal]:
    point, pct = card.point_value, card.exchange_commission_percent / 100
    return {
        LineKind.ISSUANCE: (Payer.PARTNER, card.issuance_cost_per_point),
        LineKind.REDEMPTION: (Payer.PROGRAM, point),
        LineKind.REDEMPTION_COMMISSION: (
            Payer.PARTNER, point * card.redemption_commission_percent / 100,
        ),
        LineKind.OUTBOUND_EXCHANGE: (Payer.PROGRAM, card.outbound_unit_price),
        LineKind.OUTBOUND_COMMISSION: (Payer.PROGRAM, card.outbound_unit_price * pct),
        LineKind.INBOUND_EXCHANGE: (Payer.PARTNER, point),
        LineKind.INBOUND_COMMISSION: (Payer.PARTNER, point * pct),
        LineKind.PLATFORM_FEE: (Payer.PARTNER, card.platform_fee_monthly),
        LineKind.API_TRANSACTIONS: (Payer.PARTNER, card.api_transaction_fee),
    }[kind]  # fmt: skip


COMMISSIONS = {
    LineKind.REDEMPTION: LineKind.REDEMPTION_COMMISSION,
    LineKind.OUTBOUND_EXCHANGE: LineKind.OUTBOUND_COMMISSION,
    LineKind.INBOUND_EXCHANGE: LineKind.INBOUND_COMMISSION,
}


COMMISSION_PERCENTS = {
    LineKind.REDEMPTION_COMMISSION: "redemption_commission_percent",
    LineKind.OUTBOUND_COMMISSION: "exchange_commission_percent",
    LineKind.INBOUND_COMMISSION: "exchange_commission_percent",
}


def priced_line(kind: LineKind, card: Any, quantity: Decimal, count: int, currency: str,
          adjusts: str | None = None) -> Line:  # fmt: skip
    payer, rate = _priced(kind, card)
    unit_rate = rate.quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN)
    amount = (quantity * unit_rate).quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN)
    percent = COMMISSION_PERCENTS.get(kind)
    return Line(kind, payer, card.id, plain(quantity), plain(unit_rate), amount, count, adjusts,
                None if percent is None else plain(getattr(card, percent)))  # fmt: skip


def fee_line(segment: Segment, month: tuple[datetime, datetime], zone: ZoneInfo,
             currency: str) -> Line | None:  # fmt: skip
    """The card's monthly platform fee for the share of the month it is in force, measured in
    wall-clock time of the partner's zone: quantity = days in force, unit rate = the fee per day
    of this month, amount = fee x time in force / length of the month, rounded half-even once
    (50.00 from the 29th 00:00 of a 30-day month: 2 days, 3.33)."""
    fee = segment.card.platform_fee_monthly
    if not fee:
        return None

    def wall(instant: datetime) -> datetime:
        return instant.astimezone(zone).replace(tzinfo=None)

    tick = timedelta(microseconds=1)
    in_force = (wall(segment.end) - wall(segment.start)) // tick
    length = (wall(month[1]) - wall(month[0])) // tick
    day = timedelta(days=1) // tick
    amount = (fee * in_force / length).quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN)
    days = (Decimal(in_force) / day).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
    unit_rate = (fee * day / length).quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN)
    return Line(LineKind.PLATFORM_FEE, Payer.PARTNER, segment.card.id, plain(days),
                plain(unit_rate), amount, 0)  # fmt: skip


@dataclass
class Totals:
    """One base line's aggregate: signed quantity, transfer count, and id checksums (segment -1:
    the events no card prices)."""

    kind: str
    segment: int
    quantity: int = 0
    transfers: int = 0
    id_sum: int = 0
    id_max: int = 0
    id_min: int | None = None


def lines_from(rows: list[Totals], segments: list[Segment], currency: str,
                adjusts: str | None = None) -> tuple[list[Line], list[Any]]:  # fmt: skip
    lines: list[Line] = []
    fingerprint: list[Any] = []
    for row in sorted(rows, key=lambda r: (r.kind, r.segment)):
        if row.segment < 0:
            zero = Decimal(0).quantize(minor_unit(currency))
            lines.append(Line(LineKind.UNPRICED, Payer.PARTNER, None, Decimal(row.transfers),
                              Decimal(0), zero, row.transfers, adjusts))  # fmt: skip
            fingerprint.append([row.kind, None, row.transfers, row.id_sum, row.id_max, adjusts])
            continue
        card = segments[row.segment].card
        kind, quantity = LineKind(row.kind), Decimal(row.quantity)
        lines.append(priced_line(kind, card, quantity, row.transfers, currency, adjusts))
        if kind in COMMISSIONS:
            lines.append(priced_line(COMMISSIONS[kind], card, quantity, row.transfers, currency,
                               adjusts))  # fmt: skip
        fingerprint.append([row.kind, card.id, str(quantity), row.transfers, row.id_sum,
                            row.id_max, adjusts])  # fmt: skip
    return lines, fingerprint
