"""Live events delivered in one process (loyalty.live writes them): `LiveFeed.follow` hears
every committed event (LISTEN on PostgreSQL, by id on SQLite; after the feed was lost, what it
missed is read back from the table) and publishes it under its member and partner, once;
`LiveFeed.stream` is one subscriber's events: those it missed since the event id it names,
then each new one its interest accepts (the policy's, auth.live), until its credential is no
longer good (checked when a revocation is heard and when the token expires)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.fanout import WAKE, Fanout, Overflow
from infra.feed import ChangeFeed
from infra.models import live_events
from loyalty.errors import StreamOverflow, TooManyStreams, Unauthenticated
from loyalty.live import CHANNEL, KEPT, LiveEvent, after, from_notice, prune

log = logging.getLogger("pointgate.live")

# Event ids remembered so that one heard twice (a notice and a catch-up read) is sent once.
REMEMBERED = 20_000
# How often the process forgets events older than live.KEPT.
PRUNE_SECONDS = 60.0


class Interest(Protocol):
    """What one subscriber follows (auth.live decides): the keys its events are published
    under, and whether it may see one event."""

    @property
    def keys(self) -> tuple[Hashable, ...]: ...

    def accepts(self, event: LiveEvent) -> bool: ...


def keys_of(event: LiveEvent) -> list[Hashable]:
    keys: list[Hashable] = []
    if event.member_id is not None:
        keys.append(("member", event.member_id))
    if event.partner_id is not None:
        keys.append(("partner", event.partner_id))
    return keys


class LiveFeed:
    def __init__(self, db: Database, *, capacity: int = 1_000) -> None:
        self.db = db
        self.fanout = Fanout(capacity)
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        self._last = 0  # the largest id heard
        self._lost = False
        # Whether events are heard as they commit (the feed is connected or polling).
        self.live = False

    async def follow(self) -> None:
        """Hear events until cancelled (the app's lifespan, once per process)."""
        async with self.db.read() as conn:
            self._last = int(await conn.scalar(select(func.coalesce(func.max(live_events.c.id),
                                                                      0))) or 0)  # fmt: skip
        feed = ChangeFeed(self.db, CHANNEL, poll=self._poll, heard=self._heard,
                          trust=self._trust)  # fmt: skip
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(feed.follow())
            tasks.create_task(self._prune())

    def deliver(self, event: LiveEvent) -> None:
        if event.id in self._seen:
            return
        self._seen.add(event.id)
        self._order.append(event.id)
        if len(self._order) > REMEMBERED:
            self._seen.discard(self._order.popleft())
        self._last = max(self._last, event.id)
        self.fanout.publish(keys_of(event), event)

    def _heard(self, payload: str) -> None:
        try:
            self.deliver(from_notice(payload))
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable live event %r", payload[:200])

    async def _poll(self, conn: AsyncConnection, since: datetime) -> list[str]:
        await self._catch_up(conn)
        return []

    async def _catch_up(self, conn: AsyncConnection) -> None:
        for event in await after(conn, self._last):
            self.deliver(event)

    def _trust(self, live: bool) -> None:
        self.live = live
        if not live:
            self._lost = True
        elif self._lost:  # back after a loss: read what was committed meanwhile
            self._lost = False
            asyncio.get_running_loop().create_task(self._read_missed())

    async def _read_missed(self) -> None:
        async with self.db.read() as conn:
            await self._catch_up(conn)

    async def _prune(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_SECONDS)
            try:
                async with self.db.transaction() as conn:
                    await prune(conn, datetime.now(UTC) - KEPT)
            except Exception:  # the next round tries again
                log.warning("pruning live events failed", exc_info=True)

    async def stream(
        self,
        interest: Interest,
        *,
        owner: Hashable,
        limit: int,
        missed_since: int | None,
        still_good: Callable[[], Awaitable[bool]],
        ends_at: float | None,
        recheck: float | None = None,
    ) -> AsyncIterator[LiveEvent]:
        """One subscriber's events (see the module's docstring); with `recheck`, its
        credential is also checked again after that many seconds without events."""
        inbox = self.fanout.open(interest.keys, owner, limit)
        if inbox is None:
            raise TooManyStreams(f"at most {limit} live subscriptions at a time", limit=limit)
        try:
            replayed: set[int] = set()
            if missed_since is not None:
                async with self.db.read() as conn:
                    missed = await after(conn, missed_since)
                for event in missed:
                    if interest.accepts(event):
                        replayed.add(event.id)
                        yield event
            while True:
                item = await self._next(inbox, ends_at, recheck)
                if item is None or item is WAKE:
                    if not await still_good():
                        raise Unauthenticated("the credential expired or was revoked")
                    continue
                if item.id not in replayed and interest.accepts(item):
                    yield item
        finally:
            self.fanout.close(inbox)

    @staticmethod
    async def _next(inbox: Any, ends_at: float | None, recheck: float | None) -> Any:
        # (after the expiry, checked every second: the verifier allows a little leeway)
        timeout = None if ends_at is None else max(1.0, ends_at - time.time())
        if recheck is not None:
            timeout = recheck if timeout is None else min(timeout, recheck)
        try:
            return await inbox.next(timeout)
        except Overflow:
            raise StreamOverflow("this subscriber fell behind; reconnect with the last event "
                                 "id seen") from None  # fmt: skip
