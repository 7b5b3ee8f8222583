"""Tier benefits: what each tier gives (the catalog), what a member has now, and the grants
issued when a benefit is unlocked (on upgrade, on enrolment, by the daily job), once per
member, benefit and period however often the event happens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import insert_unless_exists
from infra.models import benefit_grants, coupon_templates, coupons, members
from infra.records import CouponRow, GrantRow
from loyalty import event, tier
from loyalty.program import BenefitSpec, Program
from loyalty.promotions import coupon
from loyalty.visibility import Visibility


class BenefitKind(StrEnum):
    CASHBACK = "CASHBACK"
    COUPON_GRANT = "COUPON_GRANT"
    GIFT = "GIFT"
    SERVICE_LEVEL = "SERVICE_LEVEL"
    FLAG = "FLAG"


class Unlock(StrEnum):
    """When a benefit is granted (ALWAYS: it holds while the member has the tier)."""

    ALWAYS = "ALWAYS"
    UPGRADE = "UPGRADE"
    ENROLMENT = "ENROLMENT"
    BIRTHDAY = "BIRTHDAY"
    ANNUAL_TARGET = "ANNUAL_TARGET"


# A benefit of the catalogue: the program's (loyalty.program.Program.benefits).
Benefit = BenefitSpec


def value_of(benefit: Benefit, program: Program) -> str:
    """The value a shop or app applies: a cashback's percentage from the program's numbers, a
    coupon grant's template code, else the catalogue's value."""
    if benefit.kind == BenefitKind.CASHBACK:
        return f"{getattr(program, benefit.value)}%"
    if benefit.kind == BenefitKind.COUPON_GRANT:
        return str(getattr(program, benefit.value))
    return benefit.value


def benefits_of(program: Program, tier: str, unlock: Unlock | None = None) -> list[Benefit]:
    """What a member of `tier` has now (those granted on `unlock`, if given)."""
    return [b for b in program.benefits
            if tier in b.tiers and (unlock is None or b.unlock == unlock)]  # fmt: skip


def find(program: Program, code: str) -> Benefit | None:
    """The benefit of that code in the program's catalogue, if it is still there."""
    return next((b for b in program.benefits if b.code == code), None)


def membership_year(enrolled_at: datetime, at: datetime) -> int:
    """1 in the first year after enrolment, 2 in the second, ..."""
    years = relativedelta(at, enrolled_at).years
    return max(years, 0) + 1


async def grant(
    conn: AsyncConnection,
    program: Program,
    *,
    member_id: int,
    benefit: Benefit,
    period: str,
    at: datetime,
) -> GrantRow | None:
    """Grant `benefit` to the member for `period`, once: the new grant, or None when it was
    granted before (or its coupon template does not exist). A coupon grant issues its coupon in
    the same transaction."""
    coupon_id = None
    if benefit.kind == BenefitKind.COUPON_GRANT:
        code = value_of(benefit, program)
        template_id = await conn.scalar(
            select(coupon_templates.c.id).where(coupon_templates.c.code == code)
        ) if code else None  # fmt: skip
        if template_id is None:
            return None
        issued = await coupon.grant(
            conn, template_id=template_id, member_id=member_id,
            issue_key=f"benefit:{benefit.code}:{period}", now=at,
        )  # fmt: skip
        if issued.coupon is None:  # the template refused it: not granted (a later try may)
            return None
        coupon_id = issued.coupon.id
    granted = await insert_unless_exists(conn, benefit_grants, {
        "member_id": member_id, "benefit": benefit.code, "period": period,
        "coupon_id": coupon_id, "granted_at": at,
    })  # fmt: skip
    if granted is not None:
        await event.emit(conn, "benefit.granted", at, member_id=member_id,
                         benefit=benefit.code, kind=benefit.kind, period=period)  # fmt: skip
    return granted


async def upgrade_if_due(
    conn: AsyncConnection,
    program: Program,
    *,
    member_id: int,
    current: tier.Tier,
    at: datetime,
    reason: tier.TierChangeReason = tier.TierChangeReason.UPGRADE,
    purchase_id: int | None = None,
    adding: tuple[datetime, int] | None = None,
) -> tier.Tier:
    """The immediate upgrade (loyalty.tier.upgrade_if_due) and, in the same transaction, the
    benefits the tier reached unlocks on upgrade."""
    reached = await tier.upgrade_if_due(conn, program, member_id=member_id, current=current,
                                        at=at, reason=reason, purchase_id=purchase_id,
                                        adding=adding)  # fmt: skip
    if reached != current:
        await on_upgrade(conn, program, member_id=member_id, tier=reached, at=at)
    return reached


