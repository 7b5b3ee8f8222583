"""An exchange's states and the moves between them: each move is an `exchange_events` row and a
webhook delivery per subscription of the partner, in the transaction that makes it; an exchange
opens with its transfers in one function, and ends (POSTED or VOIDED) with them posted or
voided in the same transaction."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import (
    exchange_events,
    exchanges,
    identities,
    webhook_deliveries,
    webhook_subscriptions,
)
from loyalty import ledger
from loyalty.ledger import AccountId, TransferCode


class ExchangeState(StrEnum):
    REQUESTED = "REQUESTED"
    RESERVED = "RESERVED"
    POSTED = "POSTED"
    VOIDED = "VOIDED"
    UNKNOWN = "UNKNOWN"


OPEN_STATES = (ExchangeState.RESERVED, ExchangeState.UNKNOWN)


async def external_account(conn: AsyncConnection, member_id: int, partner_id: int) -> str | None:
    """The member's account in the partner's program."""
    value: str | None = await conn.scalar(
        select(identities.c.value).where(
            identities.c.member_id == member_id,
            identities.c.kind == "PARTNER_ACCOUNT",
            identities.c.partner_id == partner_id,
        )
    )
    return value


async def transition(
    conn: AsyncConnection,
    exchange_id: str,
    to_state: ExchangeState,
    reason: str,
    now: datetime,
    *,
    from_states: tuple[ExchangeState, ...] | None,
) -> Any | None:
    """Move to `to_state` if the exchange is in one of `from_states` (None: a new exchange);
    record the event and queue the webhooks. Returns the row, or None if another process
    settled it first."""
    query = update(exchanges).where(exchanges.c.id == exchange_id)
    if from_states is not None:
        query = query.where(exchanges.c.state.in_(from_states))
    row = (
        await conn.execute(query.values(state=to_state, updated_at=now).returning(*exchanges.c))
    ).first()
    if row is None:
        return None
    previous = (
        None
        if from_states is None
        else await conn.scalar(
            select(exchange_events.c.to_state)
            .where(exchange_events.c.exchange_id == exchange_id)
            .order_by(exchange_events.c.id.desc())
            .limit(1)
        )
    )
    await conn.execute(
        insert(exchange_events).values(
            exchange_id=exchange_id, from_state=previous, to_state=to_state, reason=reason, at=now
        )
    )
    await _queue_webhooks(conn, row, to_state, reason, now)
    return row


async def _queue_webhooks(
    conn: AsyncConnection, row: Any, state: ExchangeState, reason: str, now: datetime
) -> None:
    payload = orjson.dumps(
        {
            "event": "exchange.state_changed", "exchange_id": row.id, "state": state,
            "direction": row.direction, "points": row.points, "units": row.units,
            "account": row.external_account, "reason": reason, "at": now.isoformat(),
        }
    ).decode()  # fmt: skip
    subscriptions = await conn.scalars(
        select(webhook_subscriptions.c.id).where(
            webhook_subscriptions.c.partner_id == row.partner_id,
            webhook_subscriptions.c.active == 1,
        )
    )
    deliveries = [
        {"subscription_id": sub, "event": "exchange.state_changed", "payload": payload,
         "status": "PENDING", "next_attempt_at": now, "created_at": now}
        for sub in subscriptions
    ]  # fmt: skip
    if deliveries:
        await conn.execute(insert(webhook_deliveries), deliveries)


async def settle(
    conn: AsyncConnection, exchange: Any, to_state: ExchangeState, reason: str, now: datetime
) -> Any:
    """POSTED or VOIDED, with the pending transfers posted or voided in the same transaction.
    Settling an exchange that is already settled answers its current state."""
    changed = await transition(conn, exchange.id, to_state, reason, now, from_states=OPEN_STATES)
    if changed is None:
        return (await conn.execute(select(exchanges).where(exchanges.c.id == exchange.id))).one()
    finish = ledger.post_pending if to_state is ExchangeState.POSTED else ledger.void_pending
    suffix = "post" if to_state is ExchangeState.POSTED else "void"
    for transfer_id in (exchange.transfer_id, exchange.fee_transfer_id):
        if transfer_id is not None:
            await finish(
                conn, transfer_id, idempotency_key=f"transfer:{transfer_id}:{suffix}", now=now
            )
    return changed


@dataclass(frozen=True, slots=True)
class Opening:
    """What an exchange is when it opens (the `exchanges` columns it starts with)."""

    idempotency_key: str
    member_id: int
    partner_id: int
    direction: str
    points: int
    units: int
    rate: Any
    fee_points: int
    external_account: str
    request_hash: str
    quote_id: str | None = None
    partner_reference: str | None = None


@dataclass(frozen=True, slots=True)
class Movement:
    """The points an exchange moves when it opens, held (`pending`) until it ends or at once."""

    debit: AccountId
    credit: AccountId
    code: TransferCode
    fee_points: int
    pending: bool
    requested: str
    opened: ExchangeState
    opened_reason: str


async def open_exchange(
    conn: AsyncConnection, opening: Opening, movement: Movement, now: datetime
) -> Any:
    """Insert the exchange (REQUESTED), move its points and its fee, and take it to
    `movement.opened`: one sequence for both directions, in the caller's transaction."""
    exchange_id = uuid.uuid4().hex
    await conn.execute(
        insert(exchanges).values(
            id=exchange_id, state=ExchangeState.REQUESTED, created_at=now, updated_at=now,
            **asdict(opening),
        )
    )  # fmt: skip
    await transition(
        conn, exchange_id, ExchangeState.REQUESTED, movement.requested, now, from_states=None
    )
    step = "reserve" if movement.pending else "credit"
    moved = await ledger.transfer(
        conn, idempotency_key=f"exchange:{exchange_id}:{step}", debit=movement.debit,
        credit=movement.credit, amount=opening.points, reason=movement.code,
        reference=f"exchange:{exchange_id}", partner_id=opening.partner_id,
        pending=movement.pending, now=now,
    )  # fmt: skip
    fee_id = None
    if movement.fee_points:
        fee = await ledger.transfer(
            conn, idempotency_key=f"exchange:{exchange_id}:fee",
            debit=ledger.member_account(opening.member_id), credit=ledger.ISSUANCE,
            amount=movement.fee_points, reason=TransferCode.EXCHANGE_FEE,
            reference=f"exchange:{exchange_id}", partner_id=opening.partner_id,
            pending=movement.pending, now=now,
        )  # fmt: skip
        fee_id = fee.id
    await conn.execute(
        update(exchanges)
        .where(exchanges.c.id == exchange_id)
        .values(transfer_id=moved.id, fee_transfer_id=fee_id)
    )
    return await transition(
        conn, exchange_id, movement.opened, movement.opened_reason, now,
        from_states=(ExchangeState.REQUESTED,),
    )  # fmt: skip
