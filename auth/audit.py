"""The audit log: who did what, through which client, with what outcome. Token issuance, client
changes and every GraphQL mutation write one row; `auditLog` (admin) reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from auth.principal import Principal
from infra.database import Database
from infra.models import audit_log


def _trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


async def record(db: Database, principal: Principal, action: str, **details: Any) -> None:
    """One row in a transaction of its own (`details`: those of `insert_entry`)."""
    async with db.transaction() as conn:
        await insert_entry(conn, principal, action, **details)


_INSERT = insert(audit_log).returning(audit_log.c.id)


# The subject and target columns are 200 characters (infra.models.access).
SUBJECT_LENGTH = 200


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
    is kept to its column's length: an audit row never fails for a long input."""
    entry_id: int = (
        await conn.execute(_INSERT, {
            "at": now or datetime.now(UTC), "principal_kind": principal.kind,
            "subject": principal.subject[:SUBJECT_LENGTH], "client_id": principal.client_id,
            "partner_id": principal.partner_id, "action": action,
            "target": None if target is None else target[:SUBJECT_LENGTH],
            "outcome": outcome, "trace_id": _trace_id(),
        })
    ).scalar_one()  # fmt: skip
    return entry_id


async def set_outcome(conn: AsyncConnection, entry_id: int, outcome: str) -> None:
    await conn.execute(update(audit_log).where(audit_log.c.id == entry_id).values(outcome=outcome))


async def entries(
    db: Database,
    *,
    limit: int,
    before_id: int | None = None,
    action: str | None = None,
    subject: str | None = None,
) -> list[Any]:
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
