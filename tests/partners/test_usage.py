"""Partners' API usage is counted in memory and billed in full."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import event, exc, func, select

from auth import clients
from gateway.app import create_app
from infra.models import api_usage
from partners.settlement import usage
from partners.settlement.usage import UsageMeter
from tests.conftest import bearer, graphql, http_client
from tests.factories import a_partner


async def billed(db, partner_id: int | None = None) -> int:
    query = select(func.coalesce(func.sum(api_usage.c.calls), 0))
    if partner_id is not None:
        query = query.where(api_usage.c.partner_id == partner_id)
    async with db.read() as conn:
        return int(await conn.scalar(query))


async def test_the_billed_count_equals_the_operations_admitted_under_load(db, settings):
    # given a served app (its lifespan flushes the counts) and two partners' clients
    app = create_app(settings, db)
    partners = [await a_partner(db, "meter-a"), await a_partner(db, "meter-b")]
    callers = []
    for partner in partners:
        created = await clients.create_client(db, name=partner.code, scopes=["members:read"],
                                              partner_id=partner.id)  # fmt: skip
        token = await bearer(app, created.client_id, "members:read", client_id=created.client_id)
        callers.append(http_client(app, token))
    writes: list[str] = []

    def on_statement(_c, _cursor, statement, *_rest) -> None:
        if "api_usage" in statement:
            writes.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", on_statement)
    try:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))

            # when 120 operations run concurrently (reads, refused or not)
            async def calls(http, n: int) -> None:
                for _ in range(n):
                    await graphql(http, "{ partners { code } }")

            started = time.monotonic()
            await asyncio.gather(calls(callers[0], 40), calls(callers[0], 30),
                                 calls(callers[1], 50))  # fmt: skip
            # the requests wrote no usage of their own: only the flushes, one a second
            flushes = (time.monotonic() - started) / usage.FLUSH_SECONDS
            assert len(writes) <= flushes + 1, (len(writes), flushes)
        # then after shutdown every operation is billed to its partner, once
        assert await billed(db, partners[0].id) == 70
        assert await billed(db, partners[1].id) == 50
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", on_statement)


async def test_a_flush_that_fails_keeps_its_counts_for_the_next(db, monkeypatch):
    partner = await a_partner(db, "meter-c")
    meter = UsageMeter(db)
    meter._flushing = True  # as under the lifespan: counting does not write
    for _ in range(5):
        await meter.count_call(partner.id, "client-1")

    async def unavailable(*_args, **_kwargs):
        raise exc.OperationalError("INSERT", {}, ConnectionError("database restarting"))

    real = meter._add
    monkeypatch.setattr(meter, "_add", unavailable)
    with pytest.raises(exc.OperationalError):
        await meter.flush()
    await meter.count_call(partner.id, "client-1")
    monkeypatch.setattr(meter, "_add", real)

    assert await meter.flush() == 6
    assert await billed(db, partner.id) == 6
    assert await meter.flush() == 0


async def test_without_a_flusher_each_operation_is_written_at_once(app, db):
    partner = await a_partner(db, "meter-d")
    created = await clients.create_client(db, name="d", scopes=["members:read"],
                                          partner_id=partner.id)  # fmt: skip
    token = await bearer(app, created.client_id, "members:read", client_id=created.client_id)
    http = http_client(app, token)

    await graphql(http, "{ partners { code } }")

    assert await billed(db, partner.id) == 1
