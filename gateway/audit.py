"""Every GraphQL mutation goes into the audit log with the principal that asked for it, and a
mutation that committed always has its row: the row is written inside the first transaction the
mutation commits (through `infra.database.before_commit`). A mutation that committed nothing
(refused, failed) gets its row afterwards, in a transaction of its own; one that failed after
committing has its row's outcome corrected."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.extensions import FieldExtension

from auth import audit
from auth.principal import Principal
from infra.database import Database, before_commit, is_transient
from loyalty.errors import DomainError

log = logging.getLogger("pointgate.audit")


def outcome_of(error: BaseException) -> str:
    if isinstance(error, DomainError):
        return error.code
    if isinstance(error, GraphQLError):
        code = (error.extensions or {}).get("code")
        return str(code) if code else outcome_of(error.original_error or Exception())
    return "SERVICE_UNAVAILABLE" if is_transient(error) else "INTERNAL_SERVER_ERROR"


class _PendingEntry:
    def __init__(self, db: Database, principal: Principal, action: str) -> None:
        self.db, self.principal, self.action = db, principal, action
        self.entry_id: int | None = None

    async def write_in(self, conn: AsyncConnection) -> None:
        if self.entry_id is None:
            self.entry_id = await audit.insert_entry(conn, self.principal, self.action)

    async def finish(self, outcome: str) -> None:
        if self.entry_id is not None and outcome == "OK":
            return
        try:
            async with self.db.transaction() as conn:
                if self.entry_id is None:
                    await audit.insert_entry(conn, self.principal, self.action, outcome=outcome)
                else:
                    await audit.set_outcome(conn, self.entry_id, outcome)
        except Exception as error:  # the database may be the reason the mutation failed
            if not is_transient(error):
                raise
            log.warning("audit row for %s not written: %s", self.action, error)


class AuditMutation(FieldExtension):
    """On every root mutation field (added by `gateway.app.build_schema`)."""

    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        raise TypeError("mutations are resolved asynchronously")

    async def resolve_async(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        context = info.context
        entry = _PendingEntry(context.db, context.principal, f"mutation.{info.field_name}")
        token = before_commit.set(entry.write_in)
        try:
            result = await next_(source, info, **kwargs)
        except Exception as error:
            before_commit.reset(token)
            await entry.finish(outcome_of(error))
            raise
        before_commit.reset(token)
        await entry.finish("OK")
        return result
