"""Billable API usage: one row per admitted partner operation."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert

from infra.database import Database
from infra.models import api_calls


async def record_api_call(
    db: Database, *, partner_id: int, client_id: str | None, at: datetime | None = None
) -> None:
    """One billable API transaction of a partner's client."""
    async with db.transaction() as conn:
        await conn.execute(
            insert(api_calls).values(
                partner_id=partner_id, client_id=client_id, at=at or datetime.now(UTC)
            )
        )
