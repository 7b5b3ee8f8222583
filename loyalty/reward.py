"""The reward catalog and redeeming a reward: one ledger transfer plus a redemption record, with
stock taken by a conditional UPDATE so it never goes below zero however many redeem at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database, insert_unless_exists
from infra.models import rewards
from infra.reads import keyed
from infra.records import RedemptionRow, RewardRow
from loyalty import member
from loyalty.errors import InvalidState, NotFound, OutOfStock, ValidationFailed
from loyalty.idempotency import earlier, request_hash, retry_on_race
from loyalty.program import Program
from loyalty.promotions import coupon
from loyalty.purchase import Channel, check_partner_active
from loyalty.redemption import spend, spend_once
from loyalty.visibility import Visibility


class RewardStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


@dataclass(frozen=True, slots=True)
class RewardTerms:
    """What an admin sets on a reward; None in an update leaves the field as it is."""

    name: str | None = None
    description: str | None = None
    point_cost: int | None = None
    stock: int | None = None
    # An update clears the stock limit (unlimited) with unlimited_stock=True.
    unlimited_stock: bool = False
    status: RewardStatus | None = None

    def check(self) -> None:
        if self.name is not None and not 0 < len(self.name.strip()) <= 200:
            raise ValidationFailed("a reward name has 1 to 200 characters")
        if self.description is not None and len(self.description) > 2000:
            raise ValidationFailed("a description has at most 2000 characters")
        if self.point_cost is not None and self.point_cost <= 0:
            raise ValidationFailed("a reward costs a positive number of points")
        if self.stock is not None and self.stock < 0:
            raise ValidationFailed("stock is zero or more")
        if self.unlimited_stock and self.stock is not None:
            raise ValidationFailed("give a stock or unlimited stock, not both")


async def create_reward(
    db: Database,
    *,
    code: str,
    terms: RewardTerms,
    partner_id: int | None = None,
    now: datetime | None = None,
) -> RewardRow:
    """Add a reward to the catalog. Its code is its key: creating it again with the same terms
    answers the same reward; with other terms, IDEMPOTENCY_CONFLICT."""
    code = code.strip()
    if not 0 < len(code) <= 64:
        raise ValidationFailed("a reward code has 1 to 64 characters")
    if terms.name is None or terms.point_cost is None:
        raise ValidationFailed("a reward needs a name and a point cost")
    terms.check()
    name, description = terms.name.strip(), terms.description or ""
    fingerprint = request_hash(
        name=name, description=description, point_cost=terms.point_cost, stock=terms.stock,
        partner_id=partner_id,
    )  # fmt: skip
    now = now or datetime.now(UTC)

    async def attempt() -> Any:
        async with db.transaction() as conn:
            if partner_id is not None:
                await check_partner_active(conn, partner_id)
            row = await insert_unless_exists(
                conn,
                rewards,
                {
                    "code": code, "name": name, "description": description,
                    "point_cost": terms.point_cost, "stock": terms.stock,
                    "partner_id": partner_id, "status": RewardStatus.ACTIVE,
                    "request_hash": fingerprint, "created_at": now, "updated_at": now,
                },
            )  # fmt: skip
            if row is not None:
                return row
            return await earlier(conn, rewards, fingerprint, code, code=code)

    return await retry_on_race(attempt)


async def update_reward(
    db: Database, *, reward_id: int, terms: RewardTerms, now: datetime | None = None
) -> RewardRow:
    """Change a reward's terms. Setting the same values again answers the same."""
    terms.check()
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("name", terms.name.strip() if terms.name else None),
            ("description", terms.description),
            ("point_cost", terms.point_cost),
            ("stock", terms.stock),
            ("status", terms.status),
        )
        if value is not None
    }
    if terms.unlimited_stock:
        changes["stock"] = None
    async with db.transaction() as conn:
        row = (
            await conn.execute(
                update(rewards)
                .where(rewards.c.id == reward_id)
                .values(**changes, updated_at=now or datetime.now(UTC))
                .returning(*rewards.c)
            )
        ).first()
        if row is None:
            raise NotFound(f"reward {reward_id} does not exist")
        return row


