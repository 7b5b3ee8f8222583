"""Coupon templates: what a coupon gives and where (docs/promotions.md, "Coupons"). A
template's code is its key; a partner-funded template's budget must fit what an operator
allowed the partner (loyalty.promotions.funding)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database, insert_unless_exists
from infra.models import coupon_templates, partners, rewards
from infra.reads import keyed
from infra.records import CouponTemplateRow
from loyalty import bounds
from loyalty.errors import NotFound, ValidationFailed
from loyalty.idempotency import earlier, request_hash, retry_on_race
from loyalty.program import Program
from loyalty.promotions import funding
from loyalty.visibility import Visibility

CHANNELS = ("ONLINE", "OFFLINE", "PARTNER")


class CouponKind(StrEnum):
    AMOUNT_OFF = "AMOUNT_OFF"
    PERCENT_OFF = "PERCENT_OFF"
    # A reward of the catalogue, taken without points (redeemReward with the coupon's code).
    FREE_ITEM = "FREE_ITEM"


class TemplateStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"  # issues no coupon until resumed (loyalty.promotions.changes)
    RETIRED = "RETIRED"


@dataclass(frozen=True, slots=True)
class TemplateTerms:
    """What an operator (or a funding partner) sets on a coupon template."""

    code: str
    name: str
    kind: CouponKind
    amount_off: Decimal | None = None
    reward_id: int | None = None
    percent_off: Decimal | None = None
    max_discount: Decimal | None = None
    threshold: Decimal = Decimal(0)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_hours: int | None = None
    channels: tuple[str, ...] | None = None
    partner_id: int | None = None
    funded_by_partner_id: int | None = None
    per_member_limit: int | None = None
    total_limit: int | None = None
    budget: Decimal | None = None

    def check(self, program: Program) -> None:
        if not 0 < len(self.code.strip()) <= 64 or not 0 < len(self.name.strip()) <= 200:
            raise ValidationFailed("a template has a code (1-64) and a name (1-200)")
        if (self.kind is CouponKind.FREE_ITEM) != (self.reward_id is not None):
            raise ValidationFailed("a FREE_ITEM coupon, and only it, names a reward",
                                   argument="rewardId")  # fmt: skip
        if self.kind is CouponKind.FREE_ITEM:
            if self.amount_off is not None or self.percent_off is not None:
                raise ValidationFailed("a FREE_ITEM coupon takes no amount or percent off")
        elif self.kind is CouponKind.AMOUNT_OFF:
            if self.amount_off is None or self.percent_off is not None:
                raise ValidationFailed("an AMOUNT_OFF coupon gives amountOff", argument="amountOff")
        elif (
            self.percent_off is None
            or self.amount_off is not None
            or not (0 < self.percent_off <= 100)
        ):
            raise ValidationFailed("a PERCENT_OFF coupon gives 0 < percentOff <= 100",
                                   argument="percentOff")  # fmt: skip
        for name in ("amount_off", "max_discount", "budget"):
            value = getattr(self, name)
            if value is not None and (value <= 0 or value != value.quantize(program.minor_unit)):
                raise ValidationFailed(f"{name} is a positive amount in {program.currency}")
        for name in ("amount_off", "max_discount", "budget", "threshold", "per_member_limit",
                     "total_limit", "valid_hours"):  # fmt: skip
            value = getattr(self, name)
            out_of_bounds = None if value is None else bounds.problem(name, value)
            if out_of_bounds is not None:
                raise ValidationFailed(f"{name} {out_of_bounds}", argument=name)
        if self.threshold < 0 or self.threshold != self.threshold.quantize(program.minor_unit):
            raise ValidationFailed(
                "the threshold is zero or a positive amount", argument="threshold"
            )
        if self.valid_hours is None and self.valid_until is None:
            raise ValidationFailed("a template needs validHours or validUntil")
        if self.valid_hours is not None and not 0 < self.valid_hours <= 24 * 3660:
            raise ValidationFailed("validHours is 1 hour to 10 years", argument="validHours")
        if self.valid_from and self.valid_until and self.valid_from >= self.valid_until:
            raise ValidationFailed("validFrom comes before validUntil")
        if self.channels is not None and (not self.channels or set(self.channels) - set(CHANNELS)):
            raise ValidationFailed(f"channels are some of {', '.join(CHANNELS)}")
        for name in ("per_member_limit", "total_limit"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValidationFailed(f"{name} is positive")

    def row(self) -> dict[str, Any]:
        return {
            "code": self.code.strip(), "name": self.name.strip(), "kind": self.kind,
            "reward_id": self.reward_id, "amount_off": self.amount_off,
            "percent_off": self.percent_off,
            "max_discount": self.max_discount, "threshold": self.threshold,
            "valid_from": self.valid_from, "valid_until": self.valid_until,
            "valid_hours": self.valid_hours,
            "channels": None if self.channels is None else ",".join(sorted(set(self.channels))),
            "partner_id": self.partner_id, "funded_by_partner_id": self.funded_by_partner_id,
            "per_member_limit": self.per_member_limit, "total_limit": self.total_limit,
            "budget": self.budget,
        }  # fmt: skip


async def create_template(
    db: Database, program: Program, terms: TemplateTerms, *, now: datetime | None = None
) -> CouponTemplateRow:
    """Add a coupon template. Its code is its key: creating it again with the same terms
    answers the same template; with other terms, IDEMPOTENCY_CONFLICT."""
    terms.check(program)
    values = terms.row()
    fingerprint = request_hash(**values)
    now = now or datetime.now(UTC)

    async def attempt() -> Any:
        async with db.transaction() as conn:
            await _check_references(conn, terms)
            if terms.funded_by_partner_id is not None:
                # The partner is billed the discounts as they are: in the program's currency.
                currency = await conn.scalar(select(partners.c.settlement_currency).where(
                    partners.c.id == terms.funded_by_partner_id))  # fmt: skip
                if currency is None:
                    raise NotFound(f"partner {terms.funded_by_partner_id} does not exist")
                if currency != program.currency:
                    raise ValidationFailed(
                        f"a partner funding coupons settles in {program.currency}",
                        argument="fundedByPartnerId",
                    )
                await funding.check_template(
                    conn, terms.funded_by_partner_id, budget=terms.budget, now=now
                )
            row = await insert_unless_exists(conn, coupon_templates, {
                **values, "status": TemplateStatus.ACTIVE, "request_hash": fingerprint,
                "created_at": now,
            })  # fmt: skip
            if row is not None:
                return row
            return await earlier(conn, coupon_templates, fingerprint, values["code"],
                                 code=values["code"])  # fmt: skip

    return await retry_on_race(attempt)


async def _check_references(conn: AsyncConnection, terms: TemplateTerms) -> None:
    """The reward and the partner a template names exist (NOT_FOUND, not a foreign key error)."""
    if terms.reward_id is not None and await conn.scalar(
        select(rewards.c.id).where(rewards.c.id == terms.reward_id)
    ) is None:  # fmt: skip
        raise NotFound(f"reward {terms.reward_id} does not exist", argument="rewardId")
    if terms.partner_id is not None and await conn.scalar(
        select(partners.c.id).where(partners.c.id == terms.partner_id)
    ) is None:  # fmt: skip
        raise NotFound(f"partner {terms.partner_id} does not exist", argument="partnerId")


async def list_templates(db: Database, visible: Visibility) -> list[CouponTemplateRow]:
    async with db.read() as conn:
        return list(await conn.execute(
            select(coupon_templates).where(visible.coupon_templates)
            .order_by(coupon_templates.c.id)
        ))  # fmt: skip


templates_by_id = keyed(
    tuple(coupon_templates.c), coupon_templates.c.id, visible=attrgetter("readable_templates")
)
