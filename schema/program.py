"""The `program` query: the rules in force, as configured."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from loyalty.program import Program


@strawberry.type(description="A benefit of the catalogue (docs/promotions.md).")
class BenefitRule:
    code: str
    name: str
    tiers: list[str]
    kind: str
    unlock: str
    value: str


@strawberry.type(description="The program rules in force (defaults or POINTGATE_PROGRAM).")
class ProgramRules:
    currency: str
    currency_exponent: int
    purchase_backdating_days: int = strawberry.field(
        description="How many days back a purchase may be dated when it is recorded."
    )
    phone_region: str = strawberry.field(
        description="The region phone numbers without a country code are read in (ISO 3166)."
    )
    timezone: str = strawberry.field(
        description="The program's calendar (IANA): a campaign's monthly day is a day here."
    )
    point_value: Decimal
    points_per_currency_unit: int
    negative_balance_limit: int
    growth_per_currency_unit: int
    growth_per_interaction: int
    growth_window_months: int
    gold_growth_threshold: int
    diamond_growth_threshold: int
    gold_bonus_percent: Decimal
    diamond_bonus_percent: Decimal
    referral_bonus_points: int
    referral_earning_percent: Decimal
    referral_earning_days: int
    referral_claim_days: int
    expiry_months: int
    new_member_days: int
    dormant_days: int
    at_risk_ratio: Decimal
    spend_high: Decimal
    spend_mid: Decimal
    frequency_high: int
    frequency_mid: int
    interactions_per_month_high: int
    interactions_per_month_mid: int
    quote_seconds: int
    first_order_coupon: str = strawberry.field(description="Template code of the NEW offer.")
    winback_coupon: str = strawberry.field(description="Template code of the DORMANT offer.")
    retention_coupon: str = strawberry.field(description="Template code of the AT_RISK offer.")
    gold_threshold_coupon: str = strawberry.field(description="Granted on reaching GOLD.")
    diamond_annual_target: Decimal = strawberry.field(
        description="Spend in a membership year that earns a DIAMOND member the target gift."
    )
    activation_target: Decimal
    winback_target: Decimal
    retention_target: Decimal
    repurchase_lift_target: Decimal
    referred_share_target: Decimal
    diamond_attainment_target: Decimal
    member_coverage_target: Decimal
    high_tier_retention_target: Decimal
    lifetime_value_target: Decimal
    diamond_mix_target: Decimal
    gold_mix_target: Decimal
    silver_mix_target: Decimal
    benefits: list[BenefitRule] = strawberry.field(description="The tier benefits catalogue.")

    @staticmethod
    def build(program: Program) -> ProgramRules:
        values = program.as_dict()
        values["benefits"] = [BenefitRule(**{**b, "tiers": list(b["tiers"])})
                              for b in values["benefits"]]  # fmt: skip
        return ProgramRules(**values)
