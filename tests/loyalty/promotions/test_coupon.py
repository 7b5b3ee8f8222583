"""Coupons as a shop and a member meet them: thresholds, validity, channels and partners, one
redemption per coupon however many purchases race for it, and refunds that give it back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from infra.models import coupons, purchases, rewards, transfers
from loyalty import books, purchase, redemption, reward
from loyalty.errors import CouponNotApplicable, IdempotencyConflict, InvalidState
from loyalty.member import MemberRef
from loyalty.promotions import coupon
from loyalty.promotions.coupon import CouponKind, TemplateTerms
from loyalty.purchase import Channel
from loyalty.refund import refund_purchase
from loyalty.reward import RewardTerms
from loyalty.visibility import EVERYTHING
from tests.factories import a_member, a_partner, balance_of

MARCH_1 = datetime(2026, 3, 1, 10, tzinfo=UTC)
SPEND_200_SAVE_20 = TemplateTerms(
    code="spend-200-save-20", name="Spend 200, save 20", kind=CouponKind.AMOUNT_OFF,
    amount_off=Decimal("20.00"), threshold=Decimal("200.00"), valid_hours=7 * 24,
)  # fmt: skip


async def a_coupon(db, program, member_id, terms=SPEND_200_SAVE_20, key=None, at=MARCH_1):
    """A coupon issued by an operator; a key names one issue (by default one per template)."""
    template = await coupon.create_template(db, program, terms, now=at)
    return await coupon.issue(
        db, template_id=template.id, member_id=member_id,
        idempotency_key=key or f"k-{terms.code}", now=at, visible=EVERYTHING
    )  # fmt: skip


async def buy(db, program, member_id, amount, codes, *, order="o-1", at=MARCH_1, **where):
    row, replay = await purchase.record_purchase(
        db, program, member_ref=MemberRef(member_id=member_id),
        channel=where.pop("channel", Channel.ONLINE), source="shop", external_order_id=order,
        amount=Decimal(amount), coupon_codes=codes, now=at,
        visible=where.pop("visible", EVERYTHING), **where,
    )  # fmt: skip
    return row, replay


async def refund(db, program, row, amount, key, *, days):
    await refund_purchase(
        db, program, purchase_id=row.id, amount=Decimal(amount), idempotency_key=key,
        now=MARCH_1 + timedelta(days=days), visible=EVERYTHING
    )  # fmt: skip


async def counts(db):
    async with db.read() as conn:
        return (
            await conn.scalar(select(func.count()).select_from(purchases)),
            await conn.scalar(select(func.count()).select_from(transfers)),
        )


async def state_of(db, code):
    async with db.read() as conn:
        return await conn.scalar(select(coupons.c.state).where(coupons.c.code == code))


async def test_spend_200_save_20(db, program):
    buyer = await a_member(db)
    held = await a_coupon(db, program, buyer.id)
    before = await counts(db)

    with pytest.raises(CouponNotApplicable) as short:
        await buy(db, program, buyer.id, "199.99", [held.code])
    assert short.value.extensions == {
        "code": "COUPON_NOT_APPLICABLE", "reason": "THRESHOLD", "coupon": held.code,
    }  # fmt: skip
    assert await counts(db) == before and await state_of(db, held.code) == "ISSUED"

    row, _ = await buy(db, program, buyer.id, "200.00", [held.code.lower()], order="o-2")
    assert (row.gross_amount, row.amount, row.points_earned) == (
        Decimal("200.00"), Decimal("180.00"), 180,
    )  # fmt: skip
    assert row.growth_value == 180 and (await balance_of(db, buyer.id)).available == 180
    assert await state_of(db, held.code) == "REDEEMED"

    with pytest.raises(CouponNotApplicable) as again:
        await buy(db, program, buyer.id, "300.00", [held.code], order="o-3")
    assert again.value.extensions["reason"] == "ALREADY_USED"
    # the same order sent again is the same purchase, not a second use
    replay, replayed = await buy(db, program, buyer.id, "200.00", [held.code], order="o-2")
    assert replayed and replay.id == row.id


async def test_a_next_purchase_coupon_is_valid_for_seven_days_to_the_minute(db, program):
    buyer = await a_member(db)
    held = await a_coupon(db, program, buyer.id)

    assert (held.valid_from, held.valid_until) == (MARCH_1, datetime(2026, 3, 8, 10, tzinfo=UTC))
    with pytest.raises(CouponNotApplicable) as late:
        await buy(db, program, buyer.id, "250.00", [held.code], at=held.valid_until)
    assert late.value.extensions["reason"] == "EXPIRED"
    row, _ = await buy(db, program, buyer.id, "250.00", [held.code], order="o-2",
                       at=held.valid_until - timedelta(minutes=1))  # fmt: skip
    assert row.amount == Decimal("230.00")


async def test_coupons_are_refused_where_they_do_not_apply(db, program):
    buyer, other = await a_member(db), await a_member(db, "Bo")
    shop, elsewhere = await a_partner(db, "shop-p"), await a_partner(db, "else-p")
    online_only = await a_coupon(db, program, buyer.id, TemplateTerms(
        code="web", name="Web only", kind=CouponKind.AMOUNT_OFF, amount_off=Decimal("5.00"),
        valid_hours=24, channels=("ONLINE",)))  # fmt: skip
    at_shop = await a_coupon(db, program, buyer.id, TemplateTerms(
        code="shop", name="At the shop", kind=CouponKind.AMOUNT_OFF, amount_off=Decimal("5.00"),
        valid_hours=24, partner_id=shop.id))  # fmt: skip
    theirs = await a_coupon(db, program, other.id, key="theirs")

    refusals = {}
    for name, codes, where in [
        ("channel", [online_only.code], {"channel": Channel.OFFLINE}),
        ("partner", [at_shop.code], {"channel": Channel.PARTNER, "partner_id": elsewhere.id}),
        ("owner", [theirs.code], {}),
        ("unknown", ["NOPE-NOPE"], {}),
    ]:
        with pytest.raises(CouponNotApplicable) as refused:
            await buy(db, program, buyer.id, "250.00", codes, order=name, **where)
        refusals[name] = refused.value.extensions["reason"]
    row, _ = await buy(db, program, buyer.id, "50.00", [at_shop.code], order="ok",
                       channel=Channel.PARTNER, partner_id=shop.id)  # fmt: skip

    assert refusals == {
        "channel": "CHANNEL", "partner": "PARTNER", "owner": "NOT_OWNER", "unknown": "NOT_FOUND"
    }  # fmt: skip
    assert row.amount == Decimal("45.00")


async def test_a_percentage_is_rounded_half_even_and_capped(db, program):
    buyer = await a_member(db)
    terms = TemplateTerms(code="pct", name="12.5 % off, at most 10", kind=CouponKind.PERCENT_OFF,
                          percent_off=Decimal("12.5"), max_discount=Decimal("10.00"),
                          valid_hours=24, per_member_limit=2)  # fmt: skip
    first = await a_coupon(db, program, buyer.id, terms, key="1")
    second = await a_coupon(db, program, buyer.id, terms, key="2")
    with pytest.raises(InvalidState) as limit:  # two held at once
        await a_coupon(db, program, buyer.id, terms, key="3")

    # 12.5 % of 20.20 = 2.525 -> 2.52 (half-even); of 200.00 = 25 -> capped at 10
    small, _ = await buy(db, program, buyer.id, "20.20", [first.code], order="small")
    large, _ = await buy(db, program, buyer.id, "200.00", [second.code], order="large")

    assert (small.amount, large.amount) == (Decimal("17.68"), Decimal("190.00"))
    assert limit.value.extensions["reason"] == "PER_MEMBER_LIMIT"


async def test_issuing_is_idempotent_and_a_total_limit_holds(db, program):
    ada, bo, cy = await a_member(db), await a_member(db, "Bo"), await a_member(db, "Cy")
    terms = TemplateTerms(code="two", name="Only two", kind=CouponKind.AMOUNT_OFF,
                          amount_off=Decimal("1.00"), valid_hours=1, total_limit=2)  # fmt: skip

    first = await a_coupon(db, program, ada.id, terms, key="x")
    again = await a_coupon(db, program, ada.id, terms, key="x")
    await a_coupon(db, program, bo.id, terms, key="y")
    with pytest.raises(InvalidState) as limit:
        await a_coupon(db, program, cy.id, terms, key="z")

    assert again.id == first.id and again.code == first.code and len(first.code) == 16
    assert limit.value.extensions["reason"] == "TOTAL_LIMIT"


async def test_fifty_purchases_racing_for_one_coupon_redeem_it_once(db, program):
    buyer = await a_member(db)
    held = await a_coupon(db, program, buyer.id)

    results = await asyncio.gather(
        *(buy(db, program, buyer.id, "200.00", [held.code], order=f"race-{n}") for n in range(50)),
        return_exceptions=True,
    )

    done = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, CouponNotApplicable)]
    assert len(done) == 1 and len(refused) == 49, [r for r in results if r not in done + refused]
    assert {r.extensions["reason"] for r in refused} == {"ALREADY_USED"}
    assert await counts(db) == (1, 1)


async def test_a_full_refund_within_the_validity_gives_the_coupon_back(db, program):
    buyer = await a_member(db)
    held = await a_coupon(db, program, buyer.id)
    row, _ = await buy(db, program, buyer.id, "200.00", [held.code])

    await refund(db, program, row, Decimal("100.00"), "r-1", days=1)
    assert await state_of(db, held.code) == "REDEEMED"
    await refund(db, program, row, Decimal("80.00"), "r-2", days=2)
    assert await state_of(db, held.code) == "ISSUED"
    again, _ = await buy(db, program, buyer.id, "210.00", [held.code], order="o-2",
                         at=MARCH_1 + timedelta(days=3))  # fmt: skip
    assert again.amount == Decimal("190.00")

    # refunded after it expired, it stays used
    later = await a_coupon(db, program, buyer.id, key="later")
    used, _ = await buy(db, program, buyer.id, "200.00", [later.code], order="o-3")
    await refund(db, program, used, used.amount, "r-3", days=8)
    assert await state_of(db, later.code) == "REDEEMED"


async def test_a_budget_is_never_overspent(db, program):
    buyers = [await a_member(db, f"M{n}") for n in range(3)]
    terms = TemplateTerms(code="budget", name="Budget of 25", kind=CouponKind.AMOUNT_OFF,
                          amount_off=Decimal("10.00"), valid_hours=24,
                          budget=Decimal("25.00"))  # fmt: skip
    held = [await a_coupon(db, program, b.id, terms, key=f"b-{b.id}") for b in buyers]

    results = await asyncio.gather(
        *(buy(db, program, b.id, "50.00", [c.code], order=f"b-{b.id}")
          for b, c in zip(buyers, held, strict=True)),
        return_exceptions=True,
    )  # fmt: skip

    refused = [r for r in results if isinstance(r, CouponNotApplicable)]
    assert len(refused) == 1 and refused[0].extensions["reason"] == "BUDGET"
    async with db.read() as conn:
        spent = await conn.scalar(select(coupon.coupon_templates.c.discount_total))
    assert spent == Decimal("20.00")


async def test_a_free_item_coupon_takes_its_reward_without_points_once(db, program):
    buyer = await a_member(db)
    tote = await reward.create_reward(db, code="tote", terms=RewardTerms(
        name="Tote bag", point_cost=300, stock=5))  # fmt: skip
    mug = await reward.create_reward(db, code="mug", terms=RewardTerms(name="Mug", point_cost=200))
    free_tote = await a_coupon(db, program, buyer.id, TemplateTerms(
        code="free-tote", name="A free tote", kind=CouponKind.FREE_ITEM, reward_id=tote.id,
        valid_hours=24))  # fmt: skip

    async def take(item, key, code=free_tote.code):
        return await reward.redeem_reward(
            db, member_ref=MemberRef(member_id=buyer.id), reward_id=item.id,
            idempotency_key=key, coupon_code=code, now=MARCH_1 + timedelta(hours=1),
            visible=EVERYTHING
        )  # fmt: skip

    refusals = {}
    for name, attempt in [
        ("other reward", take(mug, "m")),
        ("at a purchase", buy(db, program, buyer.id, "50.00", [free_tote.code])),
    ]:
        with pytest.raises(CouponNotApplicable) as refused:
            await attempt
        refusals[name] = refused.value.extensions["reason"]
    taken = await take(tote, "t-1")
    again = await take(tote, "t-1")  # the same request: the same redemption
    with pytest.raises(CouponNotApplicable) as used:
        await take(tote, "t-2")
    await redemption.cancel_redemption(
        db, redemption_id=taken.id, now=MARCH_1 + timedelta(hours=2), visible=EVERYTHING
    )
    back = await state_of(db, free_tote.code)

    assert refusals == {"other reward": "KIND", "at a purchase": "KIND"}
    assert (taken.points, taken.transfer_id, again.id) == (0, None, taken.id)
    assert used.value.extensions["reason"] == "ALREADY_USED"
    assert back == "ISSUED" and (await balance_of(db, buyer.id)).available == 0
    async with db.read() as conn:
        stock = await conn.scalar(select(rewards.c.stock).where(rewards.c.id == tote.id))
        assert await books.verify(conn) == []
    assert stock == 5


async def test_a_voided_coupon_cannot_be_used_and_a_used_one_cannot_be_voided(db, program):
    buyer = await a_member(db)
    held = await a_coupon(db, program, buyer.id, key="v")
    used = await a_coupon(db, program, buyer.id, key="u")
    await buy(db, program, buyer.id, "250.00", [used.code], order="o-u")

    voided = await coupon.void(db, held.id, visible=EVERYTHING)
    again = await coupon.void(db, held.id, visible=EVERYTHING)
    with pytest.raises(CouponNotApplicable) as refused:
        await buy(db, program, buyer.id, "250.00", [held.code], order="o-v")
    with pytest.raises(InvalidState):
        await coupon.void(db, used.id, visible=EVERYTHING)

    assert voided.state == again.state == "VOIDED"
    assert refused.value.extensions["reason"] == "VOIDED"


async def test_an_idempotency_key_names_one_issue(db, program):
    """Found from outside: the same key for another member issued a second coupon."""
    ada, bo = await a_member(db), await a_member(db, "Bo")
    first = await a_coupon(db, program, ada.id, key="welcome")
    other = await coupon.create_template(db, program, TemplateTerms(
        code="other", name="Other", kind=CouponKind.AMOUNT_OFF, amount_off=Decimal("1.00"),
        valid_hours=1), now=MARCH_1)  # fmt: skip

    with pytest.raises(IdempotencyConflict):
        await coupon.issue(db, template_id=first.template_id, member_id=bo.id,
                           idempotency_key="welcome", now=MARCH_1, visible=EVERYTHING)  # fmt: skip
    with pytest.raises(IdempotencyConflict):
        await coupon.issue(db, template_id=other.id, member_id=ada.id,
                           idempotency_key="welcome", now=MARCH_1, visible=EVERYTHING)  # fmt: skip
    replayed = await coupon.issue(db, template_id=first.template_id, member_id=ada.id,
                                  idempotency_key="welcome", now=MARCH_1,
                                  visible=EVERYTHING)  # fmt: skip

    assert replayed.id == first.id
    async with db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(coupons)) == 1


async def test_a_per_member_limit_counts_the_coupons_held_at_once(db, program):
    """Found from outside: perMemberLimit ("held at once") counted used coupons too."""
    ada = await a_member(db)
    terms = TemplateTerms(
        code="one-at-a-time", name="One at a time", kind=CouponKind.AMOUNT_OFF,
        amount_off=Decimal("5.00"), valid_hours=24, per_member_limit=1,
    )  # fmt: skip
    held = await a_coupon(db, program, ada.id, terms, key="first")
    with pytest.raises(InvalidState) as limit:
        await a_coupon(db, program, ada.id, terms, key="second")
    await buy(db, program, ada.id, "50.00", [held.code])

    after_use = await a_coupon(db, program, ada.id, terms, key="third")

    assert limit.value.extensions["reason"] == "PER_MEMBER_LIMIT"
    assert after_use.state == "ISSUED" and after_use.code != held.code
