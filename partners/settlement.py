"""Settlement statements: what a partner and the program owe each other for a calendar month in
the partner's time zone, computed from posted ledger transfers and recorded API usage by SQL
aggregation, priced with the rate card in force on each event's date.

Each line is quantity x unit rate, rounded half-even to the currency's minor unit; totals are
sums of rounded lines; net = what the partner pays - what it receives. A DRAFT is recomputed on
demand. Closing freezes the lines, the transfers behind them and a hash of the inputs; an event
that later turns up dated inside a closed month is billed as an ADJUSTMENT line of the first open
month after it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from dateutil.relativedelta import relativedelta
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.errors import InvalidState, ValidationFailed
from infra.models import (
    api_calls,
    exchanges,
    partners,
    rate_cards,
    statement_lines,
    statement_transfers,
    statements,
    transfers,
)
from loyalty.ledger import Phase
from partners.registry import partner_row as registry_partner

# Minor units of currencies whose exponent is not 2.
CURRENCY_EXPONENTS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}


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


class StatementStatus(StrEnum):
    DRAFT = "DRAFT"
    CLOSED = "CLOSED"


# Ledger activity: which transfers make which base line, and their sign.
ACTIVITY_REASONS = {
    "EARN": ("ISSUANCE", 1),
    "REFUND": ("ISSUANCE", -1),
    "REDEEM": ("REDEMPTION", 1),
    "REDEMPTION_CANCEL": ("REDEMPTION", -1),
    "EXCHANGE_OUT": ("OUTBOUND_EXCHANGE", 1),
    "EXCHANGE_IN": ("INBOUND_EXCHANGE", 1),
}


@dataclass(frozen=True, slots=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        try:
            year, month = (int(part) for part in text.split("-"))
            if not (2000 <= year <= 2999 and 1 <= month <= 12) or len(text) != 7:
                raise ValueError
        except ValueError:
            raise ValidationFailed("a period is YYYY-MM", argument="period") from None
        return cls(year, month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def following(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) as UTC instants: midnight of the 1st to midnight of the next 1st."""
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        return start.astimezone(UTC), (start + relativedelta(months=1)).astimezone(UTC)

    @classmethod
    def containing(cls, moment: datetime, zone: ZoneInfo) -> Period:
        local = moment.astimezone(zone)
        return cls(local.year, local.month)


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


def zone_of(partner: Any) -> ZoneInfo:
    try:
        return ZoneInfo(partner.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidState(f"partner {partner.id} has an unknown time zone") from None


def minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-CURRENCY_EXPONENTS.get(currency, 2))


def plain(value: Decimal) -> Decimal:
    """A quantity or rate without storage padding: 3, 0.008 (not 3.0000, 0.00800000)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _segments(cards: list[Any], start: datetime, end: datetime) -> list[Segment]:
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


def _segment_index(column: Any, segments: list[Segment]) -> Any:
    """SQL: which segment an instant falls in (-1: none, so no card prices it)."""
    if not segments:
        return literal(-1)
    return case(
        *((and_(column >= s.start, column < s.end), literal(i)) for i, s in enumerate(segments)),
        else_=literal(-1),
    )


def _activity(partner_id: int, ranges: list[tuple[datetime, datetime]]) -> Any:
    """The partner's billable transfers in the given ranges, one row each, with the base line
    kind and the signed quantity (points; partner units for outbound exchanges)."""
    kind = case(
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
            transfers.c.id.label("transfer_id"),
            transfers.c.created_at,
            kind.label("kind"),
            quantity.label("quantity"),
        )
        .select_from(
            transfers.outerjoin(exchanges, exchanges.c.transfer_id == transfers.c.pending_id)
        )
        .where(
            transfers.c.partner_id == partner_id,
            in_ranges,
            transfers.c.reason.in_(list(ACTIVITY_REASONS)),
            # Posted movements only: a single transfer, or the POST that ends a PENDING.
            transfers.c.phase.in_([Phase.SINGLE, Phase.POST]),
        )
    )


def _not_yet_billed() -> ColumnElement[bool]:
    return ~exists().where(statement_transfers.c.transfer_id == transfers.c.id)


@dataclass
class Totals:
    """One base line's aggregate: signed quantity, transfer count, and id checksums."""

    kind: str
    segment: int
    quantity: int = 0
    transfers: int = 0
    id_sum: int = 0
    id_max: int = 0


