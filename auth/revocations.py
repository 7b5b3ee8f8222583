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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.feed import REVOCATIONS, ChangeFeed, announce
from infra.models import issued_tokens, oauth_clients

CHANNEL = REVOCATIONS
POLL_SECONDS = 0.5
PROBE_SECONDS = 1.0
CAPACITY = 100_000


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
    await announce(conn, CHANNEL, f"token:{jti}" if jti is not None else f"client:{client_id}")


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
        # Told of every revocation heard (live subscriptions check their tokens again).
        self.listeners: list[Callable[[], None]] = []

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

    def epoch(self) -> int | None:
        """While the feed is live, a number that changes with every revocation heard (a
        principal derived from a token's state holds until it changes); else None."""
        return self._heard if self._live else None

    def forget(self, payload: str) -> None:
        """A revocation heard: `token:<jti>` or `client:<client id>`."""
        self._heard += 1
        for listener in self.listeners:
            listener()
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
        feed = ChangeFeed(self.db, CHANNEL, poll=_revoked_since, heard=self.forget,
                          trust=self._trust, poll_seconds=POLL_SECONDS,
                          probe_seconds=PROBE_SECONDS)  # fmt: skip
        await feed.follow()


async def _revoked_since(conn: AsyncConnection, since: datetime) -> list[str]:
    tokens = await conn.scalars(
        select(issued_tokens.c.jti).where(issued_tokens.c.revoked_at >= since)
    )
    clients = await conn.scalars(
        select(oauth_clients.c.client_id).where(oauth_clients.c.revoked_at >= since)
    )
    return [f"token:{jti}" for jti in tokens] + [f"client:{client}" for client in clients]
