"""Outbound exchanges: our points to a member's account in a partner's program. A quote locks
the rate; the request reserves the points (RESERVED, committed), calls the partner with the
exchange id as its idempotency key, and records what the answer means: POSTED, VOIDED, or
UNKNOWN until `reconcile` hears from the partner."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import exchange_terms, exchanges, quotes
from infra.partner_records import ExchangeRow, QuoteRow
from loyalty import ledger
from loyalty.errors import (
    InvalidState,
    NotFound,
    PartnerUnavailable,
    QuoteExpired,
    ValidationFailed,
)
from loyalty.idempotency import earlier, request_hash, retry_on_race
from loyalty.ledger import TransferCode
from loyalty.membership import active_member, check_standing, standing
from loyalty.program import Program
from loyalty.purchase import check_gate, check_partner_active, partner_gate
from loyalty.visibility import Visibility
from partners.connector import Answer, ConnectorError, Outcome
from partners.directory import ConnectorDirectory
from partners.exchange.limits import check_amount, check_cap, used_today
from partners.exchange.state import (
    ExchangeState,
    Movement,
    Opening,
    external_account,
    open_exchange,
    settle,
    transition,
)
from partners.registry import Direction, find_partner, terms_in_force


async def quote_exchange(
    db: Database,
    program: Program,
    *,
    member_id: int,
    partner_id: int,
    points: int,
    direction: Direction = Direction.OUTBOUND,
    requested_by: str | None = None,
    visible: Visibility,
    now: datetime | None = None,
) -> QuoteRow:
    """A rate-locked quote for exchanging `points` with a partner, valid `quote_seconds`, that
    only `requested_by` may carry out."""
    now = now or datetime.now(UTC)
    if direction is not Direction.OUTBOUND:
        raise ValidationFailed("members quote outbound exchanges; partners credit inbound ones")
    async with db.transaction() as conn:
        await active_member(conn, member_id, visible.members)
        await check_partner_active(conn, partner_id, transacting_at=now)
        terms = await terms_in_force(conn, partner_id, direction, now)
        if terms is None:
            raise InvalidState(f"partner {partner_id} offers no {direction} exchange now")
        account = await external_account(conn, member_id, partner_id)
        if account is None:
            raise InvalidState("the member has no account in this partner's program")
        units = await check_amount(conn, terms, member_id=member_id, points=points, now=now)
        return (
            await conn.execute(
                insert(quotes)
                .values(
                    id=uuid.uuid4().hex, member_id=member_id, partner_id=partner_id,
                    terms_id=terms.id, direction=direction, points=points, units=units,
                    rate=terms.rate, fee_points=terms.fee_points, external_account=account,
                    created_at=now, expires_at=now + timedelta(seconds=program.quote_seconds),
                    requested_by=requested_by,
                )
                .returning(*quotes.c)
            )
        ).one()  # fmt: skip


@dataclass(frozen=True, slots=True)
class Verdict:
    state: ExchangeState
    reason: str
    reference: str | None = None


def judge(answer: Answer | None, error: Exception | None) -> Verdict:
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
    quote_id: str,
    idempotency_key: str,
    deadline: float = 10.0,
    visible: Visibility,
    now: datetime | None = None,
) -> ExchangeRow:
    """Carry out a quote (one the caller may use, for a member it may act on): reserve, call
    the partner, then post, void or leave UNKNOWN."""
    now = now or datetime.now(UTC)
    exchange, partner, replayed = await retry_on_race(
        lambda: _reserve(db, quote_id, idempotency_key, visible, now)
    )
    if replayed:
        return exchange
    connector = directory.for_partner(partner)
    answer, error = None, None
    try:
        answer = await asyncio.wait_for(
            connector.credit(exchange.id, exchange.external_account, exchange.units), deadline
        )
    except (ConnectorError, TimeoutError) as failure:
        error = failure
    verdict = judge(answer, error)

    async def record() -> Any:
        async with db.transaction() as conn:
            return await _record(conn, exchange, verdict, now)

    # Settling is idempotent: a deadlocked attempt runs again rather than leave the exchange
    # RESERVED until reconciliation.
    return await retry_on_race(record)


async def _reserve(
    db: Database, quote_id: str, idempotency_key: str, visible: Visibility, now: datetime
) -> tuple[Any, Any, bool]:
    """Hold the quote's points and fee (RESERVED), or find the earlier request's exchange;
    with the partner (its connector is called next)."""
    async with db.transaction() as conn:
        # The member's lock with the quote that names the member, and before anything else is
        # read: a retry of this request waits here for the first attempt to commit, then finds
        # its exchange below (checked before the lock, it would insert a second one and wait
        # on the first's settlement while holding the lock: a deadlock). Under the same lock,
        # two requests cannot both fit under the daily cap.
        quote = (
            await conn.execute(ledger.holding_lock(
                select(quotes).where(quotes.c.id == quote_id, visible.quotes), quotes.c.member_id
            ))
        ).first()  # fmt: skip
        if quote is None:
            raise NotFound(f"quote {quote_id} does not exist")
        found = (await conn.execute(_standing(quote, idempotency_key, visible, now))).one()
        fingerprint = request_hash(quote_id=quote_id, member_id=quote.member_id)
        if found.earlier is not None:
            existing = await earlier(
                conn, exchanges, fingerprint, idempotency_key, idempotency_key=idempotency_key
            )
            if existing is not None:
                return existing, None, True
        if quote.expires_at <= now:
            raise QuoteExpired("the quote has expired; ask for a new one")
        if found.used is not None:
            raise InvalidState("this quote was already used by another request")
        check_standing(found.member_status)
        partner = check_gate(found, quote.partner_id, now)
        check_cap(found.daily_cap_points, int(found.used_today), quote.points)
        opening = Opening(
            idempotency_key=idempotency_key, member_id=quote.member_id, partner_id=partner.id,
            direction=quote.direction, points=quote.points, units=quote.units, rate=quote.rate,
            fee_points=quote.fee_points, external_account=quote.external_account,
            request_hash=fingerprint, quote_id=quote_id,
        )  # fmt: skip
        movement = Movement(
            debit=ledger.member_account(quote.member_id),
            credit=ledger.partner_clearing_account(partner.id), code=TransferCode.EXCHANGE_OUT,
            fee_points=quote.fee_points, pending=True, requested="requested",
            opened=ExchangeState.RESERVED, opened_reason="points held",
        )  # fmt: skip
        return await open_exchange(conn, opening, movement, now), partner, False


def _standing(quote: Any, idempotency_key: str, visible: Visibility, now: datetime) -> Any:
    """Read under the member's lock, in one statement: the partner's gate, an earlier
    request's exchange by its key, an exchange that used the quote, the member's standing, the
    terms' daily cap and what the member used of it today."""
    return partner_gate(quote.partner_id, now).add_columns(
        select(exchanges.c.id).where(exchanges.c.idempotency_key == idempotency_key)
        .limit(1).scalar_subquery().label("earlier"),
        select(exchanges.c.id).where(exchanges.c.quote_id == quote.id)
        .limit(1).scalar_subquery().label("used"),
        standing(quote.member_id, visible.members).label("member_status"),
        select(exchange_terms.c.daily_cap_points).where(exchange_terms.c.id == quote.terms_id)
        .scalar_subquery().label("daily_cap_points"),
        used_today(quote.member_id, quote.partner_id, quote.direction, now)
        .scalar_subquery().label("used_today"),
    )  # fmt: skip


async def _record(conn: AsyncConnection, exchange: Any, verdict: Verdict, now: datetime) -> Any:
    """Settle the exchange as the partner's answer says, or mark it UNKNOWN. If reconciliation
    got there first, its state stands."""
    if verdict.state is ExchangeState.UNKNOWN:
        row = await transition(
            conn, exchange, ExchangeState.UNKNOWN, verdict.reason, now,
            from_states=(ExchangeState.RESERVED,),
        )  # fmt: skip
    else:
        also = {"partner_reference": verdict.reference} if verdict.reference else None
        row = await settle(conn, exchange, verdict.state, verdict.reason, now, also=also)
    if row is None:
        row = (await conn.execute(select(exchanges).where(exchanges.c.id == exchange.id))).one()
    return row


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
