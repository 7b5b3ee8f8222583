"""An exchange's states and the moves between them: each move is an `exchange_events` row and a
webhook delivery per subscription of the partner, in the transaction that makes it; an exchange
opens with its transfers in one function, and ends (POSTED or VOIDED) with them posted or
voided in the same transaction."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import String, bindparam, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra import prepared
from infra.models import (
    exchange_events,
    exchanges,
    identities,
    webhook_deliveries,
    webhook_subscriptions,
)
from infra.partner_records import ExchangeRow
from infra.types import UtcDateTime
from loyalty import ledger, live, pending
from loyalty.ledger import AccountId, Phase, TransferCode
from partners.exchange.moves import move_with_events, open_with_events


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
    exchange: Any,
    to_state: ExchangeState,
    reason: str,
    now: datetime,
    *,
    from_states: tuple[ExchangeState, ...],
    also: dict[str, Any] | None = None,
) -> ExchangeRow | None:
    """Move `exchange` (its row, as it was opened) to `to_state` if it is in one of
    `from_states` (setting `also` with it), record the event and queue the webhooks. Returns
    the row, or None if another process settled it first."""
    also = also or {}
    if conn.dialect.name == "postgresql":
        found = await prepared.rows(conn, move_with_events(from_states, tuple(sorted(also))), {
            "exchange": exchange.id, "to_state": to_state, "at": now, **also,
            **_step_values(exchange, [(None, to_state, reason)], now),
        })  # fmt: skip
        return prepared.leading(found[0], len(exchanges.c)) if found else None
    row = (
        await conn.execute(
            update(exchanges)
            .where(exchanges.c.id == exchange.id, exchanges.c.state.in_(from_states))
            .values(state=to_state, updated_at=now, **also)
            .returning(*exchanges.c)
        )
    ).first()
    if row is None:
        return None
    # The state column is the last event's: with one state possible before, it is that one.
    previous = from_states[0] if len(from_states) == 1 else await conn.scalar(
        select(exchange_events.c.to_state)
        .where(exchange_events.c.exchange_id == exchange.id)
        .order_by(exchange_events.c.id.desc())
        .limit(1)
    )  # fmt: skip
    await _record_events(conn, row, [(previous, to_state, reason)], now)
    return row


Step = tuple[str | None, str, str]  # from state, to state, reason


async def _record_events(conn: AsyncConnection, row: Any, steps: list[Step], now: datetime) -> None:
    """The exchange's events (from, to, reason) and, for each, a webhook delivery queued for
    every active subscription of its partner (an INSERT ... SELECT: no read first)."""
    await conn.execute(_EVENT, [
        {"member_id": row.member_id, "exchange_id": row.id, "from_state": previous,
         "to_state": state, "reason": reason, "at": now}
        for previous, state, reason in steps
    ])  # fmt: skip
    await conn.execute(_QUEUE, [
        {"partner": row.partner_id, "at": now, "payload": _payload(row, state, reason, now)}
        for _previous, state, reason in steps
    ])  # fmt: skip
    for previous, state, reason in steps:
        await live.record(
            conn, live.Kind.EXCHANGE, now, member_id=row.member_id, partner_id=row.partner_id,
            subject=str(row.id), state=state, points=row.points,
            body={"from": previous, "reason": reason, "direction": row.direction,
                  "units": row.units},
        )  # fmt: skip


def _payload(row: Any, state: str, reason: str, now: datetime) -> str:
    """The webhook's body for the exchange's move to `state`."""
    return orjson.dumps({
        "event": "exchange.state_changed", "exchange_id": row.id, "state": state,
        "direction": row.direction, "points": row.points, "units": row.units,
        "account": row.external_account, "reason": reason, "at": now.isoformat(),
    }).decode()  # fmt: skip


def _step_values(row: Any, steps: list[Step], now: datetime) -> dict[str, Any]:
    """The events' parameters of a partners.exchange.moves statement."""
    values: dict[str, Any] = {}
    for n, (previous, state, reason) in enumerate(steps):
        values.update({f"from_{n}": previous, f"to_{n}": state, f"reason_{n}": reason,
                       f"payload_{n}": _payload(row, state, reason, now)})  # fmt: skip
    return values


_EVENT = insert(exchange_events)
_QUEUE = insert(webhook_deliveries).from_select(
    ["subscription_id", "event", "payload", "status", "next_attempt_at", "created_at"],
    select(
        webhook_subscriptions.c.id, literal("exchange.state_changed"),
        bindparam("payload", type_=String()), literal("PENDING"),
        bindparam("at", type_=UtcDateTime()), bindparam("at", type_=UtcDateTime()),
    ).where(
        webhook_subscriptions.c.partner_id == bindparam("partner"),
        webhook_subscriptions.c.active == 1,
    ),
)  # fmt: skip


async def settle(
    conn: AsyncConnection,
    exchange: Any,
    to_state: ExchangeState,
    reason: str,
    now: datetime,
    also: dict[str, Any] | None = None,
) -> ExchangeRow:
    """POSTED or VOIDED, with the pending transfers posted or voided in the same transaction.
    Settling an exchange that is already settled answers its current state."""
    changed = await transition(conn, exchange, to_state, reason, now, from_states=OPEN_STATES,
                               also=also)  # fmt: skip
    if changed is None:
        return (await conn.execute(select(exchanges).where(exchanges.c.id == exchange.id))).one()
    phase = Phase.POST if to_state is ExchangeState.POSTED else Phase.VOID
    held = [transfer_id for transfer_id in (exchange.transfer_id, exchange.fee_transfer_id)
            if transfer_id is not None]  # fmt: skip
    await pending.finish(conn, [(transfer_id, f"transfer:{transfer_id}:{phase.lower()}")
                                for transfer_id in held],
                         phase, member_id=exchange.member_id, now=now)  # fmt: skip
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
) -> ExchangeRow:
    """Move the exchange's points and its fee, and record it REQUESTED then `movement.opened`
    (both events): one sequence for both directions, in the caller's transaction."""
    exchange_id = uuid.uuid4().hex
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
    values = {
        "id": exchange_id,
        "state": movement.opened,
        "created_at": now,
        "updated_at": now,
        "transfer_id": moved.id,
        "fee_transfer_id": fee_id,
        **asdict(opening),
    }
    steps: list[Step] = [
        (None, ExchangeState.REQUESTED, movement.requested),
        (ExchangeState.REQUESTED, movement.opened, movement.opened_reason),
    ]
    if conn.dialect.name == "postgresql":
        opening_row = SimpleNamespace(**values)
        found = await prepared.rows(conn, open_with_events(len(steps)), {
            "at": now, **{f"new_{name}": value for name, value in values.items()},
            **_step_values(opening_row, steps, now),
        })  # fmt: skip
        return prepared.leading(found[0], len(exchanges.c))  # type: ignore[no-any-return]
    row = (await conn.execute(insert(exchanges).values(values).returning(*exchanges.c))).one()
    await _record_events(conn, row, steps, now)
    return row
