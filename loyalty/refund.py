"""Refunds: a refund (whole or partial) takes back what the refunded part of a purchase earned,
in proportion: its points (down to the program's negative balance limit: spent points stay
spent), the referrer's share, the campaigns' points (each to the account that funded it) and
its growth value; a refund that takes the growth value below the tier the purchase reached
reverts that upgrade, and a full refund gives back the coupons it used that are still valid.
The refund's transaction writes the buyer's rows only: the referrer's share is taken back
after it (loyalty.referral.settle_shares)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import members, purchases, refunds
from infra.records import RefundRow
from loyalty import growth, ledger, referral, tier
from loyalty.earning import check_amount, points_due_back
from loyalty.errors import NotFound, ValidationFailed
from loyalty.idempotency import earlier, request_hash, retry_on_race
from loyalty.ledger import TransferCode
from loyalty.program import Program
from loyalty.promotions import benefit, campaign, coupon
from loyalty.purchase import earning_account
from loyalty.visibility import Visibility


async def refund_purchase(
    db: Database,
    program: Program,
    *,
    purchase_id: int,
    amount: Decimal,
    idempotency_key: str,
    visible: Visibility,
    now: datetime | None = None,
) -> RefundRow:
    """Refund part or all of a purchase and take back the points that part earned.

    Points the member has already spent are taken back only down to the program's negative
    balance limit; what could not be taken back is recorded on the refund as unrecovered."""
    check_amount(amount, program)
    fingerprint = request_hash(purchase_id=purchase_id, amount=amount)
    now = now or datetime.now(UTC)

    async def attempt() -> Any:
        async with db.transaction() as conn:
            await visible.check(conn, purchases, purchase_id)
            existing = await earlier(
                conn, refunds, fingerprint, idempotency_key, idempotency_key=idempotency_key
            )
            if existing is not None:
                return existing
            purchase = await _take_refund(conn, purchase_id, amount)
            due, referral_due = await _mark_reversed(conn, purchase)
            # The campaigns' share goes back to whoever funded each; the rest where the base
            # points and tier bonus came from.
            awards = (await campaign.awards_of_purchase(conn, purchase_id)
                      if purchase.campaign_points else [])  # fmt: skip
            award_due = {a.id: _share(purchase, a.points) for a in awards}
            base_due = due - sum(award_due.values())
            base_reversed = purchase.points_reversed - sum(a.points_reversed for a in awards)
            recovered, reversal_id = await _take_back(
                conn, program, member_id=purchase.member_id, points=base_due - base_reversed,
                idempotency_key=f"refund:{idempotency_key}", reason=TransferCode.REFUND,
                credit=earning_account(purchase.partner_id), purchase=purchase,
                partner_id=purchase.partner_id, now=now,
            )  # fmt: skip
            recovered += await _take_back_awards(conn, program, purchase, awards, award_due,
                                                 idempotency_key, now)  # fmt: skip
            await _undo_what_it_reached(conn, program, purchase, now)
            return (await conn.execute(insert(refunds).values(
                member_id=purchase.member_id, purchase_id=purchase_id,
                idempotency_key=idempotency_key, amount=amount, points_reversed=recovered,
                points_unrecovered=due - purchase.points_reversed - recovered,
                referral_points_reversed=referral_due - purchase.referral_points_reversed,
                transfer_id=reversal_id, request_hash=fingerprint, created_at=now,
            ).returning(*refunds.c))).one()  # fmt: skip

    refund = await retry_on_race(attempt)
    await referral.settle_after(db, program, [purchase_id], now)
    return refund


async def _take_back_awards(
    conn: AsyncConnection, program: Program, purchase: Any, awards: list[Any],
    due: dict[int, int], idempotency_key: str, now: datetime,
) -> int:  # fmt: skip
    """Each campaign's share of a refund, back to whoever funded the campaign; the points
    taken back."""
    recovered = 0
    for award in awards:
        taken, _ = await _take_back(
            conn, program, member_id=purchase.member_id,
            points=due[award.id] - award.points_reversed,
            idempotency_key=f"refund:{idempotency_key}:campaign:{award.campaign_id}",
            reason=TransferCode.CAMPAIGN_REFUND,
            credit=campaign.funding_account(award.funded_by_partner_id),
            purchase=purchase, partner_id=award.funded_by_partner_id, now=now,
        )  # fmt: skip
        recovered += taken
        await campaign.mark_award_reversed(conn, award.id, due[award.id])
    return recovered


async def _undo_what_it_reached(
    conn: AsyncConnection, program: Program, purchase: Any, now: datetime
) -> None:
    """A refund that takes the growth value below the tier the purchase reached reverts that
    upgrade and withdraws what it unlocked; a full refund gives back the coupons the purchase
    used (still valid) and voids those its campaigns granted with it (a next-purchase coupon)."""
    held = tier.Tier(str(await conn.scalar(
        select(members.c.tier).where(members.c.id == purchase.member_id))))  # fmt: skip
    lowered = await tier.revert_upgrade_if_refunded(
        conn, program, member_id=purchase.member_id, purchase_id=purchase.id, at=now
    )
    if lowered is not None:
        left = [t.value for t in tier.between(lowered, held)]
        await benefit.on_revert(conn, program, member_id=purchase.member_id, left=left, at=now)
    if purchase.refunded_amount == purchase.amount:
        await coupon.give_back(conn, purchase.id, now)
        await coupon.void_unused(conn, member_id=purchase.member_id, at=now,
                                 issue_key_like=f"campaign:%:purchase:{purchase.id}")  # fmt: skip


async def _take_refund(conn: AsyncConnection, purchase_id: int, amount: Decimal) -> Any:
    """Add `amount` to what was refunded of the purchase, never past its amount. The
    conditional update locks the purchase; the row is as it was before this refund's reversal
    is recorded."""
    purchase = (
        await conn.execute(
            update(purchases)
            .where(
                purchases.c.id == purchase_id,
                purchases.c.amount - purchases.c.refunded_amount >= amount,
            )
            .values(refunded_amount=purchases.c.refunded_amount + amount)
            .returning(*purchases.c)
        )
    ).first()
    if purchase is None:
        if await conn.scalar(select(purchases.c.id).where(purchases.c.id == purchase_id)):
            raise ValidationFailed("the refund is larger than what is left to refund")
        raise NotFound(f"purchase {purchase_id} does not exist")
    return purchase


async def _mark_reversed(conn: AsyncConnection, purchase: Any) -> tuple[int, int]:
    """Record what the refunded share reverses in all (points, referral points, growth);
    returns the points and referral points due back in all."""

    def share(value: int) -> int:
        return _share(purchase, value)

    due, referral_due = share(purchase.points_earned), share(purchase.referral_points)
    reversed_growth = share(purchase.growth_value)
    if reversed_growth != purchase.growth_reversed:
        await growth.add(conn, member_id=purchase.member_id, at=purchase.purchased_at,
                         growth=purchase.growth_reversed - reversed_growth)  # fmt: skip
    await conn.execute(
        update(purchases)
        .where(purchases.c.member_id == purchase.member_id, purchases.c.id == purchase.id)
        .values(
            points_reversed=due,
            referral_points_reversed=referral_due,
            referral_pending=purchase.referral_pending
            or referral_due != purchase.referral_points_reversed,
            growth_reversed=reversed_growth,
        )
    )
    return due, referral_due


def _share(purchase: Any, points: int) -> int:
    """What of `points` the purchase's refunds so far are due to take back, in all."""
    return points_due_back(points, purchase.amount, purchase.refunded_amount)


async def _take_back(
    conn: AsyncConnection,
    program: Program,
    *,
    member_id: int,
    points: int,
    idempotency_key: str,
    reason: TransferCode,
    credit: ledger.AccountId,
    purchase: Any,
    partner_id: int | None,
    now: datetime,
) -> tuple[int, int | None]:
    """Take back points a refund reverses, only down to the program's negative balance limit
    (the member may have spent them). Returns the points recovered and the transfer's id."""
    return await ledger.take_back(
        conn, member_id=member_id, points=points, negative_limit=program.negative_balance_limit,
        idempotency_key=idempotency_key, reason=reason, credit=credit,
        reference=f"purchase:{purchase.id}", partner_id=partner_id, now=now,
    )  # fmt: skip
