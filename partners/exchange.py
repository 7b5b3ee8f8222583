"""Partner point exchanges: every exchange ends exactly once, POSTED or VOIDED, with points
conserved, however the partner or this process fails.

Outbound (our points to the partner's program): a quote locks the rate for a while; the request
reserves the points with PENDING transfers and commits (RESERVED), calls the partner's connector
with our exchange id as the idempotency key, then posts (APPLIED), voids (a definite refusal, or
a request that certainly never reached the partner), or records UNKNOWN (a timeout, a 5xx, a
lost answer). `reconcile` asks the partner about UNKNOWN and stale RESERVED exchanges and settles
them; a status query fences the id at the partner, so a "not found" can be voided safely.
Inbound (the partner's units to our points): the partner credits a linked member, with its own
reference as the idempotency key, in one transaction.

Every state change is an `exchange_events` row and, in the same transaction, a webhook delivery
for each of the partner's subscriptions (an outbox that `partners.webhook` sends)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.errors import (
    ExchangeLimit,
    InvalidState,
    NotFound,
    PartnerUnavailable,
    QuoteExpired,
    ValidationFailed,
)
from infra.models import (
    exchange_events,
    exchange_terms,
    exchanges,
    identities,
    quotes,
    webhook_deliveries,
    webhook_subscriptions,
)
from loyalty import ledger
from loyalty.idempotency import check_replay, request_hash, retry_on_race
from loyalty.membership import active_member
from loyalty.program import Program
from partners.connector import Answer, ConnectorError, Outcome
from partners.directory import ConnectorDirectory
from partners.registry import Direction, find_partner, partner_row, terms_in_force


class ExchangeState(StrEnum):
    REQUESTED = "REQUESTED"
    RESERVED = "RESERVED"
    POSTED = "POSTED"
    VOIDED = "VOIDED"
    UNKNOWN = "UNKNOWN"


OPEN_STATES = (ExchangeState.RESERVED, ExchangeState.UNKNOWN)


class CrashPoint(StrEnum):
    """Where a test can make the process "die" in the middle of an exchange."""

    AFTER_RESERVE = "AFTER_RESERVE"
    AFTER_CALL = "AFTER_CALL"
    AFTER_POST = "AFTER_POST"


class SimulatedCrash(Exception):
    pass


Crash = Callable[[CrashPoint], None]


def _no_crash(point: CrashPoint) -> None:
    """Production never crashes on purpose."""


async def _external_account(conn: AsyncConnection, member_id: int, partner_id: int) -> str | None:
    value: str | None = await conn.scalar(
        select(identities.c.value).where(
            identities.c.member_id == member_id,
            identities.c.kind == "PARTNER_ACCOUNT",
            identities.c.partner_id == partner_id,
        )
    )
    return value


def _start_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


async def _check_amount(
    conn: AsyncConnection, terms: Any, *, member_id: int, points: int, now: datetime
) -> int:
    """The partner units for `points` under `terms`, or EXCHANGE_LIMIT saying which rule."""
    if points < terms.min_points or points > terms.max_points:
        raise ExchangeLimit(
            f"an exchange is {terms.min_points} to {terms.max_points} points",
            reason="RANGE",
            minimum=terms.min_points,
            maximum=terms.max_points,
        )
    if points % terms.step_points:
        raise ExchangeLimit(
            f"points come in steps of {terms.step_points}", reason="STEP", step=terms.step_points
        )
    units = Decimal(points) / terms.rate
    if units != units.to_integral_value():
        raise ExchangeLimit(
            f"{points} points are not a whole number of partner units at {terms.rate} points each",
            reason="RATE",
        )
    await _check_daily_cap(conn, terms, member_id=member_id, points=points, now=now)
    return int(units)


async def _check_daily_cap(
    conn: AsyncConnection, terms: Any, *, member_id: int, points: int, now: datetime
) -> None:
    used = await conn.scalar(
        select(func.coalesce(func.sum(exchanges.c.points), 0)).where(
            exchanges.c.member_id == member_id,
            exchanges.c.partner_id == terms.partner_id,
            exchanges.c.direction == terms.direction,
            exchanges.c.state != ExchangeState.VOIDED,
            exchanges.c.created_at >= _start_of_day(now),
        )
    )
    used = int(used or 0)
    if used + points > terms.daily_cap_points:
        raise ExchangeLimit(
            f"the daily cap is {terms.daily_cap_points} points; {used} already used today",
            reason="DAILY_CAP",
            cap=terms.daily_cap_points,
        )


async def quote_exchange(
    db: Database,
    program: Program,
    *,
    member_id: int,
    partner_id: int,
    points: int,
    direction: Direction = Direction.OUTBOUND,
    requested_by: str | None = None,
    now: datetime | None = None,
) -> Any:
    """A rate-locked quote for exchanging `points` with a partner, valid `quote_seconds`, that
    only `requested_by` may carry out."""
    now = now or datetime.now(UTC)
    if direction is not Direction.OUTBOUND:
        raise ValidationFailed("members quote outbound exchanges; partners credit inbound ones")
    async with db.transaction() as conn:
        await active_member(conn, member_id)
        await partner_row(conn, partner_id, active=True)
        terms = await terms_in_force(conn, partner_id, direction, now)
        if terms is None:
            raise InvalidState(f"partner {partner_id} offers no {direction} exchange now")
        account = await _external_account(conn, member_id, partner_id)
        if account is None:
            raise InvalidState("the member has no account in this partner's program")
        units = await _check_amount(conn, terms, member_id=member_id, points=points, now=now)
        return (
            await conn.execute(
                insert(quotes)
                .values(
                    id=uuid.uuid4().hex,
                    member_id=member_id,
                    partner_id=partner_id,
                    terms_id=terms.id,
                    direction=direction,
                    points=points,
                    units=units,
                    rate=terms.rate,
                    fee_points=terms.fee_points,
                    external_account=account,
                    created_at=now,
                    expires_at=now + timedelta(seconds=program.quote_seconds),
                    requested_by=requested_by,
                )
                .returning(*quotes.c)
            )
        ).one()


async def _transition(
    conn: AsyncConnection,
    exchange_id: str,
    to_state: ExchangeState,
    reason: str,
    now: datetime,
    *,
    from_states: tuple[ExchangeState, ...] | None,
) -> Any | None:
    """Move to `to_state` if the exchange is in one of `from_states` (None: a new exchange);
    record the event and queue the webhooks. Returns the row, or None if another process
    settled it first."""
    query = update(exchanges).where(exchanges.c.id == exchange_id)
    if from_states is not None:
        query = query.where(exchanges.c.state.in_(from_states))
    row = (
        await conn.execute(query.values(state=to_state, updated_at=now).returning(*exchanges.c))
    ).first()
    if row is None:
        return None
    previous = (
        None
        if from_states is None
        else await conn.scalar(
            select(exchange_events.c.to_state)
            .where(exchange_events.c.exchange_id == exchange_id)
            .order_by(exchange_events.c.id.desc())
            .limit(1)
        )
    )
    await conn.execute(
        insert(exchange_events).values(
            exchange_id=exchange_id, from_state=previous, to_state=to_state, reason=reason, at=now
        )
    )
    payload = orjson.dumps(
        {
            "event": "exchange.state_changed",
            "exchange_id": exchange_id,
            "state": to_state,
            "direction": row.direction,
            "points": row.points,
            "units": row.units,
            "account": row.external_account,
            "reason": reason,
            "at": now.isoformat(),
        }
    ).decode()
    subscriptions = await conn.scalars(
        select(webhook_subscriptions.c.id).where(
            webhook_subscriptions.c.partner_id == row.partner_id,
            webhook_subscriptions.c.active == 1,
        )
    )
    deliveries = [
        {
            "subscription_id": sub,
            "event": "exchange.state_changed",
            "payload": payload,
            "status": "PENDING",
            "next_attempt_at": now,
            "created_at": now,
        }
        for sub in subscriptions
    ]
    if deliveries:
        await conn.execute(insert(webhook_deliveries), deliveries)
    return row


async def _settle(
    conn: AsyncConnection, exchange: Any, to_state: ExchangeState, reason: str, now: datetime
) -> Any:
    """POSTED or VOIDED, with the pending transfers posted or voided in the same transaction.
    Settling an exchange that is already settled answers its current state."""
    changed = await _transition(conn, exchange.id, to_state, reason, now, from_states=OPEN_STATES)
    if changed is None:
        return (await conn.execute(select(exchanges).where(exchanges.c.id == exchange.id))).one()
    finish = ledger.post_pending if to_state is ExchangeState.POSTED else ledger.void_pending
    suffix = "post" if to_state is ExchangeState.POSTED else "void"
    for transfer_id in (exchange.transfer_id, exchange.fee_transfer_id):
        if transfer_id is not None:
            await finish(
                conn, transfer_id, idempotency_key=f"transfer:{transfer_id}:{suffix}", now=now
            )
    return changed


async def _charge_fee(
    conn: AsyncConnection,
    exchange_id: str,
    *,
    member_id: int,
    partner_id: int,
    points: int,
    pending: bool,
    now: datetime,
) -> int | None:
    """The exchange fee: the member's points back to program issuance (held with an outbound
    exchange until it ends). Returns the transfer's id, or None without a fee."""
    if not points:
        return None
    fee = await ledger.transfer(
        conn, idempotency_key=f"exchange:{exchange_id}:fee",
        debit=ledger.member_account(member_id), credit=ledger.ISSUANCE, amount=points,
        reason="EXCHANGE_FEE", reference=f"exchange:{exchange_id}", partner_id=partner_id,
        pending=pending, now=now,
    )  # fmt: skip
    return int(fee.id)


