"""The audit log: who did what, through which client, with what outcome. Token issuance, client
changes, every GraphQL mutation and every console form write one row; `auditLog` (admin) and
the console's audit page read them. An action's row is written in the first transaction the
action commits (`Audited`), so an action that committed has its row, and one whose row could
not be written did not commit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import Token
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from auth.principal import Principal
from infra import prepared
from infra.database import Database, before_commit, is_transient
from infra.models import audit_log
from infra.partner_records import AuditEntryRow
from loyalty.errors import DomainError


def _trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


async def record(db: Database, principal: Principal, action: str, **details: Any) -> None:
    """One row in a transaction of its own (`details`: those of `insert_entry`)."""
    async with db.transaction() as conn:
        await insert_entry(conn, principal, action, **details)


_INSERT = (
    insert(audit_log)
    .values({name: bindparam(name, type_=audit_log.c[name].type) for name in (
        "at", "principal_kind", "subject", "client_id", "partner_id", "action", "target",
        "outcome", "trace_id")})
    .returning(audit_log.c.id)
)  # fmt: skip


# The subject and target columns are 200 characters (infra.models.access).
SUBJECT_LENGTH = 200


def storable(text: str) -> str:
    """What a caller typed, as a text column holds it: at most its length, NUL (which
    PostgreSQL's text refuses) as U+FFFD, an unpaired surrogate as its escape."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\ufffd")
    return text[:SUBJECT_LENGTH]


async def insert_entry(
    conn: AsyncConnection,
    principal: Principal,
    action: str,
    *,
    target: str | None = None,
    outcome: str = "OK",
    now: datetime | None = None,
) -> int:
    """One row in the caller's transaction; its id. What a caller typed (a subject, a target)
    is made storable (`storable`): an audit row never fails for what was typed (a NUL in a
    client id at the token endpoint was a 500, found by the HTTP fuzz test)."""
    (entry,) = await prepared.rows(conn, _INSERT, {
        "at": now or datetime.now(UTC), "principal_kind": principal.kind,
        "subject": storable(principal.subject), "client_id": principal.client_id,
        "partner_id": principal.partner_id, "action": action,
        "target": None if target is None else storable(target),
        "outcome": outcome, "trace_id": _trace_id(),
    })  # fmt: skip
    return int(entry[0])


async def set_outcome(conn: AsyncConnection, entry_id: int, outcome: str) -> None:
    await conn.execute(update(audit_log).where(audit_log.c.id == entry_id).values(outcome=outcome))


async def entries(
    db: Database,
    *,
    limit: int,
    before_id: int | None = None,
    action: str | None = None,
    subject: str | None = None,
) -> list[AuditEntryRow]:
    """Newest first."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if subject is not None:
        query = query.where(audit_log.c.subject == subject)
    async with db.read() as conn:
        return list(await conn.execute(query))


log = logging.getLogger("pointgate.audit")


class Audited:
    """One action's row: written inside the first transaction the action commits (through
    `infra.database.before_commit`, from `start()` until `finish()`). An action that committed
    nothing (refused, failed) gets its row in `finish`, in a transaction of its own; one that
    failed after committing has its row's outcome corrected there."""

    def __init__(
        self, db: Database, principal: Principal, action: str, target: str | None = None
    ) -> None:
        self.db, self.principal, self.action, self.target = db, principal, action, target
        self.entry_id: int | None = None
        # How the action ended, when it did not raise (a refused form: REFUSED).
        self.outcome = "OK"
        self._token: Token[Callable[..., Any] | None] | None = None

    async def write_in(self, conn: AsyncConnection) -> None:
        if self.entry_id is None:
            self.entry_id = await insert_entry(conn, self.principal, self.action,
                                               target=self.target)  # fmt: skip

    def start(self) -> None:
        self._token = before_commit.set(self.write_in)

    async def finish(self, outcome: str) -> None:
        if self._token is not None:
            before_commit.reset(self._token)
            self._token = None
        if self.entry_id is not None and outcome == "OK":
            return
        try:
            async with self.db.transaction() as conn:
                if self.entry_id is None:
                    await insert_entry(conn, self.principal, self.action, target=self.target,
                                       outcome=outcome)  # fmt: skip
                else:
                    await set_outcome(conn, self.entry_id, outcome)
        except Exception as error:  # the database may be the reason the action failed
            if not is_transient(error):
                raise
            log.warning("audit row for %s not written: %s", self.action, error)


def _code(error: BaseException) -> str:
    return error.code if isinstance(error, DomainError) else "INTERNAL_ERROR"


@asynccontextmanager
async def audited(
    db: Database,
    principal: Principal,
    action: str,
    target: str | None = None,
    *,
    outcome_of: Callable[[BaseException], str] = _code,
) -> AsyncIterator[Audited]:
    """The block's action with its row (`Audited`): written in its first commit. A block that
    raised gets `outcome_of(error)` (a refusal's code, else INTERNAL_ERROR); one that ended
    finishes with the entry's `outcome` (OK unless the block said otherwise)."""
    entry = Audited(db, principal, action, target)
    entry.start()
    try:
        yield entry
    except Exception as error:
        await entry.finish(outcome_of(error))
        raise
    await entry.finish(entry.outcome)