async def _aggregate(
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
    # Billable events that no rate card covers: they cannot be priced.
    uncovered = await conn.scalar(
        select(transfers.c.id).where(
            *_billable(partner_id, ranges, conditions),
            transfers.c.reason.in_(list(ACTIVITY_REASONS)),
            *(~and_(transfers.c.created_at >= s.start, transfers.c.created_at < s.end)
              for s in segments),
        ).limit(1)
    )  # fmt: skip
    if uncovered is not None:
        totals[("UNCOVERED", -1)] = Totals("UNCOVERED", -1)
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


def _line(kind: LineKind, card: Any, quantity: Decimal, count: int, currency: str,
          adjusts: str | None = None) -> Line:  # fmt: skip
    payer, rate = _priced(kind, card)
    unit_rate = rate.quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN)
    amount = (quantity * unit_rate).quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN)
    return Line(kind, payer, card.id, plain(quantity), plain(unit_rate), amount, count, adjusts)


def _lines_from(rows: list[Totals], segments: list[Segment], currency: str,
                adjusts: str | None = None) -> tuple[list[Line], list[Any]]:  # fmt: skip
    lines: list[Line] = []
    fingerprint: list[Any] = []
    for row in sorted(rows, key=lambda r: (r.kind, r.segment)):
        if row.segment < 0:
            raise InvalidState("an event of the period falls outside every rate card")
        card = segments[row.segment].card
        kind, quantity = LineKind(row.kind), Decimal(row.quantity)
        lines.append(_line(kind, card, quantity, row.transfers, currency, adjusts))
        if kind in COMMISSIONS:
            lines.append(_line(COMMISSIONS[kind], card, quantity, row.transfers, currency,
                               adjusts))  # fmt: skip
        fingerprint.append([row.kind, card.id, str(quantity), row.transfers, row.id_sum,
                            row.id_max, adjusts])  # fmt: skip
    return lines, fingerprint


async def _cards(conn: AsyncConnection, partner_id: int) -> list[Any]:
    return list(await conn.execute(select(rate_cards).where(rate_cards.c.partner_id == partner_id)))


async def _closed_periods(conn: AsyncConnection, partner_id: int) -> set[str]:
    return set(
        await conn.scalars(
            select(statements.c.period).where(
                statements.c.partner_id == partner_id,
                statements.c.status == StatementStatus.CLOSED,
            )
        )
    )


def _late_periods(period: Period, closed: set[str]) -> list[Period]:
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
    cards = await _cards(conn, partner_id)
    currency = partner.settlement_currency
    segments = _segments(cards, start, end)
    rows = await _aggregate(conn, partner_id, [(start, end)], segments)
    lines, fingerprint = _lines_from(rows, segments, currency)

    usage_segment = _segment_index(api_calls.c.at, segments).label("segment")
    usage = list(
        await conn.execute(
            select(usage_segment, func.count().label("calls"))
            .where(api_calls.c.partner_id == partner_id, api_calls.c.at >= start,
                   api_calls.c.at < end)
            .group_by(usage_segment)
        )
    )  # fmt: skip
    for row in sorted(usage, key=lambda r: r.segment):
        if row.segment >= 0:
            card = segments[row.segment].card
            lines.append(_line(LineKind.API_TRANSACTIONS, card, Decimal(row.calls), 0, currency))
            fingerprint.append(["API", card.id, row.calls])
    first_card = next((s.card for s in segments if s.start == start), None)
    if first_card is not None and first_card.platform_fee_monthly:
        lines.append(_line(LineKind.PLATFORM_FEE, first_card, Decimal(1), 0, currency))

    for late in _late_periods(period, await _closed_periods(conn, partner_id)):
        late_start, late_end = late.bounds(zone)
        late_segments = _segments(cards, late_start, late_end)
        late_rows = await _aggregate(
            conn, partner_id, [(late_start, late_end)], late_segments, _not_yet_billed()
        )
        late_lines, late_print = _lines_from(late_rows, late_segments, currency, str(late))
        lines += late_lines
        fingerprint += late_print

    fingerprint.append([str(period), partner.timezone, currency,
                        sorted([c.id for c in cards])])  # fmt: skip
    digest = hashlib.sha256(orjson.dumps(fingerprint, default=str)).hexdigest()
    return Statement(partner_id=partner_id, period=period, status=StatementStatus.DRAFT,
                     currency=currency, lines=lines, inputs_hash=digest,
                     computed_at=now or datetime.now(UTC))  # fmt: skip


