"""The Decimal scalar is fixed-point text, as its description says and as PostgreSQL writes a
numeric on the compiled path: never str()'s exponent form."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schema.scalars import serialize_decimal


@pytest.mark.parametrize(
    ("value", "written"),
    [("0.00000001", "0.00000001"), ("1E-8", "0.00000001"), ("1E+2", "100"), ("20.00", "20.00"),
     ("-0.0000005", "-0.0000005"), ("0.008", "0.008")],
)  # fmt: skip
def test_a_decimal_is_written_fixed_point(value, written):
    assert serialize_decimal(Decimal(value)) == written
