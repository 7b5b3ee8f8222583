"""Reconciliation: ask the partner about every UNKNOWN exchange and every RESERVED one that has
waited too long, and settle it. A status query fences the id at the partner, so "not found"
can be voided safely; settling is conditional on the exchange still being open, so replicas
may reconcile at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from infra.database import Database
from infra.models import exchanges
from infra.partner_records import ExchangeRow
from infra.progress import Progress, quiet
from partners.connector import ConnectorError, Outcome
from partners.directory import ConnectorDirectory
from partners.exchange.state import ExchangeState, settle
from partners.registry import find_partner


async def needing_attention(
    db: Database, *, stale_after: timedelta, now: datetime, limit: int | None = None
) -> list[ExchangeRow]:
    """UNKNOWN exchanges, and RESERVED ones not settled within `stale_after`, oldest first."""
    query = (
        select(exchanges)
        .where((exchanges.c.state == ExchangeState.UNKNOWN)
               | ((exchanges.c.state == ExchangeState.RESERVED)
                  & (exchanges.c.updated_at <= now - stale_after)))
        .order_by(exchanges.c.updated_at)
        .limit(limit)
    )  # fmt: skip
    async with db.read() as conn:
        return list(await conn.execute(query))


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    checked: int
    posted: int
    voided: int
    still_open: int


async def reconcile(
    db: Database,
    directory: ConnectorDirectory,
    *,
    stale_after: timedelta = timedelta(minutes=5),
    deadline: float = 10.0,
    now: datetime | None = None,
    progress: Progress = quiet,
) -> ReconcileReport:
    """Settle what the partners say of UNKNOWN exchanges and of RESERVED ones older than
    `stale_after` (their process died, or is still waiting on the partner)."""
    now = now or datetime.now(UTC)
    candidates = await needing_attention(db, stale_after=stale_after, now=now)
    posted = voided = still_open = 0
    progress(0, total=len(candidates))
    for exchange in candidates:
        progress()
        connector = directory.for_partner(await find_partner(db, exchange.partner_id))
        try:
            answer = await asyncio.wait_for(connector.status(exchange.id), deadline)
        except (ConnectorError, TimeoutError):
            still_open += 1
            continue
        state = ExchangeState.POSTED if answer.outcome is Outcome.APPLIED else ExchangeState.VOIDED
        reason = f"reconciled: the partner says {answer.outcome}"
        async with db.transaction() as conn:
            row = await settle(conn, exchange, state, reason, now)
        if row.state == ExchangeState.POSTED:
            posted += 1
        elif row.state == ExchangeState.VOIDED:
            voided += 1
    return ReconcileReport(
        checked=len(candidates), posted=posted, voided=voided, still_open=still_open
    )
