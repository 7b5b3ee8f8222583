from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from infra.models import redemptions, rewards
from loyalty import redemption, reward
from loyalty.errors import IdempotencyConflict, InsufficientPoints, InvalidState, OutOfStock
from loyalty.member import MemberRef
from loyalty.reward import RewardStatus, RewardTerms
from loyalty.visibility import EVERYTHING
from tests.factories import a_member_with_points, a_partner, balance_of


async def a_reward(db, code="mug", cost=100, stock=None, partner_id=None):
    terms = RewardTerms(name=code.title(), point_cost=cost, stock=stock)
    return await reward.create_reward(db, code=code, terms=terms, partner_id=partner_id)


async def stock_of(db, reward_id):
    async with db.read() as conn:
        return await conn.scalar(select(rewards.c.stock).where(rewards.c.id == reward_id))


async def test_50_concurrent_redemptions_of_a_reward_with_stock_10_give_exactly_10(db):
    # given 50 members with enough points and a reward with 10 in stock
    mug = await a_reward(db, stock=10)
    buyers = [await a_member_with_points(db, 150) for _ in range(50)]

    # when all of them redeem it at once
    async def redeem(buyer):
        return await reward.redeem_reward(
            db, member_ref=MemberRef(member_id=buyer.id), reward_id=mug.id,
            idempotency_key=f"mug-{buyer.id}", visible=EVERYTHING
        )  # fmt: skip

    outcomes = await asyncio.gather(*(redeem(b) for b in buyers), return_exceptions=True)

    # then exactly 10 succeed, the other 40 are told it is out of stock and keep their points
    succeeded = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, OutOfStock)]
    assert (len(succeeded), len(refused)) == (10, 40)
    assert await stock_of(db, mug.id) == 0
    balances = sorted([(await balance_of(db, b.id)).available for b in buyers])
    assert balances == [50] * 10 + [150] * 40
    async with db.read() as conn:
        count = await conn.scalar(select(func.count()).select_from(redemptions))
    assert count == 10


async def test_without_enough_points_the_stock_is_untouched(db):
    mug = await a_reward(db, cost=500, stock=3)
    poor = await a_member_with_points(db, 100)

    with pytest.raises(InsufficientPoints):
        await reward.redeem_reward(
            db,
            member_ref=MemberRef(member_id=poor.id),
            reward_id=mug.id,
            idempotency_key="k",
            visible=EVERYTHING,
        )

    assert await stock_of(db, mug.id) == 3


async def test_a_redemption_is_idempotent_and_cancelling_it_restocks(db):
    mug = await a_reward(db, cost=40, stock=5)
    buyer = await a_member_with_points(db, 100)
    ref = MemberRef(member_id=buyer.id)

    first = await reward.redeem_reward(
        db, member_ref=ref, reward_id=mug.id, idempotency_key="k", quantity=2, visible=EVERYTHING
    )
    again = await reward.redeem_reward(
        db, member_ref=ref, reward_id=mug.id, idempotency_key="k", quantity=2, visible=EVERYTHING
    )
    with pytest.raises(IdempotencyConflict):
        await reward.redeem_reward(
            db, member_ref=ref, reward_id=mug.id, idempotency_key="k", visible=EVERYTHING
        )
    assert again == first
    assert (first.points, first.reward_id, await stock_of(db, mug.id)) == (80, mug.id, 3)

    await redemption.cancel_redemption(db, redemption_id=first.id, visible=EVERYTHING)

    assert await stock_of(db, mug.id) == 5
    assert (await balance_of(db, buyer.id)).available == 100


async def test_inactive_rewards_cannot_be_redeemed_and_partner_rewards_pay_the_partner(db):
    partner = await a_partner(db)
    voucher = await a_reward(db, code="coffee", cost=30, partner_id=partner.id)
    buyer = await a_member_with_points(db, 100)

    spent = await reward.redeem_reward(
        db,
        member_ref=MemberRef(member_id=buyer.id),
        reward_id=voucher.id,
        idempotency_key="a",
        visible=EVERYTHING,
    )
    await reward.update_reward(
        db, reward_id=voucher.id, terms=RewardTerms(status=RewardStatus.INACTIVE)
    )
    with pytest.raises(InvalidState):
        await reward.redeem_reward(
            db, member_ref=MemberRef(member_id=buyer.id), reward_id=voucher.id,
            idempotency_key="b", visible=EVERYTHING
        )  # fmt: skip

    assert (spent.partner_id, spent.points) == (partner.id, 30)


async def test_creating_a_reward_again_answers_the_same_and_other_terms_conflict(db):
    first = await a_reward(db, cost=100)
    again = await a_reward(db, cost=100)

    with pytest.raises(IdempotencyConflict):
        await a_reward(db, cost=120)
    updated = await reward.update_reward(
        db, reward_id=first.id, terms=RewardTerms(point_cost=120, unlimited_stock=True)
    )

    assert again.id == first.id
    assert (updated.point_cost, updated.stock) == (120, None)
