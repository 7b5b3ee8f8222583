"""Replays: a request repeated with the same key gets the first answer; with other content, an
IDEMPOTENCY_CONFLICT. A request is identified by a hash of its meaningful fields."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from sqlalchemy import Table, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from loyalty.errors import IdempotencyConflict

T = TypeVar("T")


def request_hash(**fields: Any) -> str:
    payload = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(payload).hexdigest()


def check_replay(stored_hash: str | None, incoming_hash: str, key: str) -> None:
    if stored_hash != incoming_hash:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was already used for a different request", key=key
        )


async def earlier(
    conn: AsyncConnection, table: Table, fingerprint: str, label: str, **key: Any
) -> Any | None:
    """The row an earlier request with this key (`key`: its columns and values) made, checked
    to carry the same request (IDEMPOTENCY_CONFLICT otherwise, naming `label`); None if there
    is none."""
    conditions = [table.c[column] == value for column, value in key.items()]
    existing = (await conn.execute(select(table).where(*conditions))).first()
    if existing is not None:
        check_replay(existing.request_hash, fingerprint, label)
    return existing


# PostgreSQL's deadlock and serialization failures: the transaction was rolled back whole and
# may simply run again.
RETRYABLE_STATES = frozenset({"40P01", "40001"})


def _retryable(error: DBAPIError) -> bool:
    cause: BaseException | None = error.orig
    while cause is not None:
        if getattr(cause, "sqlstate", None) in RETRYABLE_STATES:
            return True
        cause = cause.__cause__
    return False


async def retry_on_race(operation: Callable[[], Awaitable[T]]) -> T:
    """Run `operation` (which owns its transaction) and, if a concurrent request with the same
    key won the race to a unique index, run it once more: the second run finds that request's
    row and answers as a replay. A second integrity error is real and propagates. A deadlock
    (rolled back whole) runs it again, up to twice."""
    for attempt in range(3):
        try:
            return await operation()
        except IntegrityError:
            return await operation()
        except DBAPIError as error:
            if attempt == 2 or not _retryable(error):
                raise
    raise AssertionError("unreachable")
