"""What the campaign book offers, read in SQL: the campaigns a reader may see, and those offered
to a member of a tier (one rule for the loader and the compiled `Member.campaigns`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import campaigns
from infra.records import CampaignRow
from loyalty.promotions.campaign import CampaignStatus
from loyalty.visibility import Visibility


def offered(tier: Any, at: Any, readable: ColumnElement[bool]) -> ColumnElement[bool]:
    """A campaign not yet ended whose audience admits `tier` and the reader may see
    (`readable`, the policy's): what a member of that tier is offered (channels and partners
    aside). One rule for the loader below and the compiled `Member.campaigns`."""
    audience = (literal(",") + campaigns.c.tiers + ",").contains(literal(",") + tier + ",")
    return and_(campaigns.c.status == CampaignStatus.ACTIVE, campaigns.c.ends_at > at, readable,
                or_(campaigns.c.tiers.is_(None), audience))  # fmt: skip


async def running_for_tiers(
    conn: AsyncConnection, tiers: list[str], at: datetime, readable: ColumnElement[bool]
) -> list[tuple[str, CampaignRow]]:
    """(tier, campaign row) for the campaigns `offered` to each tier, by start."""
    asked = [
        select(literal(tier).label("offered_tier"), campaigns).where(offered(tier, at, readable))
        for tier in tiers
    ]
    rows = await conn.execute(union_all(*asked).order_by("offered_tier", "starts_at", "id"))
    return [(row.offered_tier, row) for row in rows]


async def list_campaigns(db: Database, visible: Visibility) -> list[CampaignRow]:
    async with db.read() as conn:
        return list(await conn.execute(
            select(campaigns).where(visible.campaigns).order_by(campaigns.c.id)
        ))  # fmt: skip
