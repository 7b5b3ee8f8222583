"""Calendar months in a partner's time zone, and the currency arithmetic statements use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from loyalty.errors import InvalidState, ValidationFailed
from loyalty.program import time_zone

# Minor units of currencies whose exponent is not 2.
CURRENCY_EXPONENTS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}


@dataclass(frozen=True, slots=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        try:
            year, month = (int(part) for part in text.split("-"))
            if not (2000 <= year <= 2999 and 1 <= month <= 12) or len(text) != 7:
                raise ValueError
        except ValueError:
            raise ValidationFailed("a period is YYYY-MM", argument="period") from None
        return cls(year, month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def following(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def preceding(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) as UTC instants: midnight of the 1st to midnight of the next 1st."""
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        return start.astimezone(UTC), (start + relativedelta(months=1)).astimezone(UTC)

    @classmethod
    def containing(cls, moment: datetime, zone: ZoneInfo) -> Period:
        local = moment.astimezone(zone)
        return cls(local.year, local.month)


def zone_of(partner: Any) -> ZoneInfo:
    zone = time_zone(partner.timezone)
    if zone is None:
        raise InvalidState(f"partner {partner.id} has an unknown time zone")
    return zone


def minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-CURRENCY_EXPONENTS.get(currency, 2))


def plain(value: Decimal) -> Decimal:
    """A quantity or rate without storage padding: 3, 0.008 (not 3.0000, 0.00800000)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()
