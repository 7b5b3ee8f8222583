"""A feed of changes for what a process keeps in memory (revoked tokens, the campaigns in
force): other processes announce a change with `announce` in the transaction that makes it;
`ChangeFeed.follow` hears it, on PostgreSQL by LISTEN on a channel (delivered at commit), on
SQLite by polling what changed lately. The memory is to be trusted only while the feed says it
is live (`trust(True)`): until it has connected or polled, and after it fails, `trust(False)`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database

log = logging.getLogger("pointgate.feed")

# What a poll returns: the payloads of the changes made since the given instant.
Poll = Callable[[AsyncConnection, datetime], Awaitable[list[str]]]


# Revoked tokens and clients (auth.revocations follows it; a member's erasure announces too).
REVOCATIONS = "pointgate_revocations"


async def announce(conn: AsyncConnection, channel: str, payload: str) -> None:
    """Tell every process of a change when this transaction commits (PostgreSQL; SQLite
    processes find it by their poll)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                           {"channel": channel, "payload": payload})  # fmt: skip


class ChangeFeed:
    def __init__(
        self,
        db: Database,
        channel: str,
        *,
        poll: Poll,
        heard: Callable[[str], None],
        trust: Callable[[bool], None],
        poll_seconds: float = 0.5,
        probe_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.channel = channel
        self.poll = poll
        self.heard = heard
        self.trust = trust
        self.poll_seconds = poll_seconds
        self.probe_seconds = probe_seconds
        self._polled_until = datetime.now(UTC)

    async def follow(self) -> None:
        """Hear changes until cancelled (run by the app's lifespan, once per process)."""
        while True:
            try:
                if self.db.dialect == "postgresql":
                    await self._listen()
                else:
                    await self._poll()
            except asyncio.CancelledError:
                self.trust(False)
                raise
            except Exception:  # the feed failed: read the database until it is back
                log.warning("feed %s lost; reading the database", self.channel, exc_info=True)
                self.trust(False)
                await asyncio.sleep(1)

    async def _listen(self) -> None:
        async with self.db.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.add_listener(self.channel, lambda *args: self.heard(args[3]))
            # A closed connection hears nothing more: stop trusting memory at once.
            driver.add_termination_listener(lambda _: self.trust(False))
            self.trust(True)
            try:
                while True:
                    await asyncio.sleep(self.probe_seconds)
                    await driver.execute("SELECT 1")  # raises once the connection is dead
            finally:
                self.trust(False)

    async def _poll(self) -> None:
        live = False
        while True:
            since = self._polled_until - timedelta(seconds=2)  # clocks and commits lag a little
            now = datetime.now(UTC)
            async with self.db.read() as conn:
                changes = await self.poll(conn, since)
            for payload in changes:
                self.heard(payload)
            self._polled_until = now
            if not live:
                live = True
                self.trust(True)
            await asyncio.sleep(self.poll_seconds)
