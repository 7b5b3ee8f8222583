"""Revocation states in memory: a known token costs no database read, and a revocation made
through one app instance reaches another within about a second, 2 s at most here (PostgreSQL
NOTIFY, or the poll on SQLite); while the feed is not live, every check reads the database."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack

from auth import clients
from gateway.app import create_app
from tests.auth.test_oauth_server import a_client, token_response
from tests.conftest import http_client

PARTNERS = "{ partners { code } }"


async def serving(stack: AsyncExitStack, app) -> None:
    await stack.enter_async_context(app.router.lifespan_context(app))
    deadline = time.monotonic() + 5
    while not app.state.token_states._live:
        assert time.monotonic() < deadline, "the revocation feed did not go live"
        await asyncio.sleep(0.05)


async def answered_from_memory(http, sql_statements, attempts: int = 5) -> bool:
    """Whether a request with a known token ran no read of issued_tokens. A few attempts: while
    the feed is momentarily not live (a busy SQLite poll), the check reads the database, as it
    should."""
    for _ in range(attempts):
        sql_statements.statements.clear()
        assert (await http.post("/graphql", json={"query": PARTNERS})).status_code == 200
        if not any("issued_tokens" in s for s in sql_statements.statements):
            return True
        await asyncio.sleep(0.2)
    return False


async def refused_within(http, seconds: float) -> float:
    """How long until the instance refuses the token (fails past `seconds`)."""
    started = time.monotonic()
    while (await http.post("/graphql", json={"query": PARTNERS})).status_code != 401:
        assert time.monotonic() - started < seconds, "the revocation did not arrive in time"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_revocations_reach_another_instance_within_a_second(db, settings, sql_statements):
    first, second = create_app(settings, db), create_app(settings, db)
    partner_client = await a_client(db)
    auth = (partner_client.client_id, partner_client.client_secret)
    async with AsyncExitStack() as stack:
        await serving(stack, first)
        await serving(stack, second)
        via_first = http_client(first)
        token = (await token_response(via_first, partner_client)).json()["access_token"]
        other = (await token_response(via_first, partner_client)).json()["access_token"]
        on_second = http_client(second, {"Authorization": f"Bearer {token}"})
        other_on_second = http_client(second, {"Authorization": f"Bearer {other}"})
        assert (await on_second.post("/graphql", json={"query": PARTNERS})).status_code == 200
        assert (await other_on_second.post("/graphql", json={"query": PARTNERS})).status_code == 200
        from_memory = await answered_from_memory(on_second, sql_statements)

        await via_first.post("/oauth/revoke", data={"token": token}, auth=auth)
        token_delay = await refused_within(on_second, 2.0)
        await clients.revoke_client(db, partner_client.client_id)
        client_delay = await refused_within(other_on_second, 2.0)

    assert from_memory  # the known token was checked without reading issued_tokens
    assert token_delay < 2.0 and client_delay < 2.0


async def test_without_a_live_feed_every_check_reads_the_database(app, db, sql_statements):
    partner_client = await a_client(db)
    async with http_client(app) as anonymous:
        token = (await token_response(anonymous, partner_client)).json()["access_token"]
    as_partner = http_client(app, {"Authorization": f"Bearer {token}"})
    await as_partner.post("/graphql", json={"query": PARTNERS})
    sql_statements.statements.clear()

    await as_partner.post("/graphql", json={"query": PARTNERS})
    await clients.revoke_client(db, partner_client.client_id)
    refused = await as_partner.post("/graphql", json={"query": PARTNERS})

    assert app.state.token_states._live is False  # no lifespan: nothing trusted in memory
    assert any("issued_tokens" in s for s in sql_statements.statements)
    assert refused.status_code == 401
