"""A member's standing in the program: tier progress and history, lifecycle and segment,
points about to expire. Plain value types; the Member type's fields build them from loaders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from loyalty import tier
from loyalty.expiry import ExpiringPoints as DomainExpiringPoints
from loyalty.program import Program
from loyalty.segment import Insight
from schema.enums import Band, Tier, TierChangeReason
from schema.rows import Row
from schema.scalars import BigInt


@strawberry.type
class TierProgress:
    tier: Tier
    growth_value: BigInt = strawberry.field(description="Over the rolling growth window.")
    next_tier: Tier | None
    next_tier_threshold: int | None
    growth_value_needed: int = strawberry.field(
        description="Growth value still needed for the next tier (0 at the top tier)."
    )

    @staticmethod
    def build(program: Program, current: Tier, growth_value: int) -> TierProgress:
        following = tier.next_tier(current)
        target = None if following is None else tier.threshold(program, following)
        return TierProgress(
            tier=current,
            growth_value=BigInt(growth_value),
            next_tier=following,
            next_tier_threshold=target,
            growth_value_needed=0 if target is None else max(0, target - growth_value),
        )


@strawberry.type
class TierChange(Row):
    from_tier: Tier
    to_tier: Tier
    reason: TierChangeReason
    growth_value: BigInt
    changed_at: datetime


@strawberry.type(description="Value segment over the growth window.")
class Segment:
    spend: Band
    frequency: Band
    interactions: Band
    spend_amount: Decimal
    purchase_count: int
    interactions_per_month: Decimal

    @staticmethod
    def build(program: Program, insight: Insight) -> Segment:
        per_month = Decimal(insight.interaction_count) / program.growth_window_months
        return Segment(
            spend=insight.spend_band,
            frequency=insight.frequency_band,
            interactions=insight.interaction_band,
            spend_amount=Decimal(insight.spend).quantize(program.minor_unit),
            purchase_count=insight.purchase_count,
            interactions_per_month=per_month.quantize(Decimal("0.01")),
        )


@strawberry.type
class PointsExpiringOn:
    expires_on: date = strawberry.field(description="The last day these points can be spent.")
    points: BigInt


@strawberry.type
class ExpiringPoints:
    points: BigInt
    by_date: list[PointsExpiringOn]

    @staticmethod
    def build(expiring: DomainExpiringPoints) -> ExpiringPoints:
        return ExpiringPoints(
            points=BigInt(expiring.points),
            by_date=[PointsExpiringOn(expires_on=d, points=BigInt(p)) for d, p in expiring.by_date],
        )
