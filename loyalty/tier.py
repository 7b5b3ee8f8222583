"""Growth value and tiers.

Growth value is 1 per currency unit spent and 2 per interaction (program numbers), counted over
the rolling growth window. Reaching a tier's threshold upgrades at once; the anniversary review
(`pointgate jobs tiers`) downgrades by at most one tier. Every change is a `tier_changes` row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import case, func, insert, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import members, tier_changes
from infra.progress import Progress, quiet
from infra.reads import keyed
from loyalty import event, growth
from loyalty.program import Program


class Tier(StrEnum):
    SILVER = "SILVER"
    GOLD = "GOLD"
    DIAMOND = "DIAMOND"


TIERS = (Tier.SILVER, Tier.GOLD, Tier.DIAMOND)


class TierChangeReason(StrEnum):
    UPGRADE = "UPGRADE"
    DOWNGRADE = "DOWNGRADE"
    MERGE = "MERGE"
    # A refund took the growth value back below the tier a purchase's upgrade reached.
    UPGRADE_REVERTED = "UPGRADE_REVERTED"


def threshold(program: Program, tier: Tier) -> int:
    return {
        Tier.SILVER: 0,
        Tier.GOLD: program.gold_growth_threshold,
        Tier.DIAMOND: program.diamond_growth_threshold,
    }[tier]


def tier_for_growth(program: Program, growth_value: int) -> Tier:
    reached = [tier for tier in TIERS if growth_value >= threshold(program, tier)]
    return reached[-1]


def next_tier(tier: Tier) -> Tier | None:
    position = TIERS.index(tier)
    return TIERS[position + 1] if position + 1 < len(TIERS) else None


def progress_expressions(program: Program, tier_column: Any, growth: Any) -> dict[str, Any]:
    """What the next tier still needs, as SQL over a member's tier and growth value (what
    schema.standing.TierProgress.build computes from `next_tier` and `threshold`)."""
    following = {t: next_tier(t) for t in TIERS}
    targets = {t: threshold(program, n) for t, n in following.items() if n is not None}
    target = case(*((tier_column == t.value, value) for t, value in targets.items()),
                  else_=null())  # fmt: skip
    steps = [(tier_column == t.value, n.value) for t, n in following.items() if n is not None]
    return {
        "tier": tier_column,
        "growth_value": growth,
        "next_tier": case(*steps, else_=null()),
        "next_tier_threshold": target,
        "growth_value_needed": func.coalesce(func.greatest(target - growth, 0), 0),
    }


def higher(first: Tier, second: Tier) -> Tier:
    return max(first, second, key=TIERS.index)


def between(lower: Tier, upper: Tier) -> list[Tier]:
    """The tiers above `lower`, up to and including `upper` (what a fall from `upper` to
    `lower` leaves)."""
    return list(TIERS[TIERS.index(lower) + 1 : TIERS.index(upper) + 1])


def bonus_points(program: Program, tier: Tier, amount: Decimal) -> int:
    """The tier bonus: a percentage of the amount, as points worth `point_value` each, floored
    (DIAMOND 5 % of 100.00 = 5.00 = 500 points at 0.01)."""
    percent = {
        Tier.SILVER: Decimal(0),
        Tier.GOLD: program.gold_bonus_percent,
        Tier.DIAMOND: program.diamond_bonus_percent,
    }[tier]
    return percent_as_points(program, amount, percent)


def percent_as_points(program: Program, amount: Decimal, percent: Decimal) -> int:
    value = amount * percent / 100
    return int((value / program.point_value).to_integral_value(rounding=ROUND_FLOOR))


def growth_for_amount(program: Program, amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_FLOOR)) * program.growth_per_currency_unit


async def change_tier(
    conn: AsyncConnection,
    *,
    member_id: int,
    from_tier: Tier,
    to_tier: Tier,
    reason: TierChangeReason,
    growth_value: int,
    at: datetime,
    reviewed_at: datetime | None = None,
    purchase_id: int | None = None,
) -> bool:
    """Set the tier if it is still `from_tier` (a concurrent change wins otherwise) and record
    the change. Returns whether it changed."""
    values: dict[str, Any] = {"tier": to_tier}
    if reviewed_at is not None:
        values["tier_reviewed_at"] = reviewed_at
    changed = await conn.execute(
        update(members)
        .where(members.c.id == member_id, members.c.tier == from_tier)
        .values(values)
        .returning(members.c.id)
    )
    if changed.first() is None:
        return False
    await conn.execute(
        insert(tier_changes).values(
            member_id=member_id, from_tier=from_tier, to_tier=to_tier, reason=reason,
            growth_value=growth_value, changed_at=at, purchase_id=purchase_id,
        )
    )  # fmt: skip
    await event.emit(conn, "tier.changed", at, member_id=member_id, from_tier=from_tier,
                     to_tier=to_tier, reason=reason)  # fmt: skip
    return True


async def upgrade_if_due(
    conn: AsyncConnection,
    program: Program,
    *,
    member_id: int,
    current: Tier,
    at: datetime,
    reason: TierChangeReason = TierChangeReason.UPGRADE,
    purchase_id: int | None = None,
    adding: tuple[datetime, int] | None = None,
) -> Tier:
    """Upgrades are immediate: the tier the growth value reaches now, if higher (recorded with
    the purchase that caused it, so that refunding it can revert it). `adding` (event time,
    growth) is the growth the caller's event adds, counted here first."""
    bounds = await growth.window(conn, program, member_id, at, adding=adding)
    if higher(tier_for_growth(program, bounds.upper), current) == current:
        return current  # the common case: no threshold within reach, no event read
    value = (await growth.exact(conn, program, [bounds]))[member_id]
    reached = tier_for_growth(program, value)
    if higher(reached, current) == current:
        return current
    await change_tier(
        conn, member_id=member_id, from_tier=current, to_tier=reached, reason=reason,
        growth_value=value, at=at, purchase_id=purchase_id,
    )  # fmt: skip
    return reached


