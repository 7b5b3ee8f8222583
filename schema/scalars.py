"""Scalars with limits of their own: a Decimal too large or too precise to be an amount or a
rate is refused where it enters, not by the database or a quantize deep in the domain."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import strawberry

# Amounts are NUMERIC(20, 4) and rates 8 decimals: 15 digits before the point, 8 after.
MAX_INTEGER_DIGITS = 15
MAX_FRACTION_DIGITS = 8


def money(value: Decimal, exponent: int) -> Decimal:
    """An amount at the program currency's exponent (20.00, not the stored 20.0000)."""
    return value.quantize(Decimal(1).scaleb(-exponent))


def parse_decimal(value: object) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError("a decimal number must be finite")
    if number and (
        number.adjusted() >= MAX_INTEGER_DIGITS or -number.as_tuple().exponent > MAX_FRACTION_DIGITS  # type: ignore[operator]
    ):
        raise ValueError(
            f"a decimal number has at most {MAX_INTEGER_DIGITS} digits before the point"
            f" and {MAX_FRACTION_DIGITS} after it"
        )
    return number


BOUNDED_DECIMAL = strawberry.scalar(
    name="Decimal",
    description="Decimal (fixed-point), as a string",
    serialize=str,
    parse_value=parse_decimal,
)
