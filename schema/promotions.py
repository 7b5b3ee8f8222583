"""Promotions in the graph: coupon templates, issued coupons, the discounts a purchase got, and
campaigns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from partners.settlement import plain
from schema.enums import CampaignStatus, CouponKind, CouponState, TemplateStatus
from schema.info import Info
from schema.partner import Partner, partner_of
from schema.rows import Row
from schema.scalars import BigInt, money


@strawberry.type(description="What a coupon gives, where, for how long, and who pays for it.")
class CouponTemplate(Row):
    id: strawberry.ID
    code: str
    name: str
    kind: CouponKind
    amount_off: Decimal | None
    percent_off: Decimal | None
    max_discount: Decimal | None = strawberry.field(description="The cap of a percentage.")
    threshold: Decimal = strawberry.field(description="The least purchase it applies to.")
    valid_from: datetime | None
    valid_until: datetime | None
    valid_hours: int | None = strawberry.field(description="Valid this long from issue.")
    channels: list[str] | None = strawberry.field(description="Null: every channel.")
    per_member_limit: int | None
    total_limit: int | None
    budget: Decimal | None
    issued_count: int
    redeemed_count: int
    discount_total: Decimal
    status: TemplateStatus = strawberry.field(
        description="PAUSED and RETIRED issue no coupon; issued ones stay valid as issued."
    )
    partner_id: strawberry.Private[int | None]
    funded_by_partner_id: strawberry.Private[int | None]
    reward_id: strawberry.ID | None = strawberry.field(
        description="FREE_ITEM: the reward (reward(id:)) it gives without points."
    )

    @strawberry.field(description="Valid only at this partner (null: anywhere).")
    async def partner(self, info: Info) -> Partner | None:
        return await partner_of(info, self.partner_id)

    @strawberry.field(description="Who pays the discount: this partner, or the program (null).")
    async def funded_by(self, info: Info) -> Partner | None:
        return await partner_of(info, self.funded_by_partner_id)

    @classmethod
    def priced(cls, row: Any, exponent: int) -> CouponTemplate:
        """With its amounts at the program's currency exponent."""
        amounts = {name: None if getattr(row, name) is None else money(getattr(row, name), exponent)
                   for name in ("amount_off", "max_discount", "threshold", "budget",
                                "discount_total")}  # fmt: skip
        return cls.from_row(
            row, **amounts, channels=row.channels.split(",") if row.channels else None,
            percent_off=None if row.percent_off is None else plain(row.percent_off),
        )  # fmt: skip


@strawberry.type(description="A member's coupon: show its code at a purchase (couponCodes).")
class Coupon(Row):
    id: strawberry.ID
    code: str
    state: CouponState
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    discount: Decimal | None = strawberry.field(description="What it took off, once redeemed.")
    redeemed_at: datetime | None
    purchase_id: strawberry.ID | None = strawberry.field(description="The purchase it was used on.")
    template_id: strawberry.Private[int]

    @classmethod
    def priced(cls, row: Any, exponent: int) -> Coupon:
        discount = None if row.discount is None else money(row.discount, exponent)
        return cls.from_row(row, discount=discount)

    @strawberry.field
    async def template(self, info: Info) -> CouponTemplate | None:
        row = await info.context.loaders.coupon_template_by_id.load(self.template_id)
        exponent = info.context.program.currency_exponent
        return None if row is None else CouponTemplate.priced(row, exponent)


