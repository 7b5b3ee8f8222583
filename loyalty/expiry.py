"""Expiry: what is left of a lot at the end of the month `expiry_months` after it was earned
moves to `program:expired`. The job is safe to run any number of times: a second run finds
nothing left to expire."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import point_lots
from infra.progress import Progress, quiet
from infra.types import MonthEnd, UtcDateTime
from loyalty import ledger, lot
from loyalty.program import Program


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    members: int
    points: int


EXPIRY_BATCH = 500


def _expired_lots(cutoff: datetime) -> Any:
    return select(point_lots.c.member_id, func.sum(point_lots.c.remaining).label("points")).where(
        point_lots.c.earned_at < cutoff, point_lots.c.remaining > 0
    )


async def expire_points(
    db: Database, program: Program, *, at: datetime, progress: Progress = quiet
) -> ExpiryReport:
    """Expire every lot that has expired at `at`, one transaction per member (progress: per
    member with expired lots)."""
    cutoff = lot.expired_before(at, program.expiry_months)
    members = points = 0
    after_id = 0
    while True:
        async with db.read() as conn:
            batch = list(
                await conn.execute(
                    _expired_lots(cutoff)
                    .where(point_lots.c.member_id > after_id)
                    .group_by(point_lots.c.member_id)
                    .order_by(point_lots.c.member_id)
                    .limit(EXPIRY_BATCH)
                )
            )
        if not batch:
            return ExpiryReport(members=members, points=points)
        after_id = batch[-1].member_id
        for row in batch:
            expired = await _expire_member(db, row.member_id, cutoff, at)
            members += 1 if expired else 0
            points += expired
            progress()


async def _expire_member(db: Database, member_id: int, cutoff: datetime, at: datetime) -> int:
    async with db.transaction() as conn:
        # Under the account's lock, so a concurrent run or spend sees what this one left.
        await ledger.lock_member_balance(conn, member_id)
        points = await conn.scalar(
            _expired_lots(cutoff)
            .where(point_lots.c.member_id == member_id)
            .group_by(point_lots.c.member_id)
            .with_only_columns(func.sum(point_lots.c.remaining))
        )
        if not points:
            return 0
        # The expired lots are the member's oldest, so the debit draws exactly them.
        await ledger.transfer(
            conn,
            idempotency_key=f"expiry:{member_id}:{at.isoformat()}:{points}",
            debit=ledger.member_account(member_id),
            credit=ledger.EXPIRED,
            amount=int(points),
            reason=ledger.TransferCode.EXPIRY,
            reference=f"earned before {cutoff.date().isoformat()}",
            now=at,
        )
        return int(points)


@dataclass(frozen=True, slots=True)
class ExpiringPoints:
    points: int
    # Points per expiry date (the last day the points can be spent), soonest first.
    by_date: list[tuple[date, int]]


def expiring_lots(member_id: Any, cutoff: Any) -> ColumnElement[bool]:
    """The member's open lots earned before `cutoff` (those that expire by then)."""
    return and_(point_lots.c.member_id == member_id, point_lots.c.remaining > 0,
                point_lots.c.earned_at < cutoff)  # fmt: skip


def lot_expires_on(program: Program) -> ColumnElement[date]:
    """The last day a lot's points can be spent, in SQL (`expires_on`)."""
    return MonthEnd(point_lots.c.earned_at, program.expiry_months)


def expiring_cutoff(program: Program, now: datetime, within_days: int) -> datetime:
    return lot.expired_before(now + timedelta(days=within_days), program.expiry_months)


async def expiring_points(
    conn: AsyncConnection,
    program: Program,
    member_ids: list[int],
    *,
    now: datetime,
    within_days: int,
) -> dict[int, ExpiringPoints]:
    """Points of open lots that expire within `within_days` of `now`, per member."""
    cutoff = literal(expiring_cutoff(program, now, within_days), UtcDateTime())
    day = lot_expires_on(program)
    rows = await conn.execute(
        select(point_lots.c.member_id, day.label("day"),
               func.sum(point_lots.c.remaining).label("points"))
        .where(expiring_lots(point_lots.c.member_id, cutoff),
               point_lots.c.member_id.in_(member_ids))
        .group_by(point_lots.c.member_id, day)
        .order_by(point_lots.c.member_id, day)
    )  # fmt: skip
    per_member: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for row in rows:
        per_member[row.member_id].append((row.day, int(row.points)))
    return {
        member_id: ExpiringPoints(
            points=sum(points for _, points in per_member[member_id]),
            by_date=per_member[member_id],
        )
        for member_id in member_ids
    }
