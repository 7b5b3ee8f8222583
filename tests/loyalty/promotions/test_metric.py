"""programMetrics on a seeded month equals the figures this test computes on its own from what
it did: who enrolled and bought when, which offers went out, which coupons came back."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import update

from infra.models import members
from loyalty import member
from loyalty.promotions import campaign, coupon, metric
from loyalty.promotions.campaign import CampaignTerms
from loyalty.promotions.coupon import CouponKind, TemplateTerms
from loyalty.refund import refund_purchase
from loyalty.visibility import EVERYTHING
from tests.factories import a_purchase

JANUARY = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))


def percent(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / denominator).quantize(Decimal("0.1"), ROUND_HALF_EVEN)


async def test_the_kpis_of_a_seeded_month_match_an_independent_count(db, program):
    rng = random.Random(7)
    start, end = JANUARY
    next_purchase = await coupon.create_template(db, program, TemplateTerms(
        code="next-purchase", name="Next purchase", kind=CouponKind.AMOUNT_OFF,
        amount_off=Decimal("1.00"), valid_hours=7 * 24), now=start)  # fmt: skip
    winback = await coupon.create_template(db, program, TemplateTerms(
        code="win-back", name="Win back", kind=CouponKind.AMOUNT_OFF, amount_off=Decimal("1.00"),
        valid_hours=14 * 24), now=start)  # fmt: skip
    # the next-purchase coupon comes with purchases of the first half of the month
    await campaign.create_campaign(db, CampaignTerms(
        code="repurchase", name="R", starts_at=start, ends_at=start + timedelta(days=15),
        coupon_template_id=next_purchase.id, bonus_points=3), now=start,
        visible=EVERYTHING)  # fmt: skip

    enrolled, purchases, offers, paid = [], [], [], []
    someone_before = await member.enroll(db, display_name="Old", idempotency_key="old",
                                         now=start - timedelta(days=40))  # fmt: skip
    for n in range(24):
        joined = start + timedelta(days=rng.randint(0, 30), hours=rng.randint(0, 23))
        code = enrolled[rng.randrange(len(enrolled))][2] if enrolled and n % 3 == 0 else None
        row = await member.enroll(db, display_name=f"M{n}", idempotency_key=f"m-{n}",
                                  referral_code=code, now=joined)  # fmt: skip
        enrolled.append((row.id, joined, row.referral_code, code is not None))
    people = [(someone_before.id, someone_before.enrolled_at)] + [(m, j) for m, j, *_ in enrolled]
    for member_id, joined in people:
        at = joined
        for _ in range(rng.randint(0, 4)):
            at = at + timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 12))
            if at >= end + timedelta(days=10):
                break
            row = await a_purchase(db, program, member_id, f"{rng.randint(5, 80)}.00", at=at)
            purchases.append((member_id, at, row.id))
            paid.append((member_id, at, row.id, row.amount))
    for member_id, _ in people[::4]:
        issued_at = start + timedelta(days=rng.randint(0, 25))
        row = await coupon.issue(db, template_id=winback.id, member_id=member_id,
                                 idempotency_key=f"wb-{member_id}", now=issued_at,
                                 visible=EVERYTHING)  # fmt: skip
        offers.append((member_id, row.issued_at, row.valid_until))
    async with db.transaction() as conn:
        await conn.execute(update(members).where(members.c.id == people[1][0])
                           .values(tier="DIAMOND"))  # fmt: skip

    found = await metric.program_metrics(db, program, start=start, end=end)

    # independently: activation and referred share over the January cohort
    cohort = [(m, j, referred) for m, j, _, referred in enrolled if start <= j < end]
    activated = [
        m for m, j, _ in cohort
        if any(b == m and j <= at < j + timedelta(days=30) for b, at, _ in purchases)
    ]  # fmt: skip
    # win-back: offers of January whose member bought while the coupon was valid
    won = [m for m, issued, until in offers
           if any(b == m and issued <= at < until for b, at, _ in purchases)]  # fmt: skip
    # repurchase within 7 days, split by whether the purchase came with a next-purchase coupon
    in_window = [(m, at, pid) for m, at, pid in purchases if start <= at < end]

    def again(m, at):
        return any(b == m and at < later <= at + timedelta(days=7) for b, later, _ in purchases)

    with_coupon = [(m, at) for m, at, _ in in_window if at < start + timedelta(days=15)]
    without = [(m, at) for m, at, _ in in_window if at >= start + timedelta(days=15)]
    rates = {rate.name: rate for rate in found.rates}

    assert (rates["activation"].numerator, rates["activation"].denominator) == (
        len(activated), len(cohort))  # fmt: skip
    assert rates["activation"].percent == percent(len(activated), len(cohort))
    assert rates["referred share"].percent == percent(sum(r for *_, r in cohort), len(cohort))
    assert (rates["win-back"].numerator, rates["win-back"].denominator) == (len(won), len(offers))
    assert (found.repurchase_with.numerator, found.repurchase_with.denominator) == (
        sum(again(m, at) for m, at in with_coupon), len(with_coupon))  # fmt: skip
    assert (found.repurchase_without.numerator, found.repurchase_without.denominator) == (
        sum(again(m, at) for m, at in without), len(without))  # fmt: skip
    assert dict((t, n) for t, n, _, _ in found.tier_mix) == {
        "DIAMOND": 1, "GOLD": 0, "SILVER": len(people) - 1}  # fmt: skip
    assert dict(found.campaign_cost) == {"repurchase": 3 * len(with_coupon)}
    issued = {code: (n, used) for code, n, used in found.coupon_redemption}
    assert issued["next-purchase"] == (len(with_coupon), 0)
    assert issued["win-back"] == (len(offers), 0)
    assert len(cohort) > 10 and len(with_coupon) > 0 and len(without) > 0  # the data says something
    # member coverage: of the members enrolled before the end, those who bought in January
    members_by_end = [m for m, joined in people if joined < end]
    buyers = {m for m, at, _ in purchases if start <= at < end}
    assert (rates["member coverage"].numerator, rates["member coverage"].denominator) == (
        len(buyers & set(members_by_end)), len(members_by_end))  # fmt: skip
    # lifetime value: net spend before the end per member enrolled before it
    spent = sum(amount for m, at, _, amount in paid if at < end and m in members_by_end)
    assert found.lifetime_value == (spent / len(members_by_end)).quantize(Decimal("0.01"))
    # high-tier retention: nobody was GOLD or DIAMOND at the start (the tier set by hand
    # above made no tier change): nothing to count
    assert rates["high-tier retention"].denominator == 0
    assert rates["high-tier retention"].percent is None


def test_the_repurchase_lift_divides_the_counts_not_rounded_percentages():
    """Found from outside: 249.7 instead of 250.0 from dividing rounded percentages."""
    # with: 7 of 9 (77.777...%), without: 2 of 9 (22.222...%): (7 - 2) / 2 = 250 %
    assert metric.lift((7, 9), (2, 9)) == Decimal("250.0")
    assert metric.lift((1, 3), (1, 6)) == Decimal("100.0")
    assert metric.lift((1, 3), (0, 6)) is None and metric.lift((0, 0), (1, 2)) is None


async def test_high_tier_retention_counts_who_stayed_gold_or_diamond(db, program):
    """Of the members GOLD or DIAMOND when the window starts, those still so when it ends."""
    start, end = JANUARY
    kept = await member.enroll(db, display_name="Kept", idempotency_key="kept",
                               now=start - timedelta(days=60))  # fmt: skip
    lost = await member.enroll(db, display_name="Lost", idempotency_key="lost",
                               now=start - timedelta(days=60))  # fmt: skip
    late = await member.enroll(db, display_name="Late", idempotency_key="late",
                               now=start - timedelta(days=60))  # fmt: skip
    await a_purchase(db, program, kept.id, "5000.00", at=start - timedelta(days=10))
    reached = await a_purchase(db, program, lost.id, "5000.00", at=start - timedelta(days=10))
    await refund_purchase(db, program, purchase_id=reached.id, amount=reached.amount,
                          idempotency_key="back", now=start + timedelta(days=3),
                          visible=EVERYTHING)  # fmt: skip
    await a_purchase(db, program, late.id, "5000.00", at=start + timedelta(days=5))

    found = await metric.program_metrics(db, program, start=start, end=end)
    retention = {rate.name: rate for rate in found.rates}["high-tier retention"]

    assert (retention.numerator, retention.denominator) == (1, 2)
    assert retention.percent == Decimal("50.0")