@strawberry.type(description="A time-boxed rule adding points to purchases, or granting a coupon.")
class Campaign(Row):
    id: strawberry.ID
    code: str
    name: str
    priority: int = strawberry.field(description="Higher applies first.")
    exclusive: bool = strawberry.field(description="Applies alone, and only when it comes first.")
    starts_at: datetime
    ends_at: datetime
    monthly_day: int | None = strawberry.field(
        description="Only on this day of each month, in the program's time zone."
    )
    tiers: list[str] | None = strawberry.field(description="Null: every tier.")
    channels: list[str] | None = strawberry.field(description="Null: every channel.")
    partner_ids: list[strawberry.ID] | None = strawberry.field(description="Null: anywhere.")
    lifecycles: list[str] | None = strawberry.field(description="Null: any lifecycle.")
    spend_bands: list[str] | None = strawberry.field(description="Null: any spend band.")
    frequency_bands: list[str] | None = strawberry.field(description="Null: any frequency band.")
    multiplier: Decimal = strawberry.field(description="Base points are multiplied by it.")
    bonus_points: int = strawberry.field(description="Added to each purchase it applies to.")
    points_budget: int | None
    coupons_skipped: int = strawberry.field(
        description="Coupon grants skipped because the template refused them (exhausted, "
        "ended, the member's limit): the purchases recorded without them."
    )
    points_awarded: BigInt = strawberry.field(description="Counted against the budget so far.")
    status: CampaignStatus = strawberry.field(description="PAUSED: not in force until resumed.")
    coupon_template_id: strawberry.Private[int | None]
    funded_by_partner_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, row: Any) -> Campaign:
        def listed(text: str | None) -> list[str] | None:
            return None if text is None else text.split(",")

        partners = listed(row.partner_ids)
        return cls.from_row(
            row, tiers=listed(row.tiers), channels=listed(row.channels),
            lifecycles=listed(row.lifecycles), spend_bands=listed(row.spend_bands),
            frequency_bands=listed(row.frequency_bands),
            partner_ids=None if partners is None else [strawberry.ID(p) for p in partners],
            multiplier=plain(row.multiplier), exclusive=bool(row.exclusive),
        )  # fmt: skip

    @strawberry.field(description="The coupon it grants with each purchase it applies to.")
    async def coupon_template(self, info: Info) -> CouponTemplate | None:
        if self.coupon_template_id is None:
            return None
        row = await info.context.loaders.coupon_template_by_id.load(self.coupon_template_id)
        exponent = info.context.program.currency_exponent
        return None if row is None else CouponTemplate.priced(row, exponent)

    @strawberry.field(description="Who pays its points: this partner, or the program (null).")
    async def funded_by(self, info: Info) -> Partner | None:
        return await partner_of(info, self.funded_by_partner_id)


@strawberry.type(description="A rate the program measures itself by, next to its target.")
class MetricRate:
    name: str
    numerator: int
    denominator: int
    percent: Decimal | None = strawberry.field(description="Null when nothing was counted.")
    target: Decimal
    met: bool | None

    @staticmethod
    def of(rate: Any) -> MetricRate:
        return MetricRate(name=rate.name, numerator=rate.numerator, denominator=rate.denominator,
                          percent=rate.percent, target=rate.target, met=rate.met)  # fmt: skip


@strawberry.type
class TierShare:
    tier: str
    members: int
    percent: Decimal | None
    target: Decimal


@strawberry.type
class CouponRedemption:
    template: str
    issued: int
    redeemed: int


@strawberry.type
class CampaignCost:
    campaign: str
    points: BigInt = strawberry.field(description="Awarded in the window, less refunds' share.")


@strawberry.type(description="The program's KPIs over [from, to); definitions in docs/.")
class ProgramMetrics:
    rates: list[MetricRate]
    repurchase_with_coupon: MetricRate
    repurchase_without_coupon: MetricRate
    repurchase_lift: Decimal | None = strawberry.field(
        description="(with - without) / without, in percent."
    )
    repurchase_lift_target: Decimal
    tier_mix: list[TierShare]
    coupon_redemption: list[CouponRedemption]
    campaign_cost: list[CampaignCost]
    lifetime_value: Decimal | None = strawberry.field(
        description="Net spend per active member (purchases less refunds) before the window's "
        "end, in the program currency; null with no members."
    )
    lifetime_value_target: Decimal

    @staticmethod
    def of(found: Any) -> ProgramMetrics:
        return ProgramMetrics(
            rates=[MetricRate.of(rate) for rate in found.rates],
            repurchase_with_coupon=MetricRate.of(found.repurchase_with),
            repurchase_without_coupon=MetricRate.of(found.repurchase_without),
            repurchase_lift=found.repurchase_lift,
            repurchase_lift_target=found.repurchase_lift_target,
            tier_mix=[TierShare(tier=t, members=n, percent=p, target=target)
                      for t, n, p, target in found.tier_mix],
            coupon_redemption=[CouponRedemption(template=c, issued=i, redeemed=r)
                               for c, i, r in found.coupon_redemption],
            campaign_cost=[CampaignCost(campaign=c, points=BigInt(p))
                           for c, p in found.campaign_cost],
            lifetime_value=found.lifetime_value,
            lifetime_value_target=found.lifetime_value_target,
        )  # fmt: skip
