"""Pricing: which rate card prices which stretch of a month, and each line's payer, unit rate
and amount (quantity x unit rate, rounded half-even to the currency's minor unit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, literal

from infra.errors import InvalidState
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


def priced_line(kind: LineKind, card: Any, quantity: Decimal, count: int, currency: str,
          adjusts: str | None = None) -> Line:  # fmt: skip
    payer, rate = _priced(kind, card)
    unit_rate = rate.quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN)
    amount = (quantity * unit_rate).quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN)
    return Line(kind, payer, card.id, plain(quantity), plain(unit_rate), amount, count, adjusts)


@dataclass
class Totals:
    """One base line's aggregate: signed quantity, transfer count, and id checksums."""

    kind: str
    segment: int
    quantity: int = 0
    transfers: int = 0
    id_sum: int = 0
    id_max: int = 0


def lines_from(rows: list[Totals], segments: list[Segment], currency: str,
                adjusts: str | None = None) -> tuple[list[Line], list[Any]]:  # fmt: skip
    lines: list[Line] = []
    fingerprint: list[Any] = []
    for row in sorted(rows, key=lambda r: (r.kind, r.segment)):
        if row.segment < 0:
            raise InvalidState("an event of the period falls outside every rate card")
        card = segments[row.segment].card
        kind, quantity = LineKind(row.kind), Decimal(row.quantity)
        lines.append(priced_line(kind, card, quantity, row.transfers, currency, adjusts))
        if kind in COMMISSIONS:
            lines.append(priced_line(COMMISSIONS[kind], card, quantity, row.transfers, currency,
                               adjusts))  # fmt: skip
        fingerprint.append([row.kind, card.id, str(quantity), row.transfers, row.id_sum,
                            row.id_max, adjusts])  # fmt: skip
    return lines, fingerprint
