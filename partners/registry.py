"""The partner registry: who the partners are, each with its clearing account in the ledger."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from infra.database import Database, insert_unless_exists
from infra.models import accounts, partners
from loyalty import ledger
from loyalty.errors import ValidationFailed
from loyalty.idempotency import check_replay, request_hash, retry_on_race

_CODE = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")


async def create_partner(db: Database, *, code: str, name: str, now: datetime | None = None) -> Any:
    """Register a partner under a unique code (its natural idempotency key)."""
    if not _CODE.fullmatch(code):
        raise ValidationFailed("a partner code is 2-64 lowercase letters, digits and dashes")
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("a partner name has 1 to 200 characters")

    async def attempt() -> Any:
        async with db.transaction() as conn:
            row = await insert_unless_exists(
                conn, partners, {"code": code, "name": name, "created_at": now or datetime.now(UTC)}
            )
            if row is None:
                existing = (
                    await conn.execute(select(partners).where(partners.c.code == code))
                ).one()
                check_replay(request_hash(name=existing.name), request_hash(name=name), code)
                return existing
            await conn.execute(
                insert(accounts).values(
                    id=ledger.partner_clearing_account(row.id), partner_id=row.id
                )
            )
            return row

    return await retry_on_race(attempt)


async def list_partners(db: Database, *, where: Any = None) -> list[Any]:
    """Partners by code; `where` narrows them (the caller's visibility)."""
    query = select(partners).order_by(partners.c.code)
    if where is not None:
        query = query.where(where)
    async with db.read() as conn:
        return list(await conn.execute(query))
