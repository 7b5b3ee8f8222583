"""The daily lifecycle job (`pointgate jobs lifecycle`): win-back coupons for dormant members,
retention offers for members at risk, DIAMOND birthday gifts and the DIAMOND annual target
gift; lifecycle.changed and coupon.expiring events; coupons past their end marked EXPIRED.
Each offer is keyed by its episode or period, and each announcement is recorded by a
conditional update, so running the job twice, or on several replicas at once, gives and
announces nothing twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import coupons, members, purchases
from infra.progress import Progress, quiet
from loyalty import event
from loyalty.program import Program
from loyalty.promotions import benefit
from loyalty.segment import Measures

BATCH = 500
# A birthday gift is still given if the job missed the day itself, for this many days after.
BIRTHDAY_GRACE_DAYS = 6


# coupon.expiring is announced this long before a coupon ends.
EXPIRY_NOTICE = timedelta(days=2)


@dataclass
class OfferReport:
    checked: int = 0
    winback: int = 0
    retention: int = 0
    birthday: int = 0
    annual_target: int = 0
    lifecycle_changes: int = 0
    expiring: int = 0
    expired: int = 0


async def run_lifecycle_offers(
    db: Database, program: Program, *, at: datetime, progress: Progress = quiet
) -> OfferReport:
    """Check every active member once (in batches, each member in its own transaction)."""
    report = OfferReport()
    after_id = 0
    measures = Measures(program, at)
    # Per member, by its index (member_id, purchased_at): the last purchase so far, and the
    # newest purchase id (a new purchase starts a new dormancy episode).
    mine = and_(purchases.c.member_id == members.c.id, purchases.c.purchased_at <= at)
    last_at = select(func.max(purchases.c.purchased_at)).where(mine).scalar_subquery()
    last_id = select(func.max(purchases.c.id)).where(mine).scalar_subquery()
    while True:
        async with db.read() as conn:
            batch = list(await conn.execute(
                select(members.c.id, members.c.tier, members.c.enrolled_at,
                       members.c.birth_date, members.c.announced_lifecycle,
                       measures.lifecycle.label("lifecycle"), last_at.label("last_at"),
                       last_id.label("last_id"))
                .where(members.c.status == "ACTIVE", members.c.id > after_id,
                       members.c.enrolled_at <= at)
                .order_by(members.c.id).limit(BATCH)
            ))  # fmt: skip
            target = benefit.Unlock.ANNUAL_TARGET
            targeted = [row.id for row in batch if benefit.benefits_of(program, row.tier, target)]
            spend = await _spend_since(conn, targeted, at - timedelta(days=367), at)
        if not batch:
            await _coupon_notices(db, at, report)
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
    if row.lifecycle != row.announced_lifecycle:
        # The first time the job sees a member it only records its lifecycle.
        changed = await conn.execute(
            update(members).where(members.c.id == row.id,
                                  _same(members.c.announced_lifecycle, row.announced_lifecycle))
            .values(announced_lifecycle=row.lifecycle).returning(members.c.id)
        )  # fmt: skip
        if changed.first() is not None and row.announced_lifecycle is not None:
            await event.emit(conn, "lifecycle.changed", at, member_id=row.id,
                             from_lifecycle=row.announced_lifecycle,
                             to_lifecycle=row.lifecycle)  # fmt: skip
            report.lifecycle_changes += 1
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
    birthday = _last_birthday(row.birth_date, at.astimezone(program.zone).date())
    if birthday is not None and (at.astimezone(program.zone).date() - birthday).days <= (
        BIRTHDAY_GRACE_DAYS
    ):
        for gift in benefit.benefits_of(program, row.tier, benefit.Unlock.BIRTHDAY):
            if await benefit.grant(conn, program, member_id=row.id, benefit=gift,
                                   period=str(birthday.year), at=at):  # fmt: skip
                report.birthday += 1
    year = benefit.membership_year(row.enrolled_at, at)
    year_start = row.enrolled_at + relativedelta(years=year - 1)
    total = sum((amount for when, amount in spent if when >= year_start), start=0)
    if total >= program.diamond_annual_target:
        for gift in benefit.benefits_of(program, row.tier, benefit.Unlock.ANNUAL_TARGET):
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


def _same(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value


async def _coupon_notices(db: Database, at: datetime, report: OfferReport) -> None:
    """coupon.expiring for coupons that end within EXPIRY_NOTICE (once each), then every
    coupon past its end EXPIRED."""
    async with db.read() as conn:
        ending = list(await conn.execute(
            select(coupons.c.id, coupons.c.member_id, coupons.c.code, coupons.c.valid_until)
            .where(coupons.c.state == "ISSUED", coupons.c.expiry_announced_at.is_(None),
                   coupons.c.valid_until > at, coupons.c.valid_until <= at + EXPIRY_NOTICE)
        ))  # fmt: skip
    for held in ending:
        async with db.transaction() as conn:
            marked = await conn.execute(
                update(coupons).where(coupons.c.id == held.id,
                                      coupons.c.expiry_announced_at.is_(None))
                .values(expiry_announced_at=at).returning(coupons.c.id)
            )  # fmt: skip
            if marked.first() is not None:
                await event.emit(conn, "coupon.expiring", at, member_id=held.member_id,
                                 coupon_id=held.id, code=held.code,
                                 valid_until=held.valid_until)  # fmt: skip
                report.expiring += 1
    async with db.transaction() as conn:
        expired = await conn.execute(
            update(coupons).where(coupons.c.state == "ISSUED", coupons.c.valid_until <= at)
            .values(state="EXPIRED", updated_at=at).returning(coupons.c.id)
        )  # fmt: skip
        report.expired = len(expired.all())
