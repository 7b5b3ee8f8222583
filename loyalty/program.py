"""The program rules' numbers: one object, defaults from DESIGN.md, overridable per deployment."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers


def time_zone(name: str) -> ZoneInfo | None:
    """The IANA time zone of that name, or None for anything else: an unknown name, a folder
    of the zone database ("Europe"), a path, an over-long or otherwise unreadable name (the
    zoneinfo module raises KeyError, ValueError or OSError for these, and an OSError would
    otherwise pass for the database being unavailable)."""
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


@dataclass(frozen=True, slots=True)
class BenefitSpec:
    """One benefit of the catalogue (loyalty.promotions.benefit): for which tiers, what kind
    (CASHBACK, COUPON_GRANT, GIFT, SERVICE_LEVEL, FLAG), when it is granted (ALWAYS: it holds
    while the member has the tier; UPGRADE, ENROLMENT, BIRTHDAY, ANNUAL_TARGET) and its value (a
    cashback's or a coupon grant's value names a field of the program)."""

    code: str
    name: str
    tiers: tuple[str, ...]
    kind: str
    unlock: str = "ALWAYS"
    value: str = "true"


BENEFIT_KINDS = ("CASHBACK", "COUPON_GRANT", "GIFT", "SERVICE_LEVEL", "FLAG")
UNLOCKS = ("ALWAYS", "UPGRADE", "ENROLMENT", "BIRTHDAY", "ANNUAL_TARGET")

# The program's plan (DESIGN.md "Promotions"): most benefits belong to one tier only.
DEFAULT_BENEFITS: tuple[BenefitSpec, ...] = (
    BenefitSpec("points-redemption", "Points redemption", ("SILVER", "GOLD", "DIAMOND"), "FLAG"),
    BenefitSpec("new-member-gift-pack", "New-member gift pack", ("SILVER",), "GIFT", "ENROLMENT"),
    BenefitSpec("cashback-gold", "2 % cashback in points", ("GOLD",), "CASHBACK",
                value="gold_bonus_percent"),
    BenefitSpec("threshold-coupons", "Threshold coupons", ("GOLD",), "COUPON_GRANT", "UPGRADE",
                value="gold_threshold_coupon"),
    BenefitSpec("after-sales-2h", "After-sales response within 2 hours", ("GOLD",),
                "SERVICE_LEVEL", value="PT2H"),
    BenefitSpec("cashback-diamond", "5 % cashback in points", ("DIAMOND",), "CASHBACK",
                value="diamond_bonus_percent"),
    BenefitSpec("free-shipping", "Free shipping", ("DIAMOND",), "FLAG"),
    BenefitSpec("early-access", "Priority access to new products", ("DIAMOND",), "FLAG"),
    BenefitSpec("account-manager", "A dedicated account manager", ("DIAMOND",), "SERVICE_LEVEL",
                value="DEDICATED"),
    BenefitSpec("birthday-gift", "A birthday gift", ("DIAMOND",), "GIFT", "BIRTHDAY"),
    BenefitSpec("thank-you-event", "The annual thank-you event", ("DIAMOND",), "FLAG"),
    BenefitSpec("annual-target-gift", "A premium gift for the annual spend target",
                ("DIAMOND",), "GIFT", "ANNUAL_TARGET"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Program:
    currency: str = "USD"
    # Digits after the decimal point of the program currency (2 for USD/EUR/CNY).
    currency_exponent: int = 2
    # How far back a purchase may be dated when it is recorded (late tills, imports).
    purchase_backdating_days: int = 365
    # Phone identities without a country code are read as numbers of this region (ISO 3166).
    phone_region: str = "US"
    # The program's own calendar: a campaign's monthly day (a member day on the 18th) is a day
    # in this time zone (IANA name).
    timezone: str = "UTC"
    # What one point is worth in the program currency.
    point_value: Decimal = Decimal("0.01")
    # Base earning: points per whole currency unit spent (floored).
    points_per_currency_unit: int = 1
    # How far below zero a refund reversal may take a member's balance (0: never negative).
    negative_balance_limit: int = 0

    # Growth value and tiers: counted over the last `growth_window_months` months.
    growth_per_currency_unit: int = 1
    growth_per_interaction: int = 2
    growth_window_months: int = 12
    gold_growth_threshold: int = 5_000
    diamond_growth_threshold: int = 20_000
    # Tier bonus: this percentage of the amount, credited as points at `point_value`.
    gold_bonus_percent: Decimal = Decimal("2")
    diamond_bonus_percent: Decimal = Decimal("5")

    # Referrals: a one-off bonus to the referrer, then a share of the referee's purchases.
    referral_bonus_points: int = 500
    referral_earning_percent: Decimal = Decimal("3")
    referral_earning_days: int = 365
    # How long after enrolling a member may still enter a referral code.
    referral_claim_days: int = 30

    # Expiry: a lot expires at the end of the month `expiry_months` after the month it was earned.
    expiry_months: int = 24

    # Lifecycle: NEW within `new_member_days` of enrolling; DORMANT without a purchase for
    # `dormant_days`; AT_RISK when the purchases of the last `dormant_days` are at most
    # `at_risk_ratio` of the `dormant_days` before.
    new_member_days: int = 30
    dormant_days: int = 90
    at_risk_ratio: Decimal = Decimal("0.5")

    # How long a partner exchange quote holds its rate.
    quote_seconds: int = 60

    # Value segment bands over the growth window: HIGH at or above the first, MID at or above
    # the second, LOW below.
    spend_high: Decimal = Decimal("10000")
    spend_mid: Decimal = Decimal("3000")
    frequency_high: int = 12
    frequency_mid: int = 4
    interactions_per_month_high: int = 5
    interactions_per_month_mid: int = 2

    # Promotions: the coupon templates (by code) the program's own offers issue; an empty code,
    # or a template that does not exist, turns that offer off.
    first_order_coupon: str = "first-order"
    winback_coupon: str = "win-back"
    retention_coupon: str = "retention"
    gold_threshold_coupon: str = "spend-200-save-20"
    # A DIAMOND member spending this much in a membership year earns the annual target gift.
    diamond_annual_target: Decimal = Decimal("30000")

    # The targets the program measures itself by (percent): programMetrics shows each figure
    # next to its target.
    activation_target: Decimal = Decimal("80")
    winback_target: Decimal = Decimal("25")
    retention_target: Decimal = Decimal("40")
    repurchase_lift_target: Decimal = Decimal("30")
    referred_share_target: Decimal = Decimal("20")
    diamond_attainment_target: Decimal = Decimal("60")
    member_coverage_target: Decimal = Decimal("50")
    high_tier_retention_target: Decimal = Decimal("85")
    # Net spend per member over the membership so far, in the program currency.
    lifetime_value_target: Decimal = Decimal("1000")
    diamond_mix_target: Decimal = Decimal("10")
    gold_mix_target: Decimal = Decimal("30")
    silver_mix_target: Decimal = Decimal("60")

    # The tier benefits (`[[benefits]]` tables in the program file replace the whole catalogue).
    benefits: tuple[BenefitSpec, ...] = DEFAULT_BENEFITS

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Program:
        """Build from a `[program]` TOML table; unknown keys are an error, not a silent typo."""
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"unknown program settings: {', '.join(sorted(unknown))}")
        program = cls()
        converted: dict[str, Any] = {}
        for name, raw in values.items():
            default = getattr(program, name)
            if name == "benefits":
                converted[name] = tuple(
                    BenefitSpec(**{**entry, "tiers": tuple(entry.get("tiers", ()))})
                    for entry in raw
                )
            elif isinstance(default, Decimal):
                # Through str so a TOML float like 0.01 never becomes 0.01000000000000000020816...
                converted[name] = Decimal(str(raw))
            else:
                converted[name] = type(default)(raw)
        converted_program = replace(program, **converted)
        converted_program.check()
        return converted_program

    def check(self) -> None:
        """Rules that would make the program incoherent are refused at start-up."""
        if not 0 < self.gold_growth_threshold < self.diamond_growth_threshold:
            raise ValueError("tier thresholds must satisfy 0 < gold < diamond")
        if self.point_value <= 0 or self.expiry_months < 1 or self.growth_window_months < 1:
            raise ValueError("point_value, expiry_months and growth_window_months are positive")
        if self.negative_balance_limit < 0:
            raise ValueError("negative_balance_limit is zero or positive")
        if self.phone_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"phone_region {self.phone_region!r} is not an ISO 3166 region")
        if time_zone(self.timezone) is None:
            raise ValueError(f"timezone {self.timezone!r} is not an IANA time zone")
        self._check_benefits()

    def _check_benefits(self) -> None:
        codes = [b.code for b in self.benefits]
        if len(set(codes)) != len(codes):
            raise ValueError("benefit codes are unique")
        for b in self.benefits:
            if b.kind not in BENEFIT_KINDS or b.unlock not in UNLOCKS:
                raise ValueError(f"benefit {b.code}: kind is one of {BENEFIT_KINDS}, unlock one "
                                 f"of {UNLOCKS}")  # fmt: skip
            if not b.tiers or set(b.tiers) - {"SILVER", "GOLD", "DIAMOND"}:
                raise ValueError(f"benefit {b.code}: tiers are some of SILVER, GOLD, DIAMOND")
            if b.kind in ("CASHBACK", "COUPON_GRANT") and b.value not in self.as_dict():
                raise ValueError(f"benefit {b.code}: its value names a program field")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def minor_unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.currency_exponent)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
