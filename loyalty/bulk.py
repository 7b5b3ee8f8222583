"""The ledger's bulk loader, for demo and benchmark data: many posted credits into member
accounts at once, each with its transfer, its expiry lot and its share of the account's totals,
exactly as `ledger.transfer` would leave them (`books.verify` holds after a load), in a few
statements per chunk instead of several per transfer.

Only credits from program or partner accounts into member accounts with balances of zero or
more: those need no cover check and pay back no negative balance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import accounts, point_lots, transfers
from infra.progress import Progress, quiet
from loyalty.ledger import AccountId, Phase, TransferCode, is_member_account

CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class Credit:
    idempotency_key: str
    debit: AccountId
    member_id: int
    amount: int
    code: TransferCode
    reference: str | None
    partner_id: int | None
    at: datetime


def chunks(rows: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(rows), CHUNK):
        yield list(rows[start : start + CHUNK])


async def next_id(conn: AsyncConnection, table: Any) -> int:
    return int(await conn.scalar(select(func.coalesce(func.max(table.c.id), 0)))) + 1


async def sync_sequence(conn: AsyncConnection, table: Any) -> None:
    """Explicit ids bypass PostgreSQL's sequence; move it past them for later inserts."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT max(id) FROM {table.name}))"
            )
        )


async def credit_members(
    conn: AsyncConnection, credits: Sequence[Credit], progress: Progress = quiet
) -> None:
    """Post `credits` (see the module's note for which), in the caller's transaction
    (progress: per credit posted)."""
    if any(is_member_account(c.debit) or c.amount <= 0 for c in credits):
        raise ValueError("bulk credits move a positive amount from a program or partner account")
    first = await next_id(conn, transfers)
    transfer_rows, lot_rows = [], []
    totals: dict[int, int] = defaultdict(int)
    for offset, credit in enumerate(credits):
        transfer_rows.append(
            {"member_id": credit.member_id, "id": first + offset,
             "idempotency_key": credit.idempotency_key,
             "debit_account_id": credit.debit, "credit_account_id": f"member:{credit.member_id}",
             "amount": credit.amount, "phase": Phase.SINGLE, "reason": credit.code,
             "reference": credit.reference, "partner_id": credit.partner_id,
             "request_hash": "bulk", "created_at": credit.at}
        )  # fmt: skip
        lot_rows.append(
            {"member_id": credit.member_id, "transfer_id": first + offset,
             "points": credit.amount, "remaining": credit.amount, "earned_at": credit.at}
        )  # fmt: skip
        totals[credit.member_id] += credit.amount
    for chunk in chunks(transfer_rows):
        await conn.execute(insert(transfers), chunk)
    await sync_sequence(conn, transfers)
    for chunk in chunks(lot_rows):
        await conn.execute(insert(point_lots), chunk)
        progress(len(chunk))
    add = (
        update(accounts)
        .where(accounts.c.member_id == bindparam("member"))
        .values(posted_credits=accounts.c.posted_credits + bindparam("points"))
    )
    for chunk in chunks([{"member": m, "points": p} for m, p in totals.items()]):
        await conn.execute(add, chunk)
