"""The daily lifecycle job (`pointgate jobs lifecycle`): win-back coupons for dormant members,
retention offers for members at risk, DIAMOND birthday gifts and the DIAMOND annual target
gift. Each offer is keyed by its episode or period, so running the job twice, or on several
replicas at once, gives nothing twice (the unique keys of coupons and grants decide)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import members, purchases
from infra.progress import Progress, quiet
from loyalty.program import Program
from loyalty.promotions import benefit
from loyalty.segment import Measures

BATCH = 500
# A birthday gift is still given if the job missed the day itself, for this many days after.
BIRTHDAY_GRACE_DAYS = 6


@dataclass
class OfferReport:
    checked: int = 0
    winback: int = 0
    retention: int = 0
    birthday: int = 0
    annual_target: int = 0


async def run_lifecycle_offers(
    db: Database, program: Program, *, at: datetime, progress: Progress = quiet
) -> OfferReport:
    """Check every active member once (in batches, each member in its own transaction)."""
    report = OfferReport()
    after_id = 0
    measures = Measures(program, at)
    last_purchase = (
        select(purchases.c.member_id, func.max(purchases.c.purchased_at).label("at"),
               func.max(purchases.c.id).label("id"))
        .where(purchases.c.purchased_at <= at)
        .group_by(purchases.c.member_id)
        .subquery()
    )  # fmt: skip
    while True:
        async with db.read() as conn:
            batch = list(await conn.execute(
                select(members.c.id, members.c.tier, members.c.enrolled_at,
                       members.c.birth_date, measures.lifecycle.label("lifecycle"),
                       last_purchase.c.at.label("last_at"), last_purchase.c.id.label("last_id"))
                .outerjoin(last_purchase, last_purchase.c.member_id == members.c.id)
                .where(members.c.status == "ACTIVE", members.c.id > after_id,
                       members.c.enrolled_at <= at)
                .order_by(members.c.id).limit(BATCH)
            ))  # fmt: skip
            diamonds = [row.id for row in batch if row.tier == "DIAMOND"]
            spend = await _spend_since(conn, diamonds, at - timedelta(days=367), at)
        if not batch:
            return report
        after_id = batch[-1].id
        for row in batch:
            async with db.transaction() as conn:
                await _offers_for(conn, program, row, spend.get(row.id, []), at, report)
        report.checked += len(batch)
        progress(len(batch))


async def _offers_for(
    conn: AsyncConnection, program: Program, row: Any, spent: list[tuple[datetime, Any]],
    at: datetime, report: OfferReport,
) -> None:  # fmt: skip
    # Dormant: no purchase for dormant_days since the last one (or since enrolling); one
    # win-back coupon per dormancy episode, which a purchase ends.
    quiet_since = row.last_at or row.enrolled_at
    if at - quiet_since >= timedelta(days=program.dormant_days):
        episode = f"lifecycle:DORMANT:after-{row.last_id or 'enrolment'}"
        if await benefit.offer(conn, program.winback_coupon, member_id=row.id,
                               issue_key=episode, at=at):  # fmt: skip
            report.winback += 1
    # At risk: one retention offer per dormant_days period of membership while it lasts.
    elif row.lifecycle == "AT_RISK":
        period = (at - row.enrolled_at) // timedelta(days=program.dormant_days)
        if await benefit.offer(conn, program.retention_coupon, member_id=row.id,
                               issue_key=f"lifecycle:AT_RISK:period-{period}", at=at):  # fmt: skip
            report.retention += 1
    if row.tier != "DIAMOND":
        return
    birthday = _last_birthday(row.birth_date, at.astimezone(program.zone).date())
    if birthday is not None and (at.astimezone(program.zone).date() - birthday).days <= (
        BIRTHDAY_GRACE_DAYS
    ):
        gift = benefit.BY_CODE["birthday-gift"]
        if await benefit.grant(conn, program, member_id=row.id, benefit=gift,
                               period=str(birthday.year), at=at):  # fmt: skip
            report.birthday += 1
    year = benefit.membership_year(row.enrolled_at, at)
    year_start = row.enrolled_at + relativedelta(years=year - 1)
    total = sum((amount for when, amount in spent if when >= year_start), start=0)
    if total >= program.diamond_annual_target:
        gift = benefit.BY_CODE["annual-target-gift"]
        if await benefit.grant(conn, program, member_id=row.id, benefit=gift,
                               period=f"year-{year}", at=at):  # fmt: skip
            report.annual_target += 1


def _last_birthday(born: date | None, today: date) -> date | None:
    """This year's birthday if it has come (29 February is the 28th in other years), else
    last year's."""
    if born is None:
        return None

    def on(year: int) -> date:
        try:
            return born.replace(year=year)
        except ValueError:
            return date(year, 2, 28)

    this_year = on(today.year)
    return this_year if this_year <= today else on(today.year - 1)


async def _spend_since(
    conn: AsyncConnection, member_ids: list[int], since: datetime, until: datetime
) -> dict[int, list[tuple[datetime, Any]]]:
    """Each member's purchases (when, amount net of refunds) in (since, until]."""
    if not member_ids:
        return {}
    found: dict[int, list[tuple[datetime, Any]]] = {}
    rows = await conn.execute(
        select(purchases.c.member_id, purchases.c.purchased_at,
               (purchases.c.amount - purchases.c.refunded_amount).label("net"))
        .where(purchases.c.member_id.in_(member_ids),
               and_(purchases.c.purchased_at > since, purchases.c.purchased_at <= until))
    )  # fmt: skip
    for row in rows:
        found.setdefault(row.member_id, []).append((row.purchased_at, row.net))
    return found
