"""Billable API usage: the operations a partner's clients were admitted to make, counted per
client and minute.

The gateway counts in memory (`UsageMeter.count`, no database work on the request) and adds the
counts to `api_usage` every FLUSH_SECONDS in one statement, and once more on shutdown. A process
killed without its shutdown (SIGKILL, power loss) loses what it counted since its last flush: at
most FLUSH_SECONDS of its admitted operations. A flush that fails keeps its counts for the next
one. Where no flusher runs (an app without its lifespan: tests, scripts), each count is written
at once."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import anyio
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database, is_transient
from infra.models import api_usage

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


class UsageMeter:
    """The admitted operations of partners' clients, counted per process."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._counts: Counter[Key] = Counter()
        self._flushing = False

    async def count(self, partner_id: int, client_id: str | None) -> None:
        key = (partner_id, client_id or "", _minute(datetime.now(UTC)))
        self._counts[key] += 1
        if not self._flushing:
            await self.flush()

    async def flush(self) -> int:
        """Store what was counted since the last flush; returns how many operations."""
        counts, self._counts = self._counts, Counter()
        if not counts:
            return 0
        try:
            async with self.db.transaction() as conn:
                await add_usage(conn, counts)
        except BaseException:
            self._counts.update(counts)  # kept for the next flush
            raise
        return sum(counts.values())

    async def run(self, seconds: float = FLUSH_SECONDS) -> None:
        """Flush every `seconds` until cancelled, then once more (run by the app's lifespan)."""
        self._flushing = True
        try:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await self.flush()
                except Exception as error:
                    if not is_transient(error):
                        raise
                    log.warning("usage counts kept for the next flush: %s", error)
        finally:
            self._flushing = False
            with anyio.CancelScope(shield=True):
                await self.flush()


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
