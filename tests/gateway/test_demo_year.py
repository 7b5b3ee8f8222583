"""The demo's year (gateway.demo_year): after it, every KPI of the dashboard has values, the
tier mix has every tier, coupons were used, and the books are sound."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from sqlalchemy import func, select

from gateway.demo_year import live_a_year, month_starts
from gateway.seed import demo_promotions, seed
from infra.models import coupons, tier_changes
from loyalty import books
from loyalty.program import Program
from loyalty.promotions import metric

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


async def test_a_demo_year_gives_every_kpi_something_to_show(db):
    program = Program()
    await seed(db, program, member_count=60, purchase_count=600, now=NOW)
    await demo_promotions(db, program, NOW)

    recorded = await live_a_year(db, program, NOW)

    starts = [*month_starts(NOW), NOW]
    months = [await metric.program_metrics(db, program, start=start, end=end)
              for start, end in itertools.pairwise(starts)]  # fmt: skip
    shown = {rate.name: [m.rates[i].percent for m in months]
             for i, rate in enumerate(months[-1].rates)}  # fmt: skip
    shown["repurchase lift"] = [m.repurchase_lift for m in months]
    assert recorded > 300
    assert {name for name, values in shown.items() if all(v is None for v in values)} == set()
    mix = {tier: count for tier, count, _percent, _target in months[-1].tier_mix}
    assert mix["DIAMOND"] >= 3 and mix["GOLD"] >= 6 and mix["SILVER"] > mix["GOLD"]
    async with db.read() as conn:
        assert await books.verify(conn) == []
        # tiers were reached during the year (so high-tier retention has months to measure)
        first_upgrade = await conn.scalar(select(func.min(tier_changes.c.changed_at)))
        assert first_upgrade < starts[3]
        assert await conn.scalar(select(func.count()).select_from(coupons)) > recorded
        # returning members spend the coupons that brought them back
        used = select(func.count()).select_from(coupons).where(coupons.c.state == "REDEEMED")
        assert await conn.scalar(used) > recorded // 20
