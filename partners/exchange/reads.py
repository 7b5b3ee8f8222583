"""What callers read of exchanges: by id, their events, and filtered lists, each narrowed to
what the caller may see (`visible`, decided by auth.ownership)."""

from __future__ import annotations

from operator import attrgetter

from sqlalchemy import select

from infra.database import Database
from infra.models import exchange_events, exchanges
from infra.partner_records import ExchangeRow
from infra.reads import keyed
from loyalty.visibility import Visibility
from partners.exchange.state import ExchangeState
from partners.registry import Direction

exchanges_by_id = keyed(tuple(exchanges.c), exchanges.c.id, visible=attrgetter("exchanges"))

# The exchanges' state changes in the order they happened.
events_of = keyed(
    tuple(exchange_events.c), exchange_events.c.exchange_id, order_by=(exchange_events.c.id,)
)


async def list_exchanges(
    db: Database,
    *,
    limit: int,
    offset: int = 0,
    visible: Visibility,
    state: ExchangeState | None = None,
    direction: Direction | None = None,
    partner_id: int | None = None,
) -> list[ExchangeRow]:
    """Newest first."""
    query = (
        select(exchanges)
        .where(visible.exchanges)
        .order_by(exchanges.c.created_at.desc(), exchanges.c.id)
        .limit(limit)
        .offset(offset)
    )
    for column, value in (
        (exchanges.c.state, state),
        (exchanges.c.direction, direction),
        (exchanges.c.partner_id, partner_id),
    ):
        if value is not None:
            query = query.where(column == value)
    async with db.read() as conn:
        return list(await conn.execute(query))
