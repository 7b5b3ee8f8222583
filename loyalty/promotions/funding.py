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
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import campaigns, coupon_templates, partners
from loyalty.errors import NotFound, PromotionLimit, ValidationFailed


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
    now: datetime, besides: int | None = None,
) -> None:  # fmt: skip
    """A partner-funded campaign's points fit what an operator allowed the partner (an edited
    one's, `besides` its own budget as it was)."""
    points_limit, _ = await _partner_limits(conn, partner_id)
    if not gives_points:
        return
    if budget is None:
        raise ValidationFailed("a partner-funded campaign has a pointsBudget",
                               argument="pointsBudget")  # fmt: skip
    running = campaigns.c.ends_at > now
    budgeted = int(await _budgeted(conn, campaigns.c.points_budget, partner_id, running, besides))
    _fits(budget, budgeted, points_limit, "campaigns may award", " points")


async def check_template(
    conn: AsyncConnection,
    partner_id: int,
    *,
    budget: Decimal | None,
    now: datetime,
    besides: int | None = None,
) -> None:
    """A partner-funded coupon template's budget fits what an operator allowed the partner
    (an edited one's, `besides` its own budget as it was)."""
    _, money_limit = await _partner_limits(conn, partner_id)
    if budget is None:
        raise ValidationFailed("a partner-funded coupon template has a budget",
                               argument="budget")  # fmt: skip
    templates = coupon_templates.c
    running = or_(templates.valid_until.is_(None), templates.valid_until > now)
    budgeted = await _budgeted(conn, templates.budget, partner_id, running, besides)
    _fits(budget, budgeted, money_limit, "coupon templates may give", "")


async def _budgeted(conn: AsyncConnection, budget: Any, partner_id: int, running: Any,
                    besides: int | None) -> Decimal:  # fmt: skip
    """What the partner's promotions still running (of `budget`'s table), paused ones
    included (they may resume), have budgeted, but for `besides`."""
    table = budget.table
    total = await conn.scalar(select(func.coalesce(func.sum(budget), 0)).where(
        table.c.funded_by_partner_id == partner_id, table.c.status.in_(("ACTIVE", "PAUSED")),
        running, table.c.id != (besides or 0),
    ))  # fmt: skip
    return Decimal(total or 0)


def _fits(asked: Any, budgeted: Any, limit: Any, what: str, unit: str) -> None:
    if budgeted + asked > limit:
        raise PromotionLimit(
            f"the partner's {what} {limit:,}{unit} in all; {budgeted:,} are budgeted already",
            limit=limit if isinstance(limit, int) else str(limit),
            budgeted=budgeted if isinstance(budgeted, int) else str(budgeted),
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
