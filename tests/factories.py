"""Small builders for given-steps, shared by the tests of every package: members with points,
partners with exchange terms, balances and transfers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from infra.database import Database
from loyalty import ledger, member, purchase
from loyalty.member import IdentityKind, IdentityRef, MemberRef
from loyalty.program import Program
from loyalty.purchase import Channel
from loyalty.visibility import EVERYTHING
from partners import registry
from partners.rate_card import RateCardTerms, add_rate_card
from partners.registry import Direction, Terms, create_partner

_sequence = itertools.count(1)


async def a_member(
    db: Database,
    name: str = "Ada",
    card: str | None = None,
    *,
    referral_code: str | None = None,
    program: Program | None = None,
    now: datetime | None = None,
) -> Any:
    number = next(_sequence)
    links = [IdentityRef(IdentityKind.LOYALTY_CARD, card)] if card else []
    return await member.enroll(
        db, display_name=name, idempotency_key=f"enroll-{number}", identities_to_link=links,
        referral_code=referral_code, program=program, now=now,
    )  # fmt: skip


async def a_purchase(
    db: Database,
    program: Program,
    member_id: int,
    amount: str,
    *,
    at: datetime | None = None,
) -> Any:
    """An online purchase recorded at `at` (now by default); returns the purchase row."""
    row, _ = await purchase.record_purchase(
        db, program, member_ref=MemberRef(member_id=member_id), channel=Channel.ONLINE,
        source="web-shop", external_order_id=f"order-{next(_sequence)}", amount=Decimal(amount),
        purchased_at=at, now=at, visible=EVERYTHING
    )  # fmt: skip
    return row


async def a_member_with_points(db: Database, points: int, program: Program | None = None) -> Any:
    """A member whose balance is `points`, earned by one online purchase."""
    buyer = await a_member(db)
    await purchase.record_purchase(
        db,
        program or Program(),
        member_ref=MemberRef(member_id=buyer.id),
        channel=Channel.ONLINE,
        source="web-shop",
        external_order_id=f"order-{next(_sequence)}",
        amount=Decimal(points),
        visible=EVERYTHING,
    )
    return buyer


CONTRACTED_SINCE = datetime(2000, 1, 1, tzinfo=UTC)


async def a_partner(db: Database, code: str = "acme-coffee", *, contracted: bool = True) -> Any:
    """A partner, by default under contract (a default rate card in force since 2000) so that it
    may transact; `contracted=False` leaves it without a rate card."""
    partner = await create_partner(db, code=code, name=code.replace("-", " ").title())
    if contracted:
        await add_rate_card(db, partner_id=partner.id, terms=RateCardTerms(),
                            valid_from=CONTRACTED_SINCE)  # fmt: skip
    return partner


# Ledger


async def balance_of(db: Database, member_id: int) -> ledger.Balance:
    async with db.transaction() as conn:
        return await ledger.lock_member_balance(conn, member_id)


async def move(db: Database, key: str, debit: str, credit: str, amount: int, **options):
    async with db.transaction() as conn:
        return await ledger.transfer(
            conn, idempotency_key=key, debit=debit, credit=credit, amount=amount,
            reason=ledger.TransferCode.ADJUSTMENT, **options,
        )  # fmt: skip


# Exchanges

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
CAPPED = Terms(
    rate=Decimal("2.5"), min_points=100, max_points=5000, step_points=50, daily_cap_points=1500
)
TERMS = Terms(
    rate=Decimal("2.5"),
    min_points=100,
    max_points=5000,
    step_points=50,
    daily_cap_points=10_000,
    fee_points=0,
)


async def a_partner_with_terms(db, code="skyway-air", terms=TERMS, direction=Direction.OUTBOUND):
    partner = await a_partner(db, code)
    await registry.set_exchange_terms(
        db,
        partner_id=partner.id,
        direction=direction,
        terms=terms,
        valid_from=NOW - timedelta(days=30),
    )
    return partner


async def a_member_with_an_account(db, partner, points=10_000, account=None):
    holder = await a_member(db)
    await member.link_identity(
        db,
        member_id=holder.id,
        kind=IdentityKind.PARTNER_ACCOUNT,
        value=account or f"SKY-{holder.id}",
        partner_id=partner.id,
        visible=EVERYTHING,
    )
    if points:
        async with db.transaction() as conn:
            await ledger.transfer(
                conn,
                idempotency_key=f"fund-{holder.id}",
                debit=ledger.ISSUANCE,
                credit=ledger.member_account(holder.id),
                amount=points,
                reason=ledger.TransferCode.ADJUSTMENT,
                now=NOW,
            )
    return holder
