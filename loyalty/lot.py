"""Expiry lots. Every posted credit to a member opens a lot dated when it was earned; every debit
draws the member's lots down oldest first. The sum of a member's open lots always equals what
the member can spend (or zero while a refund keeps the balance below zero), which `verify`
checks. The ledger calls these functions under the member account's row lock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import lot_draws, point_lots

_OPEN = insert(point_lots)


async def open_lot(
    conn: AsyncConnection, *, member_id: int, transfer_id: int, points: int, earned_at: datetime
) -> None:
    await conn.execute(_OPEN, {
        "member_id": member_id, "transfer_id": transfer_id, "points": points,
        "remaining": points, "earned_at": earned_at,
    })  # fmt: skip


_DRAW = (
    update(point_lots)
    .where(point_lots.c.member_id == bindparam("owner"), point_lots.c.id == bindparam("lot"))
    .values(remaining=point_lots.c.remaining - bindparam("drawn"))
)


async def draw(conn: AsyncConnection, *, member_id: int, transfer_id: int, points: int) -> int:
    """Draw up to `points` from the member's oldest open lots; returns the points drawn."""
    # Each open lot holds at least one point, so no more than `points` lots are needed.
    open_lots = await conn.execute(
        select(point_lots.c.id, point_lots.c.remaining)
        .where(point_lots.c.member_id == member_id, point_lots.c.remaining > 0)
        .order_by(point_lots.c.earned_at, point_lots.c.id)
        .limit(points)
    )
    draws: list[dict[str, Any]] = []
    left = points
    for lot in open_lots:
        if left == 0:
            break
        taken = min(left, lot.remaining)
        draws.append({"owner": member_id, "lot": lot.id, "drawn": taken})
        left -= taken
    if draws:
        await conn.execute(_DRAW, draws)
        await conn.execute(insert(lot_draws), [
            {"member_id": member_id, "lot_id": d["lot"], "transfer_id": transfer_id,
             "points": d["drawn"]} for d in draws
        ])  # fmt: skip
    return points - left


async def put_back(conn: AsyncConnection, *, transfer_id: int) -> None:
    """A voided held debit gives its points back to the lots it drew from (their dates kept)."""
    drawn = list(
        await conn.execute(
            select(lot_draws.c.member_id, lot_draws.c.lot_id, lot_draws.c.points).where(
                lot_draws.c.transfer_id == transfer_id
            )
        )
    )
    if drawn:
        await conn.execute(_DRAW, [
            {"owner": row.member_id, "lot": row.lot_id, "drawn": -row.points} for row in drawn
        ])  # fmt: skip


async def move_lots(
    conn: AsyncConnection, *, from_member: int, to_member: int, transfer_id: int
) -> None:
    """Open lots pass to another member with their dates (a merge must not make points
    younger), by `transfer_id`: each opens a lot of the other member with its date and what it
    holds, and is drawn to zero. (A lot is a member's row: it is copied, not given away.)"""
    open_lots = (point_lots.c.member_id == from_member, point_lots.c.remaining > 0)
    lots = list(await conn.execute(select(point_lots).where(*open_lots)))
    if not lots:
        return
    await conn.execute(insert(point_lots), [
        {"member_id": to_member, "transfer_id": transfer_id, "points": lot.remaining,
         "remaining": lot.remaining, "earned_at": lot.earned_at} for lot in lots
    ])  # fmt: skip
    await conn.execute(insert(lot_draws), [
        {"member_id": from_member, "lot_id": lot.id, "transfer_id": transfer_id,
         "points": lot.remaining} for lot in lots
    ])  # fmt: skip
    await conn.execute(update(point_lots).where(*open_lots).values(remaining=0))


def start_of_month(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def expires_at(earned_at: datetime, expiry_months: int) -> datetime:
    """The instant a lot expires: the end of the month `expiry_months` after it was earned
    (earned 2026-01-15 with 24 months: expired from 2028-02-01 00:00, the end of January 2028)."""
    return start_of_month(earned_at) + relativedelta(months=expiry_months + 1)


def expired_before(at: datetime, expiry_months: int) -> datetime:
    """Lots earned before this instant have expired at `at`."""
    return start_of_month(at) - relativedelta(months=expiry_months)


async def open_lot_totals(conn: AsyncConnection, member_ids: list[int] | None = None) -> Any:
    """Sum of open lots per member (all members when `member_ids` is None)."""
    query = select(point_lots.c.member_id, func.sum(point_lots.c.remaining).label("remaining"))
    if member_ids is not None:
        query = query.where(point_lots.c.member_id.in_(member_ids))
    return await conn.execute(query.group_by(point_lots.c.member_id))
