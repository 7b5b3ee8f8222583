"""Live events: what members' apps and partners' systems follow by subscription (points moving
on an account, an exchange changing state, a statement closed, a coupon issued, a tier changed,
a benefit granted). Each is a row of `live_events` written by the transaction that makes the
change, inside the ledger's and exchanges' own statements where they are one statement on
PostgreSQL (loyalty.posting, partners.exchange.moves), so an event exists exactly when its
change committed. PostgreSQL NOTIFYs each row at commit (a trigger, migration 0021) and every
process hears it on `CHANNEL`; SQLite processes read new rows by id. Rows are kept `KEPT` for
subscribers that reconnect with the last event they saw (`after`), then pruned."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import BigInteger, String, cast, delete, insert, literal, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import live_events

CHANNEL = "pointgate_live"
# How long events are kept for a subscriber that reconnects (its missed events are replayed).
KEPT = timedelta(minutes=10)
# At most this many missed events are replayed to one subscriber.
REPLAY_LIMIT = 1_000


class Kind(StrEnum):
    POINTS = "POINTS"
    EXCHANGE = "EXCHANGE"
    STATEMENT = "STATEMENT"
    COUPON = "COUPON"
    TIER = "TIER"
    BENEFIT = "BENEFIT"


@dataclass(frozen=True, slots=True)
class LiveEvent:
    id: int
    kind: Kind
    at: datetime
    member_id: int | None = None
    partner_id: int | None = None
    subject: str | None = None
    state: str | None = None
    points: int | None = None
    balance: int | None = None
    body: dict[str, Any] = field(default_factory=dict)


COLUMNS = ("at", "kind", "member_id", "partner_id", "subject", "state", "points", "balance",
           "body")  # fmt: skip


def from_row(row: Any) -> LiveEvent:
    return LiveEvent(
        id=int(row.id), kind=Kind(row.kind), at=row.at, member_id=row.member_id,
        partner_id=row.partner_id, subject=row.subject, state=row.state, points=row.points,
        balance=row.balance, body=orjson.loads(row.body) if row.body else {},
    )  # fmt: skip


def from_notice(payload: str) -> LiveEvent:
    """An event as PostgreSQL's trigger announced it (the row as JSON)."""
    row = orjson.loads(payload)
    return LiveEvent(
        id=int(row["id"]), kind=Kind(row["kind"]), at=datetime.fromisoformat(row["at"]),
        member_id=row["member_id"], partner_id=row["partner_id"], subject=row["subject"],
        state=row["state"], points=row["points"], balance=row["balance"],
        body=orjson.loads(row["body"]) if row["body"] else {},
    )  # fmt: skip


def _body(body: dict[str, Any] | None) -> str | None:
    return orjson.dumps(body, default=str).decode() if body else None


async def record(
    conn: AsyncConnection,
    kind: Kind,
    at: datetime,
    *,
    member_id: int | None = None,
    partner_id: int | None = None,
    subject: str | None = None,
    state: str | None = None,
    points: int | None = None,
    balance: int | None = None,
    body: dict[str, Any] | None = None,
) -> None:
    """One event, in the caller's transaction."""
    await conn.execute(insert(live_events).values(
        at=at, kind=kind, member_id=member_id, partner_id=partner_id, subject=subject,
        state=state, points=points, balance=balance, body=_body(body),
    ))  # fmt: skip


def available_change(phase: str, is_debit: bool, amount: int) -> int:
    """How a transfer's side changes the member's available balance (posted credits less
    posted and pending debits): a debit held or posted at once takes it, a void gives it back,
    posting a held debit changes nothing; only posted credits add."""
    if is_debit:
        return {"SINGLE": -amount, "PENDING": -amount, "VOID": amount}.get(phase, 0)
    return amount if phase in ("SINGLE", "POST") else 0


def transfer_events(transfer: Any, account: Any, member: Any, points: Any, balance: Any) -> Any:
    """The POINTS events of the transfers in `transfer` (a CTE of transfers' rows) on the
    member account changed by `account` (the CTE of its UPDATE, one row), as a CTE for the
    ledger's one-statement paths: `member`, `points` and `balance` are expressions over both."""
    chosen = select(
        transfer.c.created_at,
        literal(Kind.POINTS.value),
        member,
        transfer.c.partner_id,
        cast(transfer.c.id, String),
        transfer.c.reason,
        cast(points, BigInteger),
        cast(balance, BigInteger),
        literal('{"phase":"') + transfer.c.phase + literal('"}'),
    ).select_from(transfer.join(account, true()))
    return insert(live_events).from_select(list(COLUMNS), chosen).cte("live")


async def after(conn: AsyncConnection, last: int, limit: int = REPLAY_LIMIT) -> list[LiveEvent]:
    """Events with an id above `last` still kept (pruning keeps `KEPT`), oldest first."""
    rows = await conn.execute(
        select(live_events).where(live_events.c.id > last).order_by(live_events.c.id).limit(limit)
    )
    return [from_row(row) for row in rows]


async def prune(conn: AsyncConnection, before: datetime) -> int:
    """Forget events older than `before` (nobody replays them any more)."""
    result = await conn.execute(delete(live_events).where(live_events.c.at < before))
    return int(result.rowcount or 0)
