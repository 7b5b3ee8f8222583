"""Counts kept in memory and added to a table in one statement every few seconds: for figures
counted on every request that no request should wait on (partners' billable operations, partner
clients' reads of members' data).

A flusher (`Tally.run`, started by the app's lifespan) adds the counts every `seconds`, and once
more when it is cancelled. A process killed without its shutdown (SIGKILL, power loss) loses
what it counted since its last flush. A flush that fails keeps its counts for the next one.
Where no flusher runs (an app without its lifespan: tests, scripts), each count is written at
once."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import anyio
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database, is_transient

K = TypeVar("K", bound=Hashable)
log = logging.getLogger("pointgate.tally")


class Tally(Generic[K]):
    def __init__(
        self, db: Database, add: Callable[[AsyncConnection, dict[K, int]], Awaitable[None]]
    ) -> None:
        self.db = db
        self._add = add
        self._counts: Counter[K] = Counter()
        self._flushing = False

    async def count(self, key: K, times: int = 1) -> None:
        self._counts[key] += times
        if not self._flushing:
            await self.flush()

    async def flush(self) -> int:
        """Store what was counted since the last flush; returns how many counts."""
        counts, self._counts = self._counts, Counter()
        if not counts:
            return 0
        try:
            async with self.db.transaction() as conn:
                await self._add(conn, dict(counts))
        except BaseException:
            self._counts.update(counts)  # kept for the next flush
            raise
        return sum(counts.values())

    async def run(self, seconds: float = 1.0) -> None:
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
                    log.warning("counts kept for the next flush: %s", error)
        finally:
            self._flushing = False
            with anyio.CancelScope(shield=True):
                await self.flush()
