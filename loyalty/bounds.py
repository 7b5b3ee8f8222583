"""The bounds of every quantity a client sets, in one table (docs/bounds.md lists them).

They are chosen so that no sequence of allowed calls overflows a stored or exposed type:
- one call moves at most `MAX_POINTS` points (a redemption, an exchange, a reward's cost, a
  campaign's budget), and a purchase earns at most `MAX_POINTS` from its base points and
  campaigns together (`MAX_CAMPAIGNS_PER_PURCHASE` of them at most) plus its tier bonus, which
  `MAX_AMOUNT` bounds: every per-call points field fits GraphQL's `Int` (2^31 - 1);
- what adds up over calls (a balance, a partner's clearing account, growth value, a campaign's
  awards) is exposed as `BigInt` (schema.scalars), exact to 2^53 - 1, and stored as BIGINT.

The GraphQL boundary (schema.boundary) checks each argument and input field by its name against
`BOUNDS` before any resolver runs; the domain repeats the checks its own callers (the CLI, the
console, jobs) rely on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

# One call's points, and a purchase's base and campaign points together.
MAX_POINTS = 1_000_000_000
# One purchase, refund or discount, in the program currency.
MAX_AMOUNT = Decimal("10000000")
# A coupon template's money budget, and what a partner may have in them at once.
MAX_BUDGET = Decimal("1000000000")
MAX_BONUS_POINTS = 100_000
MAX_MULTIPLIER = Decimal(10)
# Campaigns applying to one purchase, in priority order (the rest are skipped).
MAX_CAMPAIGNS_PER_PURCHASE = 5
# The largest integer exact in JSON everywhere (JavaScript's Number.MAX_SAFE_INTEGER).
MAX_SAFE_INTEGER = 2**53 - 1
MAX_INT = 2**31 - 1
# Instants and dates a client may name.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
EARLIEST_DATE = date(1900, 1, 1)


@dataclass(frozen=True, slots=True)
class Bound:
    low: int | Decimal
    high: int | Decimal
    # What the number is, for the message and the docs.
    what: str

    def admits(self, value: int | Decimal) -> bool:
        return self.low <= value <= self.high

    def describe(self) -> str:
        return f"{self.low:,} to {self.high:,} ({self.what})"


_POINTS = Bound(1, MAX_POINTS, "points")
_MONEY = Bound(Decimal(0), MAX_AMOUNT, "an amount")
_PERCENT = Bound(Decimal(0), Decimal(100), "a percentage")
_PRICE = Bound(Decimal(0), Decimal(1_000_000), "a price or rate")

# By argument or input field name (snake_case, as Strawberry passes them).
BOUNDS: dict[str, Bound] = {
    # purchases, refunds, redemptions, exchanges
    "amount": _MONEY,
    "points": _POINTS,
    "units": Bound(1, MAX_POINTS, "partner units"),
    "quantity": Bound(1, 100, "a quantity"),
    # rewards
    "point_cost": _POINTS,
    "stock": Bound(0, MAX_POINTS, "a stock"),
    # coupon templates
    "amount_off": _MONEY,
    "max_discount": _MONEY,
    "threshold": _MONEY,
    "percent_off": _PERCENT,
    "budget": Bound(Decimal(0), MAX_BUDGET, "a budget"),
    "per_member_limit": Bound(1, 1_000, "coupons a member holds at once"),
    "total_limit": Bound(1, 100_000_000, "coupons in all"),
    "valid_hours": Bound(1, 87_600, "hours"),
    # campaigns
    "multiplier": Bound(Decimal(1), MAX_MULTIPLIER, "a multiplier"),
    "bonus_points": Bound(0, MAX_BONUS_POINTS, "bonus points"),
    "points_budget": _POINTS,
    "priority": Bound(-1_000, 1_000, "a priority"),
    "monthly_day": Bound(1, 31, "a day of the month"),
    # partners' promotion limits (operators)
    "campaign_points_limit": Bound(0, MAX_POINTS, "points"),
    "coupon_budget_limit": Bound(Decimal(0), MAX_BUDGET, "a budget"),
    # exchange terms and rate cards
    "rate": _PRICE,
    "min_points": _POINTS,
    "max_points": _POINTS,
    "step_points": _POINTS,
    "daily_cap_points": _POINTS,
    "fee_points": Bound(0, MAX_POINTS, "points"),
    "point_value": _PRICE,
    "issuance_cost_per_point": _PRICE,
    "outbound_unit_price": _PRICE,
    "api_transaction_fee": _PRICE,
    "platform_fee_monthly": Bound(Decimal(0), MAX_BUDGET, "a fee"),
    "redemption_commission_percent": _PERCENT,
    "exchange_commission_percent": _PERCENT,
    # reads
    "first": Bound(0, 100, "a page size"),
    "within": Bound(1, 3_650, "days"),
}


def problem(name: str, value: object) -> str | None:
    """Why a client's value for `name` is out of bounds, or None. Instants must name their zone
    and lie in [1970, 2200); dates from 1900."""
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return "an instant names its time zone (2026-01-31T10:00:00Z)"
        if not EARLIEST <= value < LATEST:
            return "an instant lies between 1970 and 2200"
        return None
    if isinstance(value, date):
        return None if EARLIEST_DATE <= value < LATEST.date() else "a date lies from 1900 on"
    if isinstance(value, int | Decimal):
        bound = BOUNDS.get(name)
        if bound is not None and not bound.admits(value):
            return f"is {bound.describe()}"
    return None