async def _stored(conn: AsyncConnection, partner_id: int, period: Period) -> Statement | None:
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
             plain(r.unit_rate), r.amount.quantize(minor), r.transfer_count, r.adjusts_period)
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
                 "transfer_count": line.transfer_count}
                for n, line in enumerate(statement.lines)
            ],
        )  # fmt: skip
    return statement_id


async def statement(
    db: Database, partner_id: int, period: Period, *, now: datetime | None = None
) -> Statement:
    """A CLOSED statement as it was frozen, or the DRAFT recomputed now (and stored)."""
    async with db.transaction() as conn:
        stored = await _stored(conn, partner_id, period)
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
        stored = await _stored(conn, partner_id, period)
        if stored is not None and stored.status is StatementStatus.CLOSED:
            return stored
        frozen = await compute(conn, partner_id, period, now=now)
        frozen.status, frozen.closed_at = StatementStatus.CLOSED, now
        frozen.id = await _save(conn, frozen)
        await _freeze_transfers(conn, frozen)
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
    cards = await _cards(conn, frozen.partner_id)
    periods: list[tuple[Period, str | None]] = [(frozen.period, None)]
    closed = await _closed_periods(conn, frozen.partner_id)
    periods += [
        (late, str(late)) for late in _late_periods(frozen.period, closed - {str(frozen.period)})
    ]
    for period, adjusts in periods:
        start, end = period.bounds(zone)
        for segment in _segments(cards, start, end):
            activity = _activity(frozen.partner_id, [(segment.start, segment.end)])
            if adjusts is not None:
                activity = activity.where(_not_yet_billed())
            rows = activity.subquery()
            for kind in {row.kind for row in frozen.lines if row.adjusts_period == adjusts}:
                line_id = line_ids.get((kind, segment.card.id, adjusts))
                if line_id is None or kind not in ACTIVITY_KINDS:
                    continue
                await conn.execute(
                    insert(statement_transfers).from_select(
                        ["line_id", "transfer_id", "quantity"],
                        select(literal(line_id), rows.c.transfer_id, rows.c.quantity).where(
                            rows.c.kind == kind
                        ),
                    )
                )


ACTIVITY_KINDS = {kind for kind, _ in ACTIVITY_REASONS.values()}


async def line_transfers(
    db: Database, partner_id: int, period: Period, *, kind: LineKind | None = None
) -> list[Any]:
    """The drill-down: (line kind, adjusts period, transfer id, created_at, quantity) rows, from
    the frozen record for a CLOSED statement, from the ledger for a DRAFT."""
    async with db.transaction() as conn:
        stored = await _stored(conn, partner_id, period)
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
                   _late_periods(period, await _closed_periods(conn, partner_id))]  # fmt: skip
        found: list[Any] = []
        for (start, end), adjusts in ranges:
            activity = _activity(partner_id, [(start, end)])
            if adjusts is not None:
                activity = activity.where(_not_yet_billed())
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
        rows = _activity(partner_id, [(start, end)]).subquery()
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


async def list_statements(db: Database, *, partner_id: int | None = None) -> list[Any]:
    query = select(statements).order_by(statements.c.period.desc(), statements.c.partner_id)
    if partner_id is not None:
        query = query.where(statements.c.partner_id == partner_id)
    async with db.read() as conn:
        return list(await conn.execute(query))


async def record_api_call(
    db: Database, *, partner_id: int, client_id: str | None, at: datetime | None = None
) -> None:
    """One billable API transaction of a partner's client."""
    async with db.transaction() as conn:
        await conn.execute(
            insert(api_calls).values(
                partner_id=partner_id, client_id=client_id, at=at or datetime.now(UTC)
            )
        )
