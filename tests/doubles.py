"""Test doubles that make the process "die" at a chosen point of a flow, so tests can show that
nothing is lost or created whatever the point: the business modules carry no hooks for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class SimulatedCrash(Exception):
    """The process died here: nothing after this point runs."""


BEFORE_THE_CALL = "before the call"
AFTER_THE_CALL = "after the call"
AFTER_THE_COMMIT = "after the commit"
CRASH_POINTS = (BEFORE_THE_CALL, AFTER_THE_CALL, AFTER_THE_COMMIT)


class CrashingConnector:
    """A partner connector whose `credit` dies before the request leaves, or after the partner
    applied it and before its answer is recorded."""

    def __init__(self, inner: Any, when: str | None) -> None:
        self.inner, self.when = inner, when

    async def credit(self, exchange_id: str, account: str, units: int) -> Any:
        if self.when == BEFORE_THE_CALL:
            raise SimulatedCrash(self.when)
        answer = await self.inner.credit(exchange_id, account, units)
        if self.when == AFTER_THE_CALL:
            raise SimulatedCrash(self.when)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CrashingDirectory:
    """A connector directory whose connectors crash at `when` (see CrashingConnector)."""

    def __init__(self, inner: Any, when: str | None) -> None:
        self.inner, self.when = inner, when

    def for_partner(self, partner: Any) -> CrashingConnector:
        return CrashingConnector(self.inner.for_partner(partner), self.when)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CrashAfterCommit:
    """A database that dies right after its `commits`-th transaction commits."""

    def __init__(self, db: Any, commits: int) -> None:
        self.db, self.left = db, commits

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        async with self.db.transaction() as conn:
            yield conn
        self.left -= 1
        if self.left == 0:
            raise SimulatedCrash(AFTER_THE_COMMIT)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def crashing(db: Any, directory: Any, when: str | None) -> tuple[Any, Any]:
    """The database and directory for an outbound exchange that dies at `when` (None: never):
    its reserve and its settlement are its two transactions."""
    if when == AFTER_THE_COMMIT:
        return CrashAfterCommit(db, 2), directory
    return db, CrashingDirectory(directory, when)