@dataclass(frozen=True, slots=True)
class Verdict:
    state: ExchangeState
    reason: str
    reference: str | None = None


def _judge(answer: Answer | None, error: Exception | None) -> Verdict:
    """What a connector's answer (or failure) means for the exchange."""
    if answer is not None:
        if answer.outcome is Outcome.APPLIED:
            return Verdict(ExchangeState.POSTED, "confirmed by the partner", answer.reference)
        return Verdict(ExchangeState.VOIDED, f"refused by the partner: {answer.reason or '-'}")
    if isinstance(error, ConnectorError) and error.definite:
        return Verdict(ExchangeState.VOIDED, f"never reached the partner: {error}")
    return Verdict(ExchangeState.UNKNOWN, f"no definite answer: {error!r}")


async def request_exchange(
    db: Database,
    directory: ConnectorDirectory,
    *,
    member_id: int,
    quote_id: str,
    idempotency_key: str,
    deadline: float = 10.0,
    now: datetime | None = None,
    crash: Crash = _no_crash,
) -> Any:
    """Carry out a quote: reserve, call the partner, then post, void or leave UNKNOWN."""
    now = now or datetime.now(UTC)
    fingerprint = request_hash(quote_id=quote_id, member_id=member_id)

    async def reserve() -> tuple[Any, bool]:
        async with db.transaction() as conn:
            existing = (
                await conn.execute(
                    select(exchanges).where(exchanges.c.idempotency_key == idempotency_key)
                )
            ).first()
            if existing is not None:
                check_replay(existing.request_hash, fingerprint, idempotency_key)
                return existing, True
            quote = (
                await conn.execute(
                    select(quotes).where(quotes.c.id == quote_id, quotes.c.member_id == member_id)
                )
            ).first()
            if quote is None:
                raise NotFound(f"quote {quote_id} does not exist")
            if quote.expires_at <= now:
                raise QuoteExpired("the quote has expired; ask for a new one")
            used = await conn.scalar(select(exchanges.c.id).where(exchanges.c.quote_id == quote_id))
            if used is not None:
                raise InvalidState("this quote was already used by another request")
            await active_member(conn, member_id)
            partner = await partner_row(conn, quote.partner_id, active=True)
            # Under the member's lock, so two requests cannot both fit under the daily cap.
            await ledger.lock_member_balance(conn, member_id)
            terms = (
                await conn.execute(
                    select(exchange_terms).where(exchange_terms.c.id == quote.terms_id)
                )
            ).one()
            await _check_daily_cap(conn, terms, member_id=member_id, points=quote.points, now=now)
            exchange_id = uuid.uuid4().hex
            await conn.execute(
                insert(exchanges).values(
                    id=exchange_id,
                    idempotency_key=idempotency_key,
                    quote_id=quote_id,
                    member_id=member_id,
                    partner_id=partner.id,
                    direction=quote.direction,
                    points=quote.points,
                    units=quote.units,
                    rate=quote.rate,
                    fee_points=quote.fee_points,
                    external_account=quote.external_account,
                    state=ExchangeState.REQUESTED,
                    request_hash=fingerprint,
                    created_at=now,
                    updated_at=now,
                )
            )
            await _transition(
                conn, exchange_id, ExchangeState.REQUESTED, "requested", now, from_states=None
            )
            hold = await ledger.transfer(
                conn,
                idempotency_key=f"exchange:{exchange_id}:reserve",
                debit=ledger.member_account(member_id),
                credit=ledger.partner_clearing_account(partner.id),
                amount=quote.points,
                reason="EXCHANGE_OUT",
                reference=f"exchange:{exchange_id}",
                partner_id=partner.id,
                pending=True,
                now=now,
            )
            fee_id = await _charge_fee(
                conn, exchange_id, member_id=member_id, partner_id=partner.id,
                points=quote.fee_points, pending=True, now=now,
            )  # fmt: skip
            await conn.execute(
                update(exchanges)
                .where(exchanges.c.id == exchange_id)
                .values(transfer_id=hold.id, fee_transfer_id=fee_id)
            )
            row = await _transition(
                conn,
                exchange_id,
                ExchangeState.RESERVED,
                "points held",
                now,
                from_states=(ExchangeState.REQUESTED,),
            )
            return row, False

    exchange, replayed = await retry_on_race(reserve)
    if replayed:
        return exchange
    crash(CrashPoint.AFTER_RESERVE)
    partner = await find_partner(db, exchange.partner_id)
    connector = directory.for_partner(partner)
    answer, error = None, None
    try:
        answer = await asyncio.wait_for(
            connector.credit(exchange.id, exchange.external_account, exchange.units), deadline
        )
    except (ConnectorError, TimeoutError) as failure:
        error = failure
    crash(CrashPoint.AFTER_CALL)
    verdict = _judge(answer, error)
    async with db.transaction() as conn:
        if verdict.state is ExchangeState.UNKNOWN:
            row = await _transition(
                conn,
                exchange.id,
                ExchangeState.UNKNOWN,
                verdict.reason,
                now,
                from_states=(ExchangeState.RESERVED,),
            )
        else:
            row = await _settle(conn, exchange, verdict.state, verdict.reason, now)
            if verdict.reference and row is not None:
                row = (
                    await conn.execute(
                        update(exchanges)
                        .where(exchanges.c.id == exchange.id)
                        .values(partner_reference=verdict.reference)
                        .returning(*exchanges.c)
                    )
                ).one()
        if row is None:  # reconciliation got there first
            row = (await conn.execute(select(exchanges).where(exchanges.c.id == exchange.id))).one()
    crash(CrashPoint.AFTER_POST)
    return row


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    checked: int
    posted: int
    voided: int
    still_open: int