async def on_upgrade(
    conn: AsyncConnection, program: Program, *, member_id: int, tier: str, at: datetime
) -> list[GrantRow]:
    """The benefits `tier` unlocks on upgrade, once per membership year (reaching GOLD twice
    in a year grants once)."""
    unlocked = benefits_of(program, tier, Unlock.UPGRADE)
    if not unlocked:
        return []
    enrolled_at = (
        await conn.execute(select(members.c.enrolled_at).where(members.c.id == member_id))
    ).scalar_one()
    period = f"year-{membership_year(enrolled_at, at)}"
    granted = [await grant(conn, program, member_id=member_id, benefit=b, period=period, at=at)
               for b in unlocked]  # fmt: skip
    return [g for g in granted if g is not None]


async def on_revert(
    conn: AsyncConnection, program: Program, *, member_id: int, left: list[str], at: datetime
) -> int:
    """A refund reverted an upgrade: the benefits the tiers `left` unlocked on that upgrade are
    withdrawn for this membership year (the grant row goes, so reaching the tier again grants
    them again, and a coupon it granted is voided while still unused: a coupon for reaching
    GOLD does not outlive the purchase that reached it). Returns how many were withdrawn."""
    enrolled_at = (
        await conn.execute(select(members.c.enrolled_at).where(members.c.id == member_id))
    ).scalar_one()
    period = f"year-{membership_year(enrolled_at, at)}"
    withdrawn = 0
    for reached in left:
        for unlocked in benefits_of(program, reached, Unlock.UPGRADE):
            grant = (await conn.execute(select(benefit_grants).where(
                benefit_grants.c.member_id == member_id, benefit_grants.c.benefit == unlocked.code,
                benefit_grants.c.period == period))).first()  # fmt: skip
            if grant is None:
                continue
            if grant.coupon_id is not None and not await coupon.void_unused(
                conn, member_id=member_id, coupon_id=grant.coupon_id, at=at
            ):
                continue  # its coupon was used: what was given stays given
            await conn.execute(delete(benefit_grants).where(
                benefit_grants.c.member_id == member_id, benefit_grants.c.id == grant.id,
            ))  # fmt: skip
            withdrawn += 1
    return withdrawn


async def on_enrolment(
    conn: AsyncConnection, program: Program, *, member_id: int, at: datetime
) -> list[GrantRow | CouponRow]:
    """In the enrolment's transaction: the new-member gift pack, and the first-order coupon
    (a lifecycle offer for a NEW member)."""
    granted = [await grant(conn, program, member_id=member_id, benefit=b, period="once", at=at)
               for b in benefits_of(program, "SILVER", Unlock.ENROLMENT)]  # fmt: skip
    first_order = await offer(conn, program.first_order_coupon, member_id=member_id,
                              issue_key="lifecycle:NEW", at=at)  # fmt: skip
    return [g for g in [*granted, first_order] if g is not None]


async def offer(
    conn: AsyncConnection, template_code: str, *, member_id: int, issue_key: str, at: datetime
) -> CouponRow | None:
    """A coupon of the template named `template_code` (None when the offer is off: no code, or
    no such template), once per `issue_key`."""
    if not template_code:
        return None
    template_id = await conn.scalar(
        select(coupon_templates.c.id).where(coupon_templates.c.code == template_code)
    )
    if template_id is None:
        return None
    issued = await coupon.grant(
        conn, template_id=template_id, member_id=member_id, issue_key=issue_key, now=at
    )
    return issued.coupon if issued.fresh else None


async def grants_of(
    conn: AsyncConnection, member_ids: Sequence[int], visible: Visibility
) -> list[GrantRow]:
    """What the members were granted (gift packs, birthday and annual target gifts, coupon
    grants), oldest first, with the coupon's code where the grant was one; those the caller may
    see (`visible.benefit_grants`)."""
    return list(await conn.execute(
        select(benefit_grants, grant_coupon_code().label("coupon_code"))
        .where(benefit_grants.c.member_id.in_(member_ids), visible.benefit_grants)
        .order_by(benefit_grants.c.member_id, benefit_grants.c.id)
    ))  # fmt: skip


def grant_coupon_code() -> Any:
    """The code of a grant's coupon (null for a gift), of a benefit_grants row."""
    return (
        select(coupons.c.code)
        .where(
            coupons.c.member_id == benefit_grants.c.member_id,
            coupons.c.id == benefit_grants.c.coupon_id,
        )
        .scalar_subquery()
    )
