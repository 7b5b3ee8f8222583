from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from gateway.seed import seed
from loyalty import interaction, member, segment
from loyalty.interaction import InteractionKind
from loyalty.member import MemberRef
from loyalty.segment import Band, Lifecycle, SegmentCriteria
from loyalty.visibility import EVERYTHING
from tests.factories import a_member, a_purchase

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


async def a_member_buying(db, program, enrolled_days_ago, purchase_days_ago, amount="10.00"):
    buyer = await a_member(db, now=days_ago(enrolled_days_ago))
    for days in purchase_days_ago:
        await a_purchase(db, program, buyer.id, amount, at=days_ago(days))
    return buyer


async def insight_of(db, program, member_id) -> segment.Insight:
    async with db.read() as conn:
        return (await segment.insights(conn, program, [member_id], NOW))[member_id]


async def test_lifecycle_follows_enrolment_and_purchase_rhythm(db, program):
    new = await a_member_buying(db, program, 10, [])
    dormant = await a_member_buying(db, program, 200, [100, 150])
    at_risk = await a_member_buying(db, program, 400, [100, 120, 150, 170, 10, 20])
    active = await a_member_buying(db, program, 400, [100, 120, 10, 20])

    found = {
        name: (await insight_of(db, program, buyer.id)).lifecycle
        for name, buyer in
        (("new", new), ("dormant", dormant), ("at_risk", at_risk), ("active", active))
    }  # fmt: skip

    assert found == {
        "new": Lifecycle.NEW, "dormant": Lifecycle.DORMANT, "at_risk": Lifecycle.AT_RISK,
        "active": Lifecycle.ACTIVE,
    }  # fmt: skip


async def test_value_segment_bands_over_the_last_12_months(db, program):
    # 12 purchases of 1,000.00 in the year (and one older that no longer counts)
    big = await a_member_buying(db, program, 800, [*range(5, 365, 30), 400], amount="1000.00")
    for number in range(24):  # 2 interactions a month
        await interaction.record_interaction(
            db, program, member_ref=MemberRef(member_id=big.id), kind=InteractionKind.CHECK_IN,
            idempotency_key=f"check-in-{number}", occurred_at=days_ago(number * 10 + 1), now=NOW,
            visible=EVERYTHING
        )  # fmt: skip
    small = await a_member_buying(db, program, 800, [5, 50, 100], amount="999.99")

    rich, modest = await insight_of(db, program, big.id), await insight_of(db, program, small.id)

    assert (rich.spend, rich.purchase_count, rich.interaction_count) == (Decimal(12000), 12, 24)
    assert (rich.spend_band, rich.frequency_band, rich.interaction_band) == (
        Band.HIGH, Band.HIGH, Band.MID,
    )  # fmt: skip
    assert (modest.spend_band, modest.frequency_band, modest.interaction_band) == (
        Band.LOW, Band.LOW, Band.LOW,
    )  # fmt: skip


async def test_lifecycle_and_segment_filters_run_in_one_statement_at_any_size(
    db, program, sql_statements
):
    async def filtered(criteria: SegmentCriteria) -> tuple[list[int], int]:
        sql_statements.count = 0
        rows = await member.list_members(
            db, program, limit=50, segment=criteria, now=NOW, visible=EVERYTHING
        )
        return [row.id for row in rows], sql_statements.count

    # given 100 members, then 10,000
    dormant_low = SegmentCriteria(lifecycle=Lifecycle.DORMANT, spend=Band.LOW)
    await seed(db, program, member_count=100, purchase_count=300, now=NOW)
    small_ids, small_count = await filtered(dormant_low)
    await seed(db, program, member_count=9_900, purchase_count=20_000, now=NOW, random_seed=7)
    large_ids, large_count = await filtered(dormant_low)

    # then the filter is one SQL statement either way, and every member it returns matches
    assert small_count == large_count == 1
    assert len(large_ids) == 50
    async with db.read() as conn:
        found = await segment.insights(conn, program, large_ids, NOW)
    assert {(i.lifecycle, i.spend_band) for i in found.values()} == {(Lifecycle.DORMANT, Band.LOW)}
    assert small_ids == large_ids[: len(small_ids)]
