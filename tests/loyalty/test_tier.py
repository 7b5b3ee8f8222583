from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from infra.models import members
from loyalty import growth, interaction, segment, tier
from loyalty.errors import IdempotencyConflict, ValidationFailed
from loyalty.interaction import InteractionKind
from loyalty.member import MemberRef
from loyalty.refund import refund_purchase
from loyalty.tier import Tier
from loyalty.visibility import EVERYTHING
from tests.factories import a_member, a_purchase, balance_of

JAN_1 = datetime(2026, 1, 1, 12, tzinfo=UTC)


async def tier_of(db, member_id) -> Tier:
    async with db.read() as conn:
        return Tier(await conn.scalar(select(members.c.tier).where(members.c.id == member_id)))


async def growth_of(db, program, member_id, at) -> int:
    async with db.read() as conn:
        return (await growth.values(conn, program, [member_id], at))[member_id]


async def history_of(db, member_id):
    async with db.read() as conn:
        rows = await conn.execute(
            select(tier.tier_changes).where(tier.tier_changes.c.member_id == member_id)
        )
        return [(row.from_tier, row.to_tier, row.reason, row.growth_value) for row in rows]


async def test_a_diamond_member_spending_100_earns_600_points(db, program):
    # given a member whose growth value reached DIAMOND
    buyer = await a_member(db)
    await a_purchase(db, program, buyer.id, "20000.00")
    assert await tier_of(db, buyer.id) is Tier.DIAMOND
    before = (await balance_of(db, buyer.id)).available

    # when it spends 100.00
    row = await a_purchase(db, program, buyer.id, "100.00")

    # then 100 base + 500 bonus (5 % of 100.00 at 0.01 a point)
    assert (row.points_earned, row.bonus_points, row.tier) == (600, 500, "DIAMOND")
    assert (await balance_of(db, buyer.id)).available - before == 600


async def test_a_gold_member_earns_a_2_percent_bonus(db, program):
    buyer = await a_member(db)
    await a_purchase(db, program, buyer.id, "5000.00")

    row = await a_purchase(db, program, buyer.id, "100.00")

    assert (row.points_earned, row.bonus_points) == (300, 200)


async def test_a_silver_member_reaching_5000_is_gold_on_that_purchase(db, program):
    buyer = await a_member(db)
    await a_purchase(db, program, buyer.id, "4999.00")
    assert await tier_of(db, buyer.id) is Tier.SILVER

    row = await a_purchase(db, program, buyer.id, "1.00")

    # the purchase earns with the tier in force when it was made; the upgrade follows it at once
    assert (row.tier, row.bonus_points) == ("SILVER", 0)
    assert await tier_of(db, buyer.id) is Tier.GOLD
    assert await history_of(db, buyer.id) == [("SILVER", "GOLD", "UPGRADE", 5000)]


async def test_refunds_take_back_the_tier_bonus_and_the_growth_value(db, program):
    buyer = await a_member(db)
    await a_purchase(db, program, buyer.id, "20000.00")
    diamond_purchase = await a_purchase(db, program, buyer.id, "100.00")
    before = (await balance_of(db, buyer.id)).available

    refund = await refund_purchase(
        db, program, purchase_id=diamond_purchase.id, amount=diamond_purchase.amount / 2,
        idempotency_key="r-1", visible=EVERYTHING
    )  # fmt: skip

    assert refund.points_reversed == 300
    assert before - (await balance_of(db, buyer.id)).available == 300
    assert await growth_of(db, program, buyer.id, datetime.now(UTC)) == 20050


async def test_interactions_add_growth_value_once_per_key(db, program):
    actor = await a_member(db)
    ref = MemberRef(member_id=actor.id)

    for key in ("review-1", "review-1", "check-in-1"):
        kind = InteractionKind.REVIEW if key.startswith("review") else InteractionKind.CHECK_IN
        await interaction.record_interaction(
            db, program, member_ref=ref, kind=kind, idempotency_key=key, visible=EVERYTHING
        )

    assert await growth_of(db, program, actor.id, datetime.now(UTC)) == 4
    try:
        await interaction.record_interaction(
            db,
            program,
            member_ref=ref,
            kind=InteractionKind.SURVEY,
            idempotency_key="review-1",
            visible=EVERYTHING,
        )
    except IdempotencyConflict:
        pass
    else:
        raise AssertionError("a reused key with another kind must conflict")


@pytest.mark.parametrize("days_ago", [366, 739_000])  # a year and a day; the year 1
async def test_an_interaction_dated_before_the_backdating_limit_is_refused(db, program, days_ago):
    actor = await a_member(db)
    now = datetime.now(UTC)

    with pytest.raises(ValidationFailed) as refused:
        await interaction.record_interaction(
            db, program, member_ref=MemberRef(member_id=actor.id), kind=InteractionKind.REVIEW,
            idempotency_key="old", occurred_at=now - timedelta(days=days_ago), now=now,
            visible=EVERYTHING
        )  # fmt: skip

    assert refused.value.extensions["argument"] == "occurredAt"
    assert await growth_of(db, program, actor.id, now) == 0


async def test_growth_value_counts_a_rolling_12_months(db, program):
    buyer = await a_member(db, now=JAN_1 - timedelta(days=800))
    await a_purchase(db, program, buyer.id, "300.00", at=JAN_1 - timedelta(days=400))
    await a_purchase(db, program, buyer.id, "200.00", at=JAN_1 - timedelta(days=200))

    assert await growth_of(db, program, buyer.id, JAN_1) == 200
    assert await growth_of(db, program, buyer.id, JAN_1 - timedelta(days=199)) == 500


