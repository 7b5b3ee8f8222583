"""The program's KPIs over a window [start, end), each computed by one SQL statement and shown
next to the program's target (definitions: docs/promotions.md, "KPIs")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import String, and_, case, cast, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from infra.database import Database
from infra.models import (
    benefit_grants,
    campaign_awards,
    campaigns,
    coupon_templates,
    coupons,
    members,
    purchases,
    tier_changes,
)
from infra.types import PlusDays
from loyalty.errors import ValidationFailed
from loyalty.program import Program

REPURCHASE_DAYS = 7


@dataclass(frozen=True, slots=True)
class Rate:
    """numerator / denominator as a percentage (one decimal, half-even), against a target."""

    name: str
    numerator: int
    denominator: int
    target: Decimal

    @property
    def percent(self) -> Decimal | None:
        if not self.denominator:
            return None
        return (Decimal(self.numerator) * 100 / self.denominator).quantize(
            Decimal("0.1"), ROUND_HALF_EVEN
        )

    @property
    def met(self) -> bool | None:
        return None if self.percent is None else self.percent >= self.target


@dataclass(frozen=True, slots=True)
class Metrics:
    start: datetime
    end: datetime
    rates: list[Rate]
    # (with coupon rate, without coupon rate, lift %, target)
    repurchase_with: Rate
    repurchase_without: Rate
    repurchase_lift: Decimal | None
    repurchase_lift_target: Decimal
    tier_mix: list[tuple[str, int, Decimal | None, Decimal]]
    coupon_redemption: list[tuple[str, int, int]]
    campaign_cost: list[tuple[str, int]]
    # Net spend per member (purchases less refunds, before the window's end) and its target.
    lifetime_value: Decimal | None
    lifetime_value_target: Decimal


def _in(column: Any, start: datetime, end: datetime) -> Any:
    return and_(column >= start, column < end)


async def _counts(conn: AsyncConnection, query: Any) -> tuple[int, int]:
    row = (await conn.execute(query)).one()
    return int(row[0] or 0), int(row[1] or 0)


def _share(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


async def program_metrics(
    db: Database, program: Program, *, start: datetime, end: datetime
) -> Metrics:
    check_window(start, end)
    async with db.read() as conn:
        # Activation: members enrolled in the window who bought within new_member_days.
        bought_early = exists().where(
            purchases.c.member_id == members.c.id,
            purchases.c.purchased_at >= members.c.enrolled_at,
            purchases.c.purchased_at < PlusDays(members.c.enrolled_at, program.new_member_days),
        )
        enrolled = _in(members.c.enrolled_at, start, end)
        activation = await _counts(conn, select(_share(bought_early), func.count())
                                   .where(enrolled))  # fmt: skip
        referred = await _counts(conn, select(_share(members.c.referred_by.is_not(None)),
                                              func.count()).where(enrolled))  # fmt: skip
        winback = await _offer_success(conn, program.winback_coupon, start, end)
        retention = await _offer_success(conn, program.retention_coupon, start, end)
        with_coupon, without_coupon = await _repurchase(conn, start, end)
        coverage, high_tier, spend = await _standing(conn, start, end)
        diamond = await _counts(conn, select(
            _share(exists().where(
                benefit_grants.c.member_id == members.c.id,
                benefit_grants.c.benefit == "annual-target-gift",
                _in(benefit_grants.c.granted_at, start, end))),
            func.count(),
        ).where(members.c.tier == "DIAMOND", members.c.status == "ACTIVE"))  # fmt: skip
        tier_mix = await _tier_mix(conn, program)
        redemption, cost = await _promotion_spend(conn, start, end)
    with_rate = Rate("repurchase with coupon", *with_coupon, Decimal(0))
    without_rate = Rate("repurchase without coupon", *without_coupon, Decimal(0))
    return Metrics(
        start=start, end=end,
        rates=[
            Rate("activation", *activation, program.activation_target),
            Rate("win-back", *winback, program.winback_target),
            Rate("retention", *retention, program.retention_target),
            Rate("referred share", *referred, program.referred_share_target),
            Rate("diamond target attainment", *diamond, program.diamond_attainment_target),
            Rate("member coverage", *coverage, program.member_coverage_target),
            Rate("high-tier retention", *high_tier, program.high_tier_retention_target),
        ],
        repurchase_with=with_rate, repurchase_without=without_rate,
        repurchase_lift=lift(with_coupon, without_coupon),
        repurchase_lift_target=program.repurchase_lift_target, tier_mix=tier_mix,
        coupon_redemption=redemption, campaign_cost=cost,
        lifetime_value=None if not spend[1] else (spend[0] / spend[1]).quantize(
            program.minor_unit, ROUND_HALF_EVEN),
        lifetime_value_target=program.lifetime_value_target,
    )  # fmt: skip


async def _tier_mix(
    conn: AsyncConnection, program: Program
) -> list[tuple[str, int, Decimal | None, Decimal]]:
    """Active members per tier now: (tier, members, percent, target)."""
    mix = dict(
        (row.tier, int(row.members)) for row in await conn.execute(
            select(members.c.tier, func.count().label("members"))
            .where(members.c.status == "ACTIVE").group_by(members.c.tier))
    )  # fmt: skip
    total = sum(mix.values())
    targets = {"DIAMOND": program.diamond_mix_target, "GOLD": program.gold_mix_target,
               "SILVER": program.silver_mix_target}  # fmt: skip
    return [
        (tier, mix.get(tier, 0), Rate(tier, mix.get(tier, 0), total, target).percent, target)
        for tier, target in targets.items()
    ]


async def _promotion_spend(
    conn: AsyncConnection, start: datetime, end: datetime
) -> tuple[list[tuple[str, int, int]], list[tuple[str, int]]]:
    """Per template, coupons issued in the window and of them redeemed; per campaign, points
    awarded in the window less what refunds took back."""
    redemption = [
        (row.code, int(row.issued), int(row.redeemed or 0)) for row in await conn.execute(
            select(coupon_templates.c.code, func.count().label("issued"),
                   _share(coupons.c.state == "REDEEMED").label("redeemed"))
            .join(coupons, coupons.c.template_id == coupon_templates.c.id)
            .where(_in(coupons.c.issued_at, start, end))
            .group_by(coupon_templates.c.code).order_by(coupon_templates.c.code))
    ]  # fmt: skip
    cost = [
        (row.code, int(row.points)) for row in await conn.execute(
            select(campaigns.c.code,
                   func.sum(campaign_awards.c.points - campaign_awards.c.points_reversed)
                   .label("points"))
            .join(campaign_awards, campaign_awards.c.campaign_id == campaigns.c.id)
            .where(_in(campaign_awards.c.created_at, start, end))
            .group_by(campaigns.c.code).order_by(campaigns.c.code))
    ]  # fmt: skip
    return redemption, cost


def lift(with_coupon: tuple[int, int], without_coupon: tuple[int, int]) -> Decimal | None:
    """(with - without) / without in percent, from the counts (found from outside: dividing
    the rounded percentages gave 249.7 for 250.0), rounded once, half-even."""
    (again_with, with_total), (again_without, without_total) = with_coupon, without_coupon
    if not with_total or not without_total or not again_without:
        return None
    exact = (Decimal(again_with * without_total - again_without * with_total) * 100
             / (again_without * with_total))  # fmt: skip
    return exact.quantize(Decimal("0.1"), ROUND_HALF_EVEN)


def _tier_at(at: datetime) -> Any:
    """A member's tier at an instant: the last change before it (SILVER before any)."""
    last = (
        select(tier_changes.c.to_tier)
        .where(tier_changes.c.member_id == members.c.id, tier_changes.c.changed_at < at)
        .order_by(tier_changes.c.changed_at.desc(), tier_changes.c.id.desc())
        .limit(1).scalar_subquery()
    )  # fmt: skip
    return func.coalesce(last, "SILVER")


