"""Billable API usage: the operations a partner's clients were admitted to make, counted per
client and minute.

The gateway counts in memory (`UsageMeter.count_call`, no database work on the request) and adds
the counts to `api_usage` every FLUSH_SECONDS in one statement, and once more on shutdown
(infra.tally: a process killed without its shutdown loses at most FLUSH_SECONDS of its admitted
operations)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import api_usage
from infra.tally import Tally

FLUSH_SECONDS = 1.0
log = logging.getLogger("pointgate.usage")

Key = tuple[int, str, datetime]  # partner, client, minute


def _minute(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


async def add_usage(conn: AsyncConnection, counts: dict[Key, int]) -> None:
    """Add counts to the stored ones, in one statement."""
    if not counts:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(api_usage)
    statement = statement.on_conflict_do_update(
        index_elements=[api_usage.c.partner_id, api_usage.c.client_id, api_usage.c.minute],
        set_={"calls": api_usage.c.calls + statement.excluded.calls},
    )
    await conn.execute(statement, [
        {"partner_id": partner, "client_id": client, "minute": minute, "calls": calls}
        for (partner, client, minute), calls in counts.items()
    ])  # fmt: skip


async def record_api_call(
    db: Database, *, partner_id: int, client_id: str | None, at: datetime | None = None
) -> None:
    """One billable API operation of a partner's client, stored at once."""
    async with db.transaction() as conn:
        await add_usage(conn, {(partner_id, client_id or "", _minute(at or datetime.now(UTC))): 1})


class UsageMeter(Tally[Key]):
    """The admitted operations of partners' clients, counted per process (infra.tally)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, add_usage)

    async def run(self, seconds: float = FLUSH_SECONDS) -> None:
        await super().run(seconds)

    async def count_call(self, partner_id: int, client_id: str | None) -> None:
        await self.count((partner_id, client_id or "", _minute(datetime.now(UTC))))


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: date
    client_id: str
    calls: int
    # The most operations the client was admitted to in one minute of the day.
    busiest_minute: int


async def daily_usage(
    db: Database, partner_id: int, start: datetime, end: datetime, zone: ZoneInfo
) -> list[DayUsage]:
    """A partner's admitted operations per day (in `zone`) and client over [start, end),
    newest day first, with each day's busiest minute."""
    async with db.read() as conn:
        rows = await conn.execute(
            select(api_usage.c.client_id, api_usage.c.minute, api_usage.c.calls).where(
                api_usage.c.partner_id == partner_id,
                api_usage.c.minute >= start, api_usage.c.minute < end,
            )
        )  # fmt: skip
        days: dict[tuple[date, str], list[int]] = {}
        for row in rows:
            days.setdefault((row.minute.astimezone(zone).date(), row.client_id), []).append(
                int(row.calls)
            )
    return [
        DayUsage(day=day, client_id=client, calls=sum(calls), busiest_minute=max(calls))
        for (day, client), calls in sorted(days.items(), key=lambda item: (item[0][0], item[0][1]),
                                           reverse=True)
    ]  # fmt: skip
