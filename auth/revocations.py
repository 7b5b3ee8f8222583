"""What the token check needs to know about our own tokens, kept in memory so that a request
does not pay a database round trip for it: whether the token was issued here and revoked, and
its client's status and partner.

A token is looked up in the database the first time a process sees it, then answered from
memory. Revoking a token or a client tells every process: on PostgreSQL by `NOTIFY` on
CHANNEL in the transaction that revokes (delivered at commit), on SQLite by a poll of what was
revoked lately, every POLL_SECONDS. The memory is used only while that feed is known to work:
until the listener is connected (or the poll has run), after it fails, and in a process that
does not run `follow` (tests without a lifespan), every check reads the database as before. On
(re)connecting, the memory is emptied, so nothing revoked while the feed was down survives."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import issued_tokens, oauth_clients

CHANNEL = "pointgate_revocations"
POLL_SECONDS = 0.5
PROBE_SECONDS = 1.0
CAPACITY = 100_000

log = logging.getLogger("pointgate.revocations")


@dataclass(frozen=True, slots=True)
class TokenState:
    revoked: bool
    client_id: str | None
    client_status: str | None
    partner_id: int | None


async def notify_revoked(conn: AsyncConnection, *, jti: str | None = None,
                         client_id: str | None = None) -> None:  # fmt: skip
    """Tell every process, when this transaction commits, that a token or a client was revoked
    (PostgreSQL; SQLite processes find it by their poll)."""
    if conn.dialect.name == "postgresql":
        payload = f"token:{jti}" if jti is not None else f"client:{client_id}"
        await conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                           {"channel": CHANNEL, "payload": payload})  # fmt: skip


class TokenStates:
    def __init__(self, db: Database, *, capacity: int = CAPACITY) -> None:
        self.db = db
        self.capacity = capacity
        self._known: dict[str, TokenState] = {}
        # Whether the feed of revocations is live (only then is memory trusted).
        self._live = False
        # Counts revocations heard: a lookup that overlapped one is not remembered, since it
        # may have read the state from before the revocation.
        self._heard = 0
        self._polled_until = datetime.now(UTC)

    async def state(self, jti: str, lookup: Callable[[], Awaitable[Any]]) -> TokenState | None:
        """The token's state: from memory while the feed is live, else by `lookup` (a row with
        revoked_at, client_id, status and partner_id, or None for a token not issued here)."""
        if self._live and jti in self._known:
            return self._known[jti]
        heard = self._heard
        row = await lookup()
        if row is None:
            return None
        state = TokenState(row.revoked_at is not None, row.client_id, row.status, row.partner_id)
        if self._live and heard == self._heard:
            if len(self._known) >= self.capacity:
                self._known.clear()
            self._known[jti] = state
        return state

    def forget(self, payload: str) -> None:
        """A revocation heard: `token:<jti>` or `client:<client id>`."""
        self._heard += 1
        kind, _, key = payload.partition(":")
        if kind == "token":
            self._known.pop(key, None)
        else:
            for jti in [j for j, s in self._known.items() if s.client_id == key]:
                self._known.pop(jti, None)

    def _trust(self, live: bool) -> None:
        self._known.clear()
        self._heard += 1
        self._live = live

    async def follow(self) -> None:
        """Keep the memory in step with revocations until cancelled (run by the app's
        lifespan, once per process)."""
        while True:
            try:
                if self.db.dialect == "postgresql":
                    await self._listen()
                else:
                    await self._poll()
            except asyncio.CancelledError:
                self._trust(False)
                raise
            except Exception:  # the feed failed: read the database until it is back
                log.warning("revocation feed lost; checking tokens in the database", exc_info=True)
                self._trust(False)
                await asyncio.sleep(1)

    async def _listen(self) -> None:
        async with self.db.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.add_listener(CHANNEL, lambda *args: self.forget(args[3]))
            # A closed connection hears nothing more: stop trusting memory at once.
            driver.add_termination_listener(lambda _: self._trust(False))
            self._trust(True)
            try:
                while True:
                    await asyncio.sleep(PROBE_SECONDS)
                    await driver.execute("SELECT 1")  # raises once the connection is dead
            finally:
                self._trust(False)

    async def _poll(self) -> None:
        while True:
            since = self._polled_until - timedelta(seconds=2)  # clocks and commits lag a little
            now = datetime.now(UTC)
            async with self.db.read() as conn:
                for jti in await conn.scalars(
                    select(issued_tokens.c.jti).where(issued_tokens.c.revoked_at >= since)
                ):
                    self.forget(f"token:{jti}")
                for client_id in await conn.scalars(
                    select(oauth_clients.c.client_id).where(oauth_clients.c.revoked_at >= since)
                ):
                    self.forget(f"client:{client_id}")
            self._polled_until = now
            if not self._live:
                self._trust(True)
            await asyncio.sleep(POLL_SECONDS)