async def reconcile(
    db: Database,
    directory: ConnectorDirectory,
    *,
    stale_after: timedelta = timedelta(minutes=5),
    deadline: float = 10.0,
    now: datetime | None = None,
) -> ReconcileReport:
    """Ask the partner about every UNKNOWN exchange and every RESERVED one older than
    `stale_after` (its process died, or is still waiting on the partner), and settle it."""
    now = now or datetime.now(UTC)
    async with db.read() as conn:
        candidates = list(
            await conn.execute(
                select(exchanges)
                .where(
                    (exchanges.c.state == ExchangeState.UNKNOWN)
                    | (
                        (exchanges.c.state == ExchangeState.RESERVED)
                        & (exchanges.c.updated_at <= now - stale_after)
                    )
                )
                .order_by(exchanges.c.updated_at)
            )
        )
    posted = voided = still_open = 0
    for exchange in candidates:
        connector = directory.for_partner(await find_partner(db, exchange.partner_id))
        try:
            answer = await asyncio.wait_for(connector.status(exchange.id), deadline)
        except (ConnectorError, TimeoutError):
            still_open += 1
            continue
        state = ExchangeState.POSTED if answer.outcome is Outcome.APPLIED else ExchangeState.VOIDED
        reason = f"reconciled: the partner says {answer.outcome}"
        async with db.transaction() as conn:
            row = await _settle(conn, exchange, state, reason, now)
        if row.state == ExchangeState.POSTED:
            posted += 1
        elif row.state == ExchangeState.VOIDED:
            voided += 1
    return ReconcileReport(
        checked=len(candidates), posted=posted, voided=voided, still_open=still_open
    )


