"""Scalars with limits of their own: a Decimal too large or too precise to be an amount or a
rate is refused where it enters, not by the database or a quantize deep in the domain."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import NewType

import strawberry

from loyalty.bounds import MAX_SAFE_INTEGER

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


def serialize_decimal(value: Decimal) -> str:
    """Fixed-point, as PostgreSQL writes a numeric (the compiled path): 0.00000001, not
    str()'s 1E-8."""
    return format(value, "f")


BOUNDED_DECIMAL = strawberry.scalar(
    name="Decimal",
    description="Decimal (fixed-point), as a string",
    serialize=serialize_decimal,
    parse_value=parse_decimal,
)


def parse_big_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not an integer")
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueError(f"an integer here is at most {MAX_SAFE_INTEGER} in magnitude")
    return value


def serialize_big_int(value: int) -> int:
    # Past 2^53 a JSON number is no longer exact everywhere: refuse rather than round.
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueError(f"{value} is beyond the exact range of a JSON number")
    return int(value)


# Sums of points over many calls (a balance, a campaign's awards, growth value) may pass
# GraphQL's 32-bit Int; loyalty.bounds keeps every single call's quantity within Int. Fields
# are annotated `BigInt`; the schema maps it to `BIG_INT` (gateway.graph.build_schema).
BigInt = NewType("BigInt", int)
BIG_INT = strawberry.scalar(
    name="BigInt",
    description="An integer, exact up to 2^53 - 1 in magnitude, as a JSON number (sums of points).",
    serialize=serialize_big_int,
    parse_value=parse_big_int,
)
