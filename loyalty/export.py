"""A member's copy of its data (docs/privacy.md, "Export"): one JSON document with its record and
every row the program holds about it, read in one transaction (a consistent snapshot).

What it covers is read from the model's metadata: every table with a `member_id` column is
exported whole for the member (its consents, identities, purchases, ledger, lots, coupons,
grants, redemptions, exchanges and their events, quotes, interactions, tier history, awards),
but for those named in `NOT_EXPORTED` with the reason; a new table holding members' rows is
therefore exported without anyone remembering to add it. Whom it referred is exported as the
summaries the member may see anyway (display name, when), never the referees' own data."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import identities, members, metadata
from loyalty import sealing
from loyalty.errors import NotFound

FORMAT = "pointgate.member-export/1"

# Tables with members' rows that are not the member's data, and why.
NOT_EXPORTED = {
    "member_keys": "an index of keys held in the member's other rows (identities, codes, "
    "orders), nothing of its own",
    "statement_transfers": "which partner statement billed a transfer: the partner's "
    "bookkeeping (the transfer itself is exported)",
}
# Columns that are the program's internal bookkeeping, not the member's data.
INTERNAL_COLUMNS = frozenset({"request_hash", "enrollment_key", "tier_reviewed_at", "sealed"})


def member_tables() -> Iterator[Table]:
    """The tables holding members' rows (a `member_id` column), in dependency order."""
    for table in metadata.sorted_tables:
        if "member_id" in table.c and table.name not in NOT_EXPORTED:
            yield table


def _plain(value: Any) -> Any:
    """A column's value as JSON holds it: exact amounts as strings, instants in ISO 8601."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _row(row: Any) -> dict[str, Any]:
    return {key: _plain(value) for key, value in row._mapping.items()
            if key not in INTERNAL_COLUMNS}  # fmt: skip


async def _rows(conn: AsyncConnection, table: Table, member_id: int) -> list[dict[str, Any]]:
    order = [c for c in table.primary_key.columns if c.name != "member_id"]
    found = await conn.execute(select(table).where(table.c.member_id == member_id).order_by(*order))
    if table is identities:  # the value as the member gave it (sealed at rest: loyalty.sealing)
        return [_row(row) | {"value": sealing.shown(row)} for row in found]
    return [_row(row) for row in found]


async def export_member(
    db: Database, member_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the program holds about the member (NOT_FOUND for no such member); whether the
    caller may have it is the policy's to say before (auth.privacy.may_export)."""
    async with db.transaction() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot for every table (SQLite: its own)
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        record = (await conn.execute(select(members).where(members.c.id == member_id))).first()
        if record is None:
            raise NotFound(f"member {member_id} does not exist")
        referees = await conn.execute(
            select(members.c.display_name, members.c.referred_at)
            .where(members.c.referred_by == member_id).order_by(members.c.id)
        )  # fmt: skip
        tables = {table.name: await _rows(conn, table, member_id) for table in member_tables()}
    return {
        "format": FORMAT,
        "exportedAt": _plain(now or datetime.now(UTC)),
        "member": _row(record),
        "referees": [_row(row) for row in referees],
        "tables": tables,
        "notExported": NOT_EXPORTED,
    }