async def credit_inbound(
    db: Database,
    *,
    partner_id: int,
    member_id: int,
    units: int,
    reference: str,
    now: datetime | None = None,
) -> Any:
    """A partner converts `units` of its program into our points for a member, once per
    (partner, reference), under its INBOUND terms, in one transaction."""
    now = now or datetime.now(UTC)
    if units <= 0:
        raise ValidationFailed("credit a positive number of units")
    reference = reference.strip()
    if not reference or len(reference) > 150:
        raise ValidationFailed("a reference has 1 to 150 characters")
    key = f"inbound:{partner_id}:{reference}"
    fingerprint = request_hash(member_id=member_id, units=units)

    async def attempt() -> Any:
        async with db.transaction() as conn:
            existing = (
                await conn.execute(select(exchanges).where(exchanges.c.idempotency_key == key))
            ).first()
            if existing is not None:
                check_replay(existing.request_hash, fingerprint, reference)
                return existing
            await active_member(conn, member_id)
            await partner_row(conn, partner_id, active=True)
            terms = await terms_in_force(conn, partner_id, Direction.INBOUND, now)
            if terms is None:
                raise InvalidState(f"partner {partner_id} offers no INBOUND exchange now")
            points_value = Decimal(units) * terms.rate
            if points_value != points_value.to_integral_value():
                raise ExchangeLimit("these units are not a whole number of points", reason="RATE")
            points = int(points_value)
            await _check_amount(conn, terms, member_id=member_id, points=points, now=now)
            exchange_id = uuid.uuid4().hex
            account = await _external_account(conn, member_id, partner_id) or ""
            await conn.execute(
                insert(exchanges).values(
                    id=exchange_id,
                    idempotency_key=key,
                    member_id=member_id,
                    partner_id=partner_id,
                    direction=Direction.INBOUND,
                    points=points,
                    units=units,
                    rate=terms.rate,
                    fee_points=terms.fee_points,
                    external_account=account,
                    state=ExchangeState.REQUESTED,
                    partner_reference=reference,
                    request_hash=fingerprint,
                    created_at=now,
                    updated_at=now,
                )
            )
            await _transition(
                conn,
                exchange_id,
                ExchangeState.REQUESTED,
                "requested by the partner",
                now,
                from_states=None,
            )
            credit = await ledger.transfer(
                conn,
                idempotency_key=f"exchange:{exchange_id}:credit",
                debit=ledger.partner_clearing_account(partner_id),
                credit=ledger.member_account(member_id),
                amount=points,
                reason="EXCHANGE_IN",
                reference=f"exchange:{exchange_id}",
                partner_id=partner_id,
                now=now,
            )
            fee_id = await _charge_fee(
                conn, exchange_id, member_id=member_id, partner_id=partner_id,
                points=min(terms.fee_points, points), pending=False, now=now,
            )  # fmt: skip
            await conn.execute(
                update(exchanges)
                .where(exchanges.c.id == exchange_id)
                .values(transfer_id=credit.id, fee_transfer_id=fee_id)
            )
            return await _transition(
                conn,
                exchange_id,
                ExchangeState.POSTED,
                "credited",
                now,
                from_states=(ExchangeState.REQUESTED,),
            )

    return await retry_on_race(attempt)


