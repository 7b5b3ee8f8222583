"""Two-phase transfers, finished: a PENDING transfer is posted (the held points move for good)
or voided (they become available again) by exactly one POST or VOID transfer, whose key makes
a repeat answer the first. An exchange finishes its points and its fee together: on
PostgreSQL, the held debits of one member in one statement (`posting.finish_debits`); the
others, and a repeat, one at a time as below."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra import prepared
from infra.database import insert_unless_exists
from infra.models import transfers
from infra.records import TransferRow
from loyalty import posting
from loyalty.errors import InvalidState, NotFound, ValidationFailed
from loyalty.idempotency import earlier, request_hash
from loyalty.ledger import Phase, apply_to_member_accounts


async def post_pending(
    conn: AsyncConnection, pending_id: int, *, idempotency_key: str, now: datetime | None = None
) -> TransferRow:
    """Complete a PENDING transfer: the held points move for good."""
    [row] = await finish(conn, [(pending_id, idempotency_key)], Phase.POST, now=now)
    return row


async def void_pending(
    conn: AsyncConnection, pending_id: int, *, idempotency_key: str, now: datetime | None = None
) -> TransferRow:
    """Cancel a PENDING transfer: the held points become available to the debit account again."""
    [row] = await finish(conn, [(pending_id, idempotency_key)], Phase.VOID, now=now)
    return row


async def finish(
    conn: AsyncConnection,
    held: Sequence[tuple[int, str]],
    phase: Phase,
    *,
    member_id: int | None = None,
    now: datetime | None = None,
) -> list[TransferRow]:
    """POST or VOID each PENDING transfer in `held` (its id, and the key of the transfer that
    finishes it), in order; the finishing transfers. With `member_id`, those holding that
    member's points go in one statement on PostgreSQL."""
    now = now or datetime.now(UTC)
    done: dict[int, Any] = {}
    if member_id is not None and conn.dialect.name == "postgresql":
        found = await prepared.rows(conn, posting.finish_debits(phase), {
            "owner": member_id, "held": [pending_id for pending_id, _ in held],
            "keys": [key for _, key in held], "at": now,
            "hashes": [request_hash(pending_id=pending_id, phase=phase) for pending_id, _ in held],
        })  # fmt: skip
        done = {row.pending_id: row for row in found}
    return [
        done[pending_id] if pending_id in done else await _one(conn, pending_id, phase, key, now)
        for pending_id, key in held
    ]


async def _one(
    conn: AsyncConnection, pending_id: int, phase: Phase, idempotency_key: str, now: datetime
) -> Any:
    pending = (await conn.execute(select(transfers).where(transfers.c.id == pending_id))).first()
    if pending is None:
        raise NotFound(f"transfer {pending_id} does not exist")
    if pending.phase != Phase.PENDING:
        raise ValidationFailed(f"transfer {pending_id} is not a pending transfer")
    fingerprint = request_hash(pending_id=pending_id, phase=phase)
    row = await insert_unless_exists(conn, transfers, {
        "member_id": pending.member_id, "idempotency_key": idempotency_key,
        "debit_account_id": pending.debit_account_id,
        "credit_account_id": pending.credit_account_id, "amount": pending.amount,
        "phase": phase, "pending_id": pending_id, "reason": pending.reason,
        "reference": pending.reference, "partner_id": pending.partner_id,
        "request_hash": fingerprint, "created_at": now,
    })  # fmt: skip
    if row is None:
        by_key = await earlier(
            conn, transfers, fingerprint, idempotency_key,
            member_id=pending.member_id, idempotency_key=idempotency_key,
        )  # fmt: skip
        if by_key is not None:
            return by_key
        raise InvalidState(f"transfer {pending_id} was already posted or voided")
    await apply_to_member_accounts(conn, row, overdraft=0, carry_lots=True)
    return row