async def list_rewards(
    db: Database,
    *,
    limit: int,
    after_id: int | None = None,
    status: RewardStatus | None = None,
    partner_id: int | None = None,
    visible: Visibility,
) -> list[RewardRow]:
    query = select(rewards).where(visible.rewards).order_by(rewards.c.id).limit(limit)
    if after_id is not None:
        query = query.where(rewards.c.id > after_id)
    if status is not None:
        query = query.where(rewards.c.status == status)
    if partner_id is not None:
        query = query.where(rewards.c.partner_id == partner_id)
    async with db.read() as conn:
        return list(await conn.execute(query))


async def redeem_reward(
    db: Database,
    *,
    member_ref: member.MemberRef,
    reward_id: int,
    idempotency_key: str,
    quantity: int = 1,
    channel: Channel = Channel.ONLINE,
    coupon_code: str | None = None,
    program: Program | None = None,
    visible: Visibility,
    now: datetime | None = None,
) -> RedemptionRow:
    """Redeem `quantity` of a reward for its point cost each. Stock and points are taken in one
    transaction: without enough of either, nothing changes (OUT_OF_STOCK, INSUFFICIENT_POINTS).
    With the member's free-item coupon for the reward, one is taken without points (the coupon
    redeemed by the redemption)."""
    if not 0 < quantity <= 100:
        raise ValidationFailed("redeem 1 to 100 of a reward at a time")
    if coupon_code is not None and quantity != 1:
        raise ValidationFailed("a free-item coupon takes one reward", argument="input.quantity")
    minor_unit = (program or Program()).minor_unit
    fingerprint = request_hash(
        member=member_ref.fingerprint(),
        reward_id=reward_id,
        quantity=quantity,
        channel=channel,
        coupon=None if coupon_code is None else coupon.normalized_code(coupon_code),
    )
    now = now or datetime.now(UTC)

    async def act(conn: AsyncConnection, spender: Any) -> Any:
        # Read, not locked: redemptions of an unlimited reward do not queue on its row (they
        # come before any change of it that commits later); a limited stock is taken below by
        # a conditional UPDATE, so it never goes below zero.
        reward = (await conn.execute(
            select(rewards).where(rewards.c.id == reward_id, visible.rewards)
        )).first()  # fmt: skip
        if reward is None:
            raise NotFound(f"reward {reward_id} does not exist")
        free = None
        if coupon_code is not None:
            free = await coupon.apply_free_item(
                conn, coupon_code, member_id=spender.id, reward_id=reward_id, channel=channel,
                partner_id=None, at=now, minor_unit=minor_unit,
            )  # fmt: skip
        reward = await _take_stock(conn, reward, quantity)
        if reward.partner_id is not None:
            await check_partner_active(conn, reward.partner_id, transacting_at=now)
        taken = await spend(
            conn, spender_id=spender.id, points=0 if free else reward.point_cost * quantity,
            channel=channel, partner_id=reward.partner_id, reference=f"reward:{reward.code}",
            idempotency_key=idempotency_key, fingerprint=fingerprint, now=now,
            reward_id=reward.id, quantity=quantity,
        )  # fmt: skip
        if free is not None:
            await coupon.redeem(conn, [free], None, now, redemption_id=taken.id)
        return taken

    return await spend_once(db, member_ref, idempotency_key, fingerprint, visible, act)


async def _take_stock(conn: AsyncConnection, reward: Any, quantity: int) -> Any:
    """An active reward with `quantity` taken from its stock (a limited one, by a conditional
    UPDATE that never takes it below zero); the reward as it is now."""
    if reward.status != RewardStatus.ACTIVE:
        raise InvalidState(f"reward {reward.id} is {reward.status}")
    if reward.stock is None:
        return reward
    taken = (
        await conn.execute(
            update(rewards)
            .where(rewards.c.id == reward.id, rewards.c.stock >= quantity)
            .values(stock=rewards.c.stock - quantity)
            .returning(*rewards.c)
        )
    ).first()
    if taken is None:
        raise OutOfStock(f"reward {reward.id} does not have {quantity} left in stock",
                         reward=str(reward.id))  # fmt: skip
    return taken


rewards_by_id = keyed(tuple(rewards.c), rewards.c.id, visible=attrgetter("rewards"))