async def quote_member(db: Database, quote_id: str, usable: Any = None) -> int | None:
    """Whose quote this is, if the caller may use it (`usable`: the ownership condition)."""
    async with db.read() as conn:
        query = select(quotes.c.member_id).where(quotes.c.id == quote_id)
        member_id: int | None = await conn.scalar(query if usable is None else query.where(usable))
        return member_id


async def list_exchanges(
    db: Database,
    *,
    limit: int,
    offset: int = 0,
    where: Any = None,
    state: ExchangeState | None = None,
    direction: Direction | None = None,
    partner_id: int | None = None,
) -> list[Any]:
    """Newest first."""
    query = (
        select(exchanges)
        .order_by(exchanges.c.created_at.desc(), exchanges.c.id)
        .limit(limit)
        .offset(offset)
    )
    for column, value in (
        (exchanges.c.state, state),
        (exchanges.c.direction, direction),
        (exchanges.c.partner_id, partner_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if where is not None:
        query = query.where(where)
    async with db.read() as conn:
        return list(await conn.execute(query))


async def confirm_account(
    db: Database, directory: ConnectorDirectory, *, partner_id: int, account: str, deadline: float
) -> None:
    """Before a member's account in a partner's program is linked, the partner confirms it."""
    connector = directory.for_partner(await find_partner(db, partner_id))
    try:
        known = await asyncio.wait_for(connector.link_account(account), deadline)
    except (ConnectorError, TimeoutError):
        raise PartnerUnavailable(
            f"partner {partner_id} is not answering right now", partner=str(partner_id)
        ) from None
    if not known:
        raise ValidationFailed("the partner does not know this account", argument="value")