async def _standing(
    conn: AsyncConnection, start: datetime, end: datetime
) -> tuple[tuple[int, int], tuple[int, int], tuple[Decimal, int]]:
    """Member coverage (of the active members enrolled before the end, those who bought in the
    window), high-tier retention (of those GOLD or DIAMOND at the start, those still so at the
    end) and lifetime value (net spend before the end, and the members it is shared by)."""
    active = and_(members.c.status == "ACTIVE", members.c.enrolled_at < end)
    bought = exists().where(purchases.c.member_id == members.c.id,
                            _in(purchases.c.purchased_at, start, end))  # fmt: skip
    coverage = await _counts(conn, select(_share(bought), func.count()).where(active))
    high = ("GOLD", "DIAMOND")
    high_tier = await _counts(conn, select(_share(_tier_at(end).in_(high)), func.count())
                              .where(active, members.c.enrolled_at < start,
                                     _tier_at(start).in_(high)))  # fmt: skip
    spent = await conn.scalar(
        select(func.coalesce(func.sum(purchases.c.amount - purchases.c.refunded_amount), 0))
        .join(members, members.c.id == purchases.c.member_id)
        .where(active, purchases.c.purchased_at < end)
    )  # fmt: skip
    return coverage, high_tier, (Decimal(spent or 0), coverage[1])


async def _offer_success(
    conn: AsyncConnection, template_code: str, start: datetime, end: datetime
) -> tuple[int, int]:
    """Of the coupons of an offer's template issued in the window, how many members bought
    while their coupon was valid (with it or not)."""
    bought = exists().where(
        purchases.c.member_id == coupons.c.member_id,
        purchases.c.purchased_at >= coupons.c.issued_at,
        purchases.c.purchased_at < coupons.c.valid_until,
    )
    return await _counts(conn, select(_share(bought), func.count())
                         .join(coupon_templates, coupon_templates.c.id == coupons.c.template_id)
                         .where(coupon_templates.c.code == template_code,
                                _in(coupons.c.issued_at, start, end)))  # fmt: skip


async def _repurchase(
    conn: AsyncConnection, start: datetime, end: datetime
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Purchases in the window, split by whether a next-purchase coupon came with them (a
    coupon issued for that purchase: issue key ...:purchase:<id>), and of each how many were
    followed by another purchase of the member within REPURCHASE_DAYS."""
    later = aliased(purchases)
    again = exists().where(
        later.c.member_id == purchases.c.member_id,
        later.c.purchased_at > purchases.c.purchased_at,
        later.c.purchased_at <= PlusDays(purchases.c.purchased_at, REPURCHASE_DAYS),
    )
    key = literal("%:purchase:") + cast(purchases.c.id, String)
    with_coupon = exists().where(coupons.c.member_id == purchases.c.member_id,
                                 coupons.c.issue_key.like(key))  # fmt: skip
    rows = {
        bool(row.coupon): (int(row.again or 0), int(row.purchases))
        for row in await conn.execute(
            select(with_coupon.label("coupon"), _share(again).label("again"),
                   func.count().label("purchases"))
            .where(_in(purchases.c.purchased_at, start, end))
            .group_by(with_coupon)
        )
    }  # fmt: skip
    return rows.get(True, (0, 0)), rows.get(False, (0, 0))


def check_window(start: datetime, end: datetime) -> None:
    if end <= start or end - start > timedelta(days=3660):
        raise ValidationFailed("a window ends after it starts, within ten years", argument="to")
