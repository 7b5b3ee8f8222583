"""Who a campaign's member conditions admit, before it starts: the active members whose tier,
lifecycle and bands (loyalty.segment's expressions, as `Campaign.admits` and
`admits_insight` judge a buyer) fit the terms now, counted by tier and lifecycle. Channels and
partners are conditions of a purchase, not of a member: the count is of who may earn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from infra.database import Database
from infra.models import members
from loyalty.membership import MemberStatus
from loyalty.program import Program
from loyalty.promotions.campaign import CampaignTerms
from loyalty.segment import Measures


@dataclass(frozen=True, slots=True)
class Reach:
    tier: str
    lifecycle: str
    members: int


async def audience(
    db: Database, program: Program, terms: CampaignTerms, now: datetime
) -> list[Reach]:
    """The members `terms` would reach now, by tier and lifecycle (tier, then lifecycle)."""
    measures = Measures(program, now)
    admitted = select(members.c.tier, measures.lifecycle.label("lifecycle")).where(
        members.c.status == MemberStatus.ACTIVE
    )
    for expression, wanted in (
        (members.c.tier, terms.tiers),
        (measures.lifecycle, terms.lifecycles),
        (measures.spend_band, terms.spend_bands),
        (measures.frequency_band, terms.frequency_bands),
    ):
        if wanted:
            admitted = admitted.where(expression.in_(wanted))
    counted = admitted.subquery()
    async with db.read() as conn:
        rows = await conn.execute(
            select(counted.c.tier, counted.c.lifecycle, func.count())
            .group_by(counted.c.tier, counted.c.lifecycle)
            .order_by(counted.c.tier, counted.c.lifecycle)
        )
        return [Reach(tier, lifecycle, count) for tier, lifecycle, count in rows]
