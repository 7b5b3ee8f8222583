"""How many points a purchase earns and how many a refund takes back."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from loyalty import bounds
from loyalty.errors import ValidationFailed
from loyalty.program import Program


def check_amount(amount: Decimal, program: Program) -> Decimal:
    """An amount is positive and has no more decimals than the program currency's minor unit."""
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed("an amount is a positive number")
    if amount != amount.quantize(program.minor_unit):
        raise ValidationFailed(
            f"an amount in {program.currency} has at most {program.currency_exponent} decimals"
        )
    if amount > bounds.MAX_AMOUNT:
        raise ValidationFailed(f"an amount is at most {bounds.MAX_AMOUNT:,}")
    return amount


def base_points(amount: Decimal, program: Program) -> int:
    """Base earning: points per whole currency unit, floored (100.99 earns 100 at 1 per unit)."""
    whole_units = amount.to_integral_value(rounding=ROUND_FLOOR)
    return int(whole_units) * program.points_per_currency_unit


def points_due_back(points_earned: int, amount: Decimal, refunded_total: Decimal) -> int:
    """Points a purchase's refunds so far take back, in proportion to the refunded share and
    floored, so partial refunds never take back more than a whole refund would."""
    if refunded_total >= amount:
        return points_earned
    # Integer arithmetic on exact decimals: no rounding until the final floor.
    return int(points_earned * refunded_total // amount)
