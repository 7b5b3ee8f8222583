"""Tier benefits and the program's own offers: what a tier gives, grants on upgrade and on
enrolment once, and the daily lifecycle job's win-back, birthday and annual-target offers, each
once however often (and on however many replicas) the job runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from infra.models import benefit_grants, coupon_templates, coupons, members
from loyalty import member
from loyalty.promotions import benefit, offer
from loyalty.promotions.coupon import CouponKind, TemplateTerms, create_template
from loyalty.refund import refund_purchase
from loyalty.visibility import EVERYTHING
from tests.factories import a_member, a_purchase

DAY_0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
OFFERS = {
    "first-order": TemplateTerms(code="first-order", name="First order: 10 off 50",
                                 kind=CouponKind.AMOUNT_OFF, amount_off=Decimal("10.00"),
                                 threshold=Decimal("50.00"), valid_hours=30 * 24),
    "win-back": TemplateTerms(code="win-back", name="Come back: 15 off 100",
                              kind=CouponKind.AMOUNT_OFF, amount_off=Decimal("15.00"),
                              threshold=Decimal("100.00"), valid_hours=14 * 24),
    "spend-200-save-20": TemplateTerms(code="spend-200-save-20", name="Spend 200, save 20",
                                       kind=CouponKind.AMOUNT_OFF, amount_off=Decimal("20.00"),
                                       threshold=Decimal("200.00"), valid_hours=90 * 24),
}  # fmt: skip


async def the_offers(db, program):
    for terms in OFFERS.values():
        await create_template(db, program, terms, now=DAY_0 - timedelta(days=1))


async def coupons_of(db, member_id):
    async with db.read() as conn:
        return [row.code for row in await conn.execute(
            select(coupon_templates.c.code).join(coupons, coupons.c.template_id ==
                                                 coupon_templates.c.id)
            .where(coupons.c.member_id == member_id).order_by(coupons.c.id))]  # fmt: skip


async def coupon_states(db, member_id, template):
    async with db.read() as conn:
        return list(await conn.scalars(
            select(coupons.c.state).join(coupon_templates,
                                         coupons.c.template_id == coupon_templates.c.id)
            .where(coupons.c.member_id == member_id, coupon_templates.c.code == template)
            .order_by(coupons.c.id)))  # fmt: skip


async def grants_of(db, member_id):
    async with db.read() as conn:
        return [(row.benefit, row.period) for row in await conn.execute(
            select(benefit_grants).where(benefit_grants.c.member_id == member_id)
            .order_by(benefit_grants.c.id))]  # fmt: skip


async def test_each_tier_has_its_own_benefits_with_values_a_shop_can_apply(program):
    def listed(tier):
        return {b.code: benefit.value_of(b, program) for b in benefit.benefits_of(program, tier)}

    assert listed("SILVER") == {"points-redemption": "true", "new-member-gift-pack": "true"}
    assert listed("GOLD") == {
        "points-redemption": "true", "cashback-gold": "2%",
        "threshold-coupons": "spend-200-save-20", "after-sales-2h": "PT2H",
    }  # fmt: skip
    diamond = listed("DIAMOND")
    assert diamond["free-shipping"] == diamond["early-access"] == "true"
    assert diamond["cashback-diamond"] == "5%" and "threshold-coupons" not in diamond


async def test_a_new_member_gets_the_gift_pack_and_the_first_order_coupon_once(db, program):
    await the_offers(db, program)

    joined = await a_member(db, now=DAY_0)
    again = await member.enroll(db, display_name="Ada", idempotency_key="enroll-again",
                                program=program, now=DAY_0)  # fmt: skip

    assert await grants_of(db, joined.id) == [("new-member-gift-pack", "once")]
    assert await coupons_of(db, joined.id) == ["first-order"]
    assert await coupons_of(db, again.id) == ["first-order"]


async def test_reaching_gold_grants_the_threshold_coupon_once_a_membership_year(db, program):
    await the_offers(db, program)
    buyer = await a_member(db, now=DAY_0)

    to_gold = await a_purchase(db, program, buyer.id, "5000.00", at=DAY_0 + timedelta(days=1))
    await refund_purchase(db, program, purchase_id=to_gold.id, amount=to_gold.amount,
                          idempotency_key="r", now=DAY_0 + timedelta(days=2),
                          visible=EVERYTHING)  # fmt: skip
    await a_purchase(db, program, buyer.id, "5000.00", at=DAY_0 + timedelta(days=3))
    next_year = DAY_0 + timedelta(days=400)
    async with db.transaction() as conn:
        await conn.execute(update(members).where(members.c.id == buyer.id).values(tier="SILVER"))
    await a_purchase(db, program, buyer.id, "5000.00", at=next_year)

    # GOLD reached three times: twice in the first membership year (the refund reverted the
    # first upgrade, withdrawing its grant and voiding its unused coupon), once in the second
    assert await grants_of(db, buyer.id) == [
        ("new-member-gift-pack", "once"), ("threshold-coupons", "year-1"),
        ("threshold-coupons", "year-2"),
    ]  # fmt: skip
    assert (await coupons_of(db, buyer.id)).count("spend-200-save-20") == 3
    assert await coupon_states(db, buyer.id, "spend-200-save-20") == [
        "VOIDED", "ISSUED", "ISSUED"]  # fmt: skip


async def test_a_dormant_member_gets_one_win_back_coupon_per_episode(db, program):
    await the_offers(db, program)
    quiet = await a_member(db, now=DAY_0)

    day_60 = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=60))
    day_91 = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=91))
    day_92 = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=92))
    # it buys, then goes quiet again: a new episode
    await a_purchase(db, program, quiet.id, "20.00", at=DAY_0 + timedelta(days=100))
    day_250 = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=250))

    assert (day_60.winback, day_91.winback, day_92.winback, day_250.winback) == (0, 1, 0, 1)
    assert await coupons_of(db, quiet.id) == ["first-order", "win-back", "win-back"]


async def test_the_job_run_twice_at_once_offers_nothing_twice(db, program):
    await the_offers(db, program)
    quiet = [await a_member(db, f"Q{n}", now=DAY_0) for n in range(5)]

    reports = await asyncio.gather(
        *(offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=95)) for _ in range(2))
    )

    assert sum(r.winback for r in reports) == 5
    for someone in quiet:
        assert await coupons_of(db, someone.id) == ["first-order", "win-back"]


async def a_diamond(db, program, *, born=None):
    someone = await a_member(db, now=DAY_0)
    async with db.transaction() as conn:
        await conn.execute(update(members).where(members.c.id == someone.id)
                           .values(tier="DIAMOND", birth_date=born))  # fmt: skip
    return someone


async def test_a_diamond_member_gets_a_birthday_gift_once_a_year(db, program):
    diamond = await a_diamond(db, program, born=date(1992, 2, 29))

    # 29 February falls on the 28th in 2027; a run a few days late still gives it
    before = await offer.run_lifecycle_offers(db, program, at=datetime(2027, 2, 27, tzinfo=UTC))
    late = await offer.run_lifecycle_offers(db, program, at=datetime(2027, 3, 2, tzinfo=UTC))
    again = await offer.run_lifecycle_offers(db, program, at=datetime(2027, 3, 3, tzinfo=UTC))
    leap = await offer.run_lifecycle_offers(db, program, at=datetime(2028, 2, 29, tzinfo=UTC))

    assert [r.birthday for r in (before, late, again, leap)] == [0, 1, 0, 1]
    assert [g for g in await grants_of(db, diamond.id) if g[0] == "birthday-gift"] == [
        ("birthday-gift", "2027"), ("birthday-gift", "2028"),
    ]  # fmt: skip


async def test_the_diamond_annual_target_gift_once_per_membership_year(db, program):
    diamond = await a_diamond(db, program)
    await a_purchase(db, program, diamond.id, "20000.00", at=DAY_0 + timedelta(days=100))
    short = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=101))
    await a_purchase(db, program, diamond.id, "10000.00", at=DAY_0 + timedelta(days=200))
    reached = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=201))
    again = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=300))
    # the second membership year starts from zero
    next_year = await offer.run_lifecycle_offers(db, program, at=DAY_0 + timedelta(days=370))

    assert [r.annual_target for r in (short, reached, again, next_year)] == [0, 1, 0, 0]
    assert ("annual-target-gift", "year-1") in await grants_of(db, diamond.id)
