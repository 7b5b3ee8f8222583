"""The limits an exchange's terms set: range, step, a whole number of units, and a daily cap."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import exchanges
from loyalty.errors import ExchangeLimit
from partners.exchange.state import ExchangeState


def _start_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


async def check_amount(
    conn: AsyncConnection, terms: Any, *, member_id: int, points: int, now: datetime
) -> int:
    """The partner units for `points` under `terms`, or EXCHANGE_LIMIT saying which rule."""
    if points < terms.min_points or points > terms.max_points:
        raise ExchangeLimit(
            f"an exchange is {terms.min_points} to {terms.max_points} points",
            reason="RANGE",
            minimum=terms.min_points,
            maximum=terms.max_points,
        )
    if points % terms.step_points:
        raise ExchangeLimit(
            f"points come in steps of {terms.step_points}", reason="STEP", step=terms.step_points
        )
    units = Decimal(points) / terms.rate
    if units != units.to_integral_value():
        raise ExchangeLimit(
            f"{points} points are not a whole number of partner units at {terms.rate} points each",
            reason="RATE",
        )
    await check_daily_cap(conn, terms, member_id=member_id, points=points, now=now)
    return int(units)


async def check_daily_cap(
    conn: AsyncConnection, terms: Any, *, member_id: int, points: int, now: datetime
) -> None:
    used = await conn.scalar(used_today(member_id, terms.partner_id, terms.direction, now))
    check_cap(terms.daily_cap_points, int(used or 0), points)


def used_today(member_id: Any, partner_id: Any, direction: Any, now: datetime) -> Select[Any]:
    """The points the member's exchanges with the partner in `direction` took today (those not
    VOIDED): read alone, or as a scalar subquery with other things in one statement."""
    return select(func.coalesce(func.sum(exchanges.c.points), 0)).where(
        exchanges.c.member_id == member_id,
        exchanges.c.partner_id == partner_id,
        exchanges.c.direction == direction,
        exchanges.c.state != ExchangeState.VOIDED,
        exchanges.c.created_at >= _start_of_day(now),
    )


def check_cap(cap: int, used: int, points: int) -> None:
    """EXCHANGE_LIMIT (DAILY_CAP) when `points` more would pass the daily `cap`."""
    if used + points > cap:
        raise ExchangeLimit(
            f"the daily cap is {cap} points; {used} already used today",
            reason="DAILY_CAP",
            cap=cap,
        )
