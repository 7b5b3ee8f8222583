"""How an exchange's moves are written on PostgreSQL, each in one statement built once: the
exchange's row (opened, or moved to its next state), its events, a webhook delivery per event
for every active subscription of its partner, and the live events (loyalty.live) (data-modifying
CTEs).
partners.exchange.state does the same one step at a time on SQLite. Parameters: `at`, and per
event `to_<n>`, `reason_<n>`, `payload_<n>` (and `from_<n>` when opening); opening takes the
exchange's columns prefixed `new_`, a move `exchange`, `to_state` and its `also` columns."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy import update as sql_update

from infra.models import (
    exchange_events,
    exchanges,
    live_events,
    webhook_deliveries,
    webhook_subscriptions,
)
from infra.types import UtcDateTime
from loyalty import live

_AT = bindparam("at", type_=UtcDateTime())
_UNION_ALL: Any = union_all  # (typed as Any: mypy 2.4 crashes on its signature's Unpack)


@functools.cache
def open_with_events(events: int) -> Any:
    """A new exchange (all its columns given) and its first `events` events."""
    row = (
        insert(exchanges)
        .values({column.name: bindparam(f"new_{column.name}", type_=column.type)
                 for column in exchanges.c})
        .returning(*exchanges.c)
        .cte("opened")
    )  # fmt: skip
    return _with_events(row, _steps(events, lambda n: bindparam(f"from_{n}", type_=String())))


@functools.cache
def move_with_events(from_states: tuple[str, ...], also: tuple[str, ...]) -> Any:
    """Exchange `exchange` to `to_state` if it is in one of `from_states` (with the columns in
    `also`), and its event from the state it left (its last event's: the state column is the
    last event's). No row: it was not in those states."""
    previous = (
        select(exchange_events.c.to_state)
        .where(exchange_events.c.exchange_id == exchanges.c.id)
        .order_by(exchange_events.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    row = (
        sql_update(exchanges)
        .where(exchanges.c.id == bindparam("exchange"), exchanges.c.state.in_(from_states))
        .values(state=bindparam("to_state", type_=String()), updated_at=_AT,
                **{name: bindparam(name, type_=exchanges.c[name].type) for name in also})
        .returning(*exchanges.c, previous.label("previous"))
        .cte("moved")
    )  # fmt: skip
    return _with_events(row, _steps(1, lambda n: row.c.previous))


def _steps(events: int, from_state: Any) -> list[Any]:
    return [
        select(from_state(n).label("from_state"), bindparam(f"to_{n}", type_=String()).label(
            "to_state"), bindparam(f"reason_{n}", type_=String()).label("reason"),
            bindparam(f"payload_{n}", type_=String()).label("payload"),
            literal(n, Integer()).label("n"))
        for n in range(events)
    ]  # fmt: skip


def _with_events(row: Any, steps: list[Any]) -> Any:
    step = (_UNION_ALL(*steps) if len(steps) > 1 else steps[0]).cte("steps")
    both = row.join(step, true())
    recorded = (
        insert(exchange_events)
        .from_select(["member_id", "exchange_id", "from_state", "to_state", "reason", "at"],
                     select(row.c.member_id, row.c.id, step.c.from_state, step.c.to_state,
                            step.c.reason, _AT).select_from(both).order_by(step.c.n))
        .cte("recorded")
    )  # fmt: skip
    subscribed = and_(webhook_subscriptions.c.partner_id == row.c.partner_id,
                      webhook_subscriptions.c.active == 1)  # fmt: skip
    queued = (
        insert(webhook_deliveries)
        .from_select(
            ["subscription_id", "event", "payload", "status", "next_attempt_at", "created_at"],
            select(webhook_subscriptions.c.id, literal("exchange.state_changed"),
                   step.c.payload, literal("PENDING"), _AT, _AT)
            .select_from(both.join(webhook_subscriptions, subscribed))
            .order_by(step.c.n, webhook_subscriptions.c.id),
        )
        .cte("queued")
    )  # fmt: skip
    body = func.json_build_object("from", step.c.from_state, "reason", step.c.reason,
                                  "direction", row.c.direction, "units", row.c.units)  # fmt: skip
    heard = (
        insert(live_events)
        .from_select(list(live.COLUMNS), select(
            _AT, literal(live.Kind.EXCHANGE.value), row.c.member_id, row.c.partner_id,
            cast(row.c.id, String), step.c.to_state, row.c.points, null(), cast(body, String),
        ).select_from(both).order_by(step.c.n))
        .cte("heard")
    )  # fmt: skip
    columns = [row.c[column.name] for column in exchanges.c]
    return select(*columns).add_cte(recorded, queued, heard)
