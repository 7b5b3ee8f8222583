"""Spending points as payment in a store, online or at a partner, and giving them back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import redemptions, rewards
from infra.records import RedemptionRow
from loyalty import bounds, ledger, member
from loyalty.errors import NotFound, ValidationFailed
from loyalty.idempotency import earlier, request_hash, retry_on_race
from loyalty.promotions import coupon
from loyalty.purchase import Channel, check_channel_partner, check_partner_active
from loyalty.visibility import Visibility


def _redemption_account(partner_id: int | None) -> ledger.AccountId:
    """Points spent at a partner go to its clearing account (the program owes the partner for
    them); points spent in our own channels go to program redemption."""
    return ledger.REDEMPTION if partner_id is None else ledger.partner_clearing_account(partner_id)


async def redeem_points(
    db: Database,
    *,
    member_ref: member.MemberRef,
    points: int,
    channel: Channel,
    idempotency_key: str,
    partner_id: int | None = None,
    reference: str | None = None,
    visible: Visibility,
    now: datetime | None = None,
) -> RedemptionRow:
    """Spend points; never more than the member's available balance, however many run at once."""
    if not 0 < points <= bounds.MAX_POINTS:
        raise ValidationFailed(f"redeem 1 to {bounds.MAX_POINTS:,} points", argument="points")
    check_channel_partner(channel, partner_id)
    if reference is not None and len(reference) > 200:
        raise ValidationFailed("a reference has at most 200 characters")
    fingerprint = request_hash(
        member=member_ref.fingerprint(), points=points, channel=channel,
        partner_id=partner_id, reference=reference,
    )  # fmt: skip
    now = now or datetime.now(UTC)

    async def act(conn: AsyncConnection, spender: Any) -> Any:
        if partner_id is not None:
            await check_partner_active(conn, partner_id, transacting_at=now)
        return await spend(
            conn, spender_id=spender.id, points=points, channel=channel, partner_id=partner_id,
            reference=reference, idempotency_key=idempotency_key, fingerprint=fingerprint,
            now=now,
        )  # fmt: skip

    return await spend_once(db, member_ref, idempotency_key, fingerprint, visible, act)


async def spend_once(
    db: Database,
    member_ref: member.MemberRef,
    idempotency_key: str,
    fingerprint: str,
    visible: Visibility,
    act: Callable[[AsyncConnection, Any], Awaitable[Any]],
) -> RedemptionRow:
    """A spending request, once per key: the earlier redemption if the key was used, otherwise
    `act` for the member (one the caller may act on) in one transaction."""

    async def attempt() -> Any:
        async with db.transaction() as conn:
            existing = await find_replay(conn, idempotency_key, fingerprint)
            if existing is not None:
                return existing
            return await act(conn, await member.resolve(conn, member_ref, visible))

    return await retry_on_race(attempt)


async def find_replay(
    conn: AsyncConnection, idempotency_key: str, fingerprint: str
) -> RedemptionRow | None:
    """The redemption an earlier request with this key made, if any (checked for the same
    content)."""
    return await earlier(
        conn, redemptions, fingerprint, idempotency_key, idempotency_key=idempotency_key
    )


async def spend(
    conn: AsyncConnection,
    *,
    spender_id: int,
    points: int,
    channel: Channel,
    partner_id: int | None,
    reference: str | None,
    idempotency_key: str,
    fingerprint: str,
    now: datetime,
    reward_id: int | None = None,
    quantity: int = 1,
) -> RedemptionRow:
    """One ledger transfer out of the member's account and the redemption record for it (no
    transfer for 0 points: a reward taken with a free-item coupon)."""
    transfer = None
    if points:
        transfer = await ledger.transfer(
            conn,
            idempotency_key=f"redemption:{idempotency_key}",
            debit=ledger.member_account(spender_id),
            credit=_redemption_account(partner_id),
            amount=points,
            reason=ledger.TransferCode.REDEEM,
            reference=reference,
            partner_id=partner_id,
            now=now,
        )
    return (
        await conn.execute(
            insert(redemptions)
            .values(
                member_id=spender_id, idempotency_key=idempotency_key, points=points,
                channel=channel, partner_id=partner_id, reference=reference, status="ACTIVE",
                reward_id=reward_id, quantity=quantity,
                transfer_id=None if transfer is None else transfer.id,
                request_hash=fingerprint, created_at=now,
            )
            .returning(*redemptions.c)
        )
    ).one()  # fmt: skip


async def cancel_redemption(
    db: Database,
    *,
    redemption_id: int,
    visible: Visibility,
    now: datetime | None = None,
) -> RedemptionRow:
    """Give a redemption's points back (and a reward's stock). Cancelling a cancelled
    redemption answers the same."""
    now = now or datetime.now(UTC)
    async with db.transaction() as conn:
        await visible.check(conn, redemptions, redemption_id)
        cancelled = (
            await conn.execute(
                update(redemptions)
                .where(redemptions.c.id == redemption_id, redemptions.c.status == "ACTIVE")
                .values(status="CANCELLED", cancelled_at=now)
                .returning(*redemptions.c)
            )
        ).first()
        if cancelled is None:
            current = (
                await conn.execute(select(redemptions).where(redemptions.c.id == redemption_id))
            ).first()
            if current is None:
                raise NotFound(f"redemption {redemption_id} does not exist")
            return current
        refund = None
        if cancelled.points:
            refund = await ledger.transfer(
                conn,
                idempotency_key=f"redemption:{redemption_id}:cancel",
                debit=_redemption_account(cancelled.partner_id),
                credit=ledger.member_account(cancelled.member_id),
                amount=cancelled.points,
                reason=ledger.TransferCode.REDEMPTION_CANCEL,
                reference=cancelled.reference,
                partner_id=cancelled.partner_id,
                now=now,
            )
        else:  # a reward taken with a free-item coupon: the coupon comes back if still valid
            await coupon.give_back(conn, None, now, redemption_id=redemption_id)
        if cancelled.reward_id is not None:
            await conn.execute(
                update(rewards)
                .where(rewards.c.id == cancelled.reward_id, rewards.c.stock.is_not(None))
                .values(stock=rewards.c.stock + cancelled.quantity)
            )
        return (
            await conn.execute(
                update(redemptions)
                .where(redemptions.c.id == redemption_id)
                .values(cancel_transfer_id=None if refund is None else refund.id)
                .returning(*redemptions.c)
            )
        ).one()
