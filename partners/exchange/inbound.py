"""Inbound exchanges: a partner converts units of its program into our points for a member it
is linked to, once per (partner, reference), in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from infra.database import Database
from infra.models import exchanges
from infra.partner_records import ExchangeRow
from loyalty import ledger
from loyalty.errors import ExchangeLimit, InvalidState, ValidationFailed
from loyalty.idempotency import earlier, request_hash, retry_on_race
from loyalty.ledger import TransferCode
from loyalty.membership import active_member
from loyalty.purchase import check_partner_active
from loyalty.visibility import Visibility
from partners.exchange.limits import check_amount
from partners.exchange.state import (
    ExchangeState,
    Movement,
    Opening,
    external_account,
    open_exchange,
)
from partners.registry import Direction, terms_in_force


async def credit_inbound(
    db: Database,
    *,
    partner_id: int,
    member_id: int,
    units: int,
    reference: str,
    visible: Visibility,
    now: datetime | None = None,
) -> ExchangeRow:
    """Credit a member with the points `units` are worth under the partner's INBOUND terms."""
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
            existing = await earlier(conn, exchanges, fingerprint, reference, idempotency_key=key)
            if existing is not None:
                return existing
            await active_member(conn, member_id, visible.members)
            await check_partner_active(conn, partner_id, transacting_at=now)
            terms = await terms_in_force(conn, partner_id, Direction.INBOUND, now)
            if terms is None:
                raise InvalidState(f"partner {partner_id} offers no INBOUND exchange now")
            points_value = Decimal(units) * terms.rate
            if points_value != points_value.to_integral_value():
                raise ExchangeLimit("these units are not a whole number of points", reason="RATE")
            points = int(points_value)
            await check_amount(conn, terms, member_id=member_id, points=points, now=now)
            opening = Opening(
                idempotency_key=key, member_id=member_id, partner_id=partner_id,
                direction=Direction.INBOUND, points=points, units=units, rate=terms.rate,
                fee_points=terms.fee_points,
                external_account=await external_account(conn, member_id, partner_id) or "",
                request_hash=fingerprint, partner_reference=reference,
            )  # fmt: skip
            movement = Movement(
                debit=ledger.partner_clearing_account(partner_id),
                credit=ledger.member_account(member_id), code=TransferCode.EXCHANGE_IN,
                fee_points=min(terms.fee_points, points), pending=False,
                requested="requested by the partner", opened=ExchangeState.POSTED,
                opened_reason="credited",
            )  # fmt: skip
            return await open_exchange(conn, opening, movement, now)

    return await retry_on_race(attempt)