async def revert_upgrade_if_refunded(
    conn: AsyncConnection, program: Program, *, member_id: int, purchase_id: int, at: datetime
) -> Tier | None:
    """The immediate upgrade works both ways for the same purchase: when a refund of a purchase
    that caused an upgrade takes the growth value below the member's tier, the member moves to
    the tier the growth value now reaches, never below the tier it held before that purchase.
    Later upgrades caused by other purchases count only through the growth value. Returns the
    new tier, or None when nothing changed. Call it with the member's balance locked."""
    caused = (
        await conn.execute(
            select(tier_changes.c.from_tier)
            .where(tier_changes.c.purchase_id == purchase_id,
                   tier_changes.c.reason == TierChangeReason.UPGRADE)
            .order_by(tier_changes.c.id)
            .limit(1)
        )
    ).first()  # fmt: skip
    if caused is None:
        return None
    current = Tier(str(await conn.scalar(select(members.c.tier).where(members.c.id == member_id))))
    value = (await growth.values(conn, program, [member_id], at))[member_id]
    if value >= threshold(program, current):
        return None
    lowered = higher(tier_for_growth(program, value), Tier(caused.from_tier))
    if lowered == current:
        return None
    changed = await change_tier(
        conn, member_id=member_id, from_tier=current, to_tier=lowered,
        reason=TierChangeReason.UPGRADE_REVERTED, growth_value=value, at=at,
        purchase_id=purchase_id,
    )  # fmt: skip
    return lowered if changed else None


def last_anniversary(enrolled_at: datetime, at: datetime) -> datetime | None:
    """The latest membership anniversary at or before `at` (29 February falls on the 28th in
    other years), or None in the first year."""
    years = at.year - enrolled_at.year
    anniversary = enrolled_at + relativedelta(years=years)
    if anniversary > at:
        years -= 1
        anniversary = enrolled_at + relativedelta(years=years)
    return anniversary if years >= 1 else None


@dataclass(frozen=True, slots=True)
class ReviewReport:
    reviewed: int
    downgraded: int


REVIEW_BATCH = 500


async def review_tiers(
    db: Database, program: Program, *, at: datetime, progress: Progress = quiet
) -> ReviewReport:
    """The anniversary review: a member above SILVER whose anniversary passed since its last
    review keeps its tier if the growth value at the anniversary holds it, and otherwise moves
    down one tier. Running it again changes nothing (progress: per member above SILVER)."""
    reviewed = downgraded = 0
    after_id = 0
    while True:
        async with db.read() as conn:
            batch = list(
                await conn.execute(
                    select(members.c.id, members.c.tier, members.c.enrolled_at,
                           members.c.tier_reviewed_at)
                    .where(members.c.tier != Tier.SILVER, members.c.status == "ACTIVE",
                           members.c.id > after_id)
                    .order_by(members.c.id)
                    .limit(REVIEW_BATCH)
                )
            )  # fmt: skip
        if not batch:
            return ReviewReport(reviewed=reviewed, downgraded=downgraded)
        after_id = batch[-1].id
        progress(len(batch))
        for row in batch:
            anniversary = last_anniversary(row.enrolled_at, at)
            if anniversary is None or (
                row.tier_reviewed_at is not None and row.tier_reviewed_at >= anniversary
            ):
                continue
            async with db.transaction() as conn:
                reviewed += 1
                if await _review(conn, program, row, anniversary):
                    downgraded += 1


async def _review(conn: AsyncConnection, program: Program, row: Any, anniversary: datetime) -> bool:
    current = Tier(row.tier)
    value = (await growth.values(conn, program, [row.id], anniversary))[row.id]
    if value >= threshold(program, current):
        await conn.execute(
            update(members).where(members.c.id == row.id).values(tier_reviewed_at=anniversary)
        )
        return False
    lower = TIERS[TIERS.index(current) - 1]
    return await change_tier(
        conn, member_id=row.id, from_tier=current, to_tier=lower,
        reason=TierChangeReason.DOWNGRADE, growth_value=value, at=anniversary,
        reviewed_at=anniversary,
    )  # fmt: skip


# The members' tier changes, newest first.
tier_changes_of = keyed(
    tuple(tier_changes.c), tier_changes.c.member_id, order_by=(tier_changes.c.id.desc(),)
)
