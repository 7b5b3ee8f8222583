"""The program rules' numbers: one object, defaults from DESIGN.md, overridable per deployment."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Program:
    currency: str = "USD"
    # Digits after the decimal point of the program currency (2 for USD/EUR/CNY).
    currency_exponent: int = 2
    # What one point is worth in the program currency.
    point_value: Decimal = Decimal("0.01")
    # Base earning: points per whole currency unit spent (floored).
    points_per_currency_unit: int = 1
    # How far below zero a refund reversal may take a member's balance (0: never negative).
    negative_balance_limit: int = 0

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
            if isinstance(default, Decimal):
                # Through str so a TOML float like 0.01 never becomes 0.01000000000000000020816...
                converted[name] = Decimal(str(raw))
            else:
                converted[name] = type(default)(raw)
        return replace(program, **converted)

    @property
    def minor_unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.currency_exponent)
