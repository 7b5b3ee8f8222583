"""Rate cards: a partner's dated commission and fee terms, in its settlement currency. Cards are
added, never edited; each event is priced with the card in force on its date."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from operator import attrgetter

from infra.database import Database
from infra.models import rate_cards
from infra.partner_records import RateCardRow
from infra.reads import keyed
from loyalty.errors import ValidationFailed
from partners.registry import add_dated


@dataclass(frozen=True, slots=True)
class RateCardTerms:
    """Defaults from DESIGN.md; the exchange prices and fees are the partner's contract."""

    point_value: Decimal = Decimal("0.01")
    issuance_cost_per_point: Decimal = Decimal("0.008")
    redemption_commission_percent: Decimal = Decimal("3")
    outbound_unit_price: Decimal = Decimal("0.02")
    exchange_commission_percent: Decimal = Decimal("2")
    platform_fee_monthly: Decimal = Decimal("0")
    api_transaction_fee: Decimal = Decimal("0")

    def check(self) -> None:
        for name, value in asdict(self).items():
            if not value.is_finite() or value < 0:
                raise ValidationFailed(f"{name} is zero or more", argument=name)
            if value != value.quantize(Decimal("1e-8")):
                raise ValidationFailed(f"{name} has at most 8 decimals", argument=name)
        if self.platform_fee_monthly != self.platform_fee_monthly.quantize(Decimal("0.0001")):
            raise ValidationFailed("the monthly fee has at most 4 decimals")


async def add_rate_card(
    db: Database,
    *,
    partner_id: int,
    terms: RateCardTerms,
    valid_from: datetime,
    valid_to: datetime | None = None,
    now: datetime | None = None,
) -> RateCardRow:
    terms.check()
    return await add_dated(db, rate_cards, partner_id, asdict(terms), valid_from, valid_to, now)


# A partner's cards, oldest first; rows the caller may not see load as missing.
rate_cards_of = keyed(
    tuple(rate_cards.c), rate_cards.c.partner_id, visible=attrgetter("rate_cards"),
    order_by=(rate_cards.c.valid_from, rate_cards.c.id),
)  # fmt: skip
