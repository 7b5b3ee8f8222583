"""What a partner may fund: an operator sets, per partner, the points its campaigns may award
(`campaign_points_limit`) and the money its coupon templates may give (`coupon_budget_limit`);
both start at zero, so a partner funds nothing until an operator allows it.

A partner-funded campaign that gives points needs a `pointsBudget`, and a partner-funded coupon
template a `budget`; the budgets of the partner's campaigns (templates) still running, this one
included, must fit its limit. The partner's row is locked while this is counted, so two
creations at once cannot both take the last of it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.errors import NotFound, PromotionLimit, ValidationFailed
from infra.models import campaigns, coupon_templates, partners


async def _partner_limits(conn: AsyncConnection, partner_id: int) -> tuple[int, Decimal]:
    query = select(partners.c.campaign_points_limit, partners.c.coupon_budget_limit).where(
        partners.c.id == partner_id
    )
    if conn.dialect.name == "postgresql":  # SQLite runs one writer at a time
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"partner {partner_id} does not exist", argument="fundedByPartnerId")
    return int(row.campaign_points_limit), Decimal(row.coupon_budget_limit)


async def check_campaign(
    conn: AsyncConnection, partner_id: int, *, gives_points: bool, budget: int | None,
    now: datetime,
) -> None:  # fmt: skip
    """A partner-funded campaign's points fit what an operator allowed the partner."""
    points_limit, _ = await _partner_limits(conn, partner_id)
    if not gives_points:
        return
    if budget is None:
        raise ValidationFailed("a partner-funded campaign has a pointsBudget",
                               argument="pointsBudget")  # fmt: skip
    running = await conn.scalar(
        select(func.coalesce(func.sum(campaigns.c.points_budget), 0)).where(
            campaigns.c.funded_by_partner_id == partner_id,
            campaigns.c.status == "ACTIVE",
            campaigns.c.ends_at > now,
        )
    )
    if int(running or 0) + budget > points_limit:
        raise PromotionLimit(
            f"the partner's campaigns may award {points_limit:,} points in all; "
            f"{int(running or 0):,} are budgeted already",
            limit=points_limit, budgeted=int(running or 0),
        )  # fmt: skip


async def check_template(
    conn: AsyncConnection, partner_id: int, *, budget: Decimal | None, now: datetime
) -> None:
    """A partner-funded coupon template's budget fits what an operator allowed the partner."""
    _, money_limit = await _partner_limits(conn, partner_id)
    if budget is None:
        raise ValidationFailed("a partner-funded coupon template has a budget",
                               argument="budget")  # fmt: skip
    running = await conn.scalar(
        select(func.coalesce(func.sum(coupon_templates.c.budget), 0)).where(
            coupon_templates.c.funded_by_partner_id == partner_id,
            coupon_templates.c.status == "ACTIVE",
            or_(coupon_templates.c.valid_until.is_(None), coupon_templates.c.valid_until > now),
        )
    )
    budgeted = Decimal(running or 0)
    if budgeted + budget > money_limit:
        raise PromotionLimit(
            f"the partner's coupon templates may give {money_limit:,} in all; "
            f"{budgeted:,} are budgeted already",
            limit=str(money_limit), budgeted=str(budgeted),
        )  # fmt: skip


async def check_partners(conn: AsyncConnection, partner_ids: tuple[int, ...]) -> None:
    """Every partner a campaign names exists (a missing one is NOT_FOUND, not a campaign that
    silently applies nowhere)."""
    if not partner_ids:
        return
    found = set(await conn.scalars(select(partners.c.id).where(partners.c.id.in_(partner_ids))))
    for partner_id in partner_ids:
        if partner_id not in found:
            raise NotFound(f"partner {partner_id} does not exist", argument="partnerIds")