async def test_the_anniversary_review_downgrades_by_at_most_one_tier_once(db, program):
    # given a DIAMOND member, enrolled 2024-03-10, whose growth value fell to nothing
    enrolled = datetime(2024, 3, 10, 9, tzinfo=UTC)
    holder = await a_member(db, now=enrolled)
    await a_purchase(db, program, holder.id, "20000.00", at=enrolled + timedelta(days=1))
    assert await tier_of(db, holder.id) is Tier.DIAMOND

    # when the review runs the day before the anniversary, nothing happens
    before = await tier.review_tiers(db, program, at=datetime(2026, 3, 10, 8, tzinfo=UTC))
    # (the 2025 anniversary already passed: it is reviewed with the growth at that date)
    assert await tier_of(db, holder.id) is Tier.DIAMOND
    assert (before.reviewed, before.downgraded) == (1, 0)

    # when it runs on the 2026 anniversary, the member moves down one tier, not to SILVER
    report = await tier.review_tiers(db, program, at=datetime(2026, 3, 10, 10, tzinfo=UTC))
    assert (report.reviewed, report.downgraded) == (1, 1)
    assert await tier_of(db, holder.id) is Tier.GOLD

    # and running it again the same day changes nothing
    again = await tier.review_tiers(db, program, at=datetime(2026, 3, 10, 18, tzinfo=UTC))
    assert (again.reviewed, again.downgraded) == (0, 0)
    assert await tier_of(db, holder.id) is Tier.GOLD
    assert [change[2] for change in await history_of(db, holder.id)] == ["UPGRADE", "DOWNGRADE"]


def test_anniversaries_of_29_february_fall_on_28_february():
    enrolled = datetime(2024, 2, 29, tzinfo=UTC)
    assert tier.last_anniversary(enrolled, datetime(2025, 3, 1, tzinfo=UTC)) == datetime(
        2025, 2, 28, tzinfo=UTC
    )
    assert tier.last_anniversary(enrolled, datetime(2025, 2, 27, tzinfo=UTC)) is None


async def test_refunding_the_purchase_that_made_a_member_gold_reverts_the_upgrade(db, program):
    buyer = await a_member(db)
    bought = await a_purchase(db, program, buyer.id, "5000.00")
    assert await tier_of(db, buyer.id) is Tier.GOLD

    await refund_purchase(
        db,
        program,
        purchase_id=bought.id,
        amount=bought.amount,
        idempotency_key="r-all",
        visible=EVERYTHING,
    )

    assert await tier_of(db, buyer.id) is Tier.SILVER
    assert await history_of(db, buyer.id) == [
        ("SILVER", "GOLD", "UPGRADE", 5000), ("GOLD", "SILVER", "UPGRADE_REVERTED", 0)
    ]  # fmt: skip
    # and its next purchase earns no GOLD bonus
    after = await a_purchase(db, program, buyer.id, "100.00")
    assert (after.tier, after.bonus_points) == ("SILVER", 0)


async def test_a_refund_reverts_only_what_the_growth_value_no_longer_holds(db, program):
    buyer = await a_member(db)
    await a_purchase(db, program, buyer.id, "4000.00")
    to_gold = await a_purchase(db, program, buyer.id, "1500.00")
    to_diamond = await a_purchase(db, program, buyer.id, "15000.00")
    assert await tier_of(db, buyer.id) is Tier.DIAMOND

    # a part of the GOLD purchase: 20,000 still reached, nothing changes
    await refund_purchase(
        db,
        program,
        purchase_id=to_gold.id,
        amount=Decimal("500.00"),
        idempotency_key="r-1",
        visible=EVERYTHING,
    )
    assert await tier_of(db, buyer.id) is Tier.DIAMOND
    # the DIAMOND purchase, in part: 15,000 left, GOLD (not below the GOLD it came from)
    await refund_purchase(
        db,
        program,
        purchase_id=to_diamond.id,
        amount=Decimal("5000.00"),
        idempotency_key="r-2",
        visible=EVERYTHING,
    )
    assert await tier_of(db, buyer.id) is Tier.GOLD
    assert await history_of(db, buyer.id) == [
        ("SILVER", "GOLD", "UPGRADE", 5500), ("GOLD", "DIAMOND", "UPGRADE", 20500),
        ("DIAMOND", "GOLD", "UPGRADE_REVERTED", 15000),
    ]  # fmt: skip


async def test_refunding_a_purchase_that_caused_no_upgrade_reverts_nothing(db, program):
    buyer = await a_member(db)
    earlier = await a_purchase(db, program, buyer.id, "4000.00")
    await a_purchase(db, program, buyer.id, "1000.00")

    await refund_purchase(
        db,
        program,
        purchase_id=earlier.id,
        amount=earlier.amount,
        idempotency_key="r-all",
        visible=EVERYTHING,
    )

    # below GOLD's threshold, but the GOLD was another purchase's: the anniversary review decides
    assert await tier_of(db, buyer.id) is Tier.GOLD


async def test_a_fully_refunded_purchase_counts_toward_no_band(db, program):
    buyer = await a_member(db)
    kept = await a_purchase(db, program, buyer.id, "10.00")
    refunded = await a_purchase(db, program, buyer.id, "2000.00")
    await refund_purchase(
        db,
        program,
        purchase_id=refunded.id,
        amount=refunded.amount,
        idempotency_key="r-all",
        visible=EVERYTHING,
    )

    async with db.read() as conn:
        measures = segment.Measures(program, datetime.now(UTC))
        row = (
            await conn.execute(
                select(measures.purchase_count, measures.spend).where(members.c.id == buyer.id)
            )
        ).one()

    assert kept.id and (row[0], row[1]) == (1, Decimal("10.00"))
