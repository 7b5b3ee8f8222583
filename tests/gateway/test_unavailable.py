"""The database failing is never the client's fault: SERVICE_UNAVAILABLE (retryable, 503 when
nothing ran), no raw driver message, and a committed mutation always has its audit row."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import asyncpg
import httpx
import pytest
from sqlalchemy import exc, func, select, text

from auth import audit
from auth.tokens import TokenVerifier
from gateway.app import create_app
from infra.models import audit_log, purchases
from loyalty import purchase
from tests.conftest import error_codes, graphql, http_client
from tests.factories import a_member

RECORD = """mutation R($m: ID!) { recordPurchase(input: {member: {id: $m}, channel: ONLINE,
  source: "web", externalOrderId: "o-1", amount: "10.00"}) { id pointsEarned } }"""
RAW = "connection refused by canary-host:5432"


def database_down(*_, **__):
    raise exc.OperationalError("INSERT INTO purchases ...", {}, ConnectionRefusedError(RAW))


async def test_a_mutation_during_a_database_outage_is_retryable_not_the_clients_fault(
    client, db, monkeypatch
):
    member = await a_member(db)
    monkeypatch.setattr(purchase, "record_purchase", database_down)

    response = await client.post(
        "/graphql", json={"query": RECORD, "variables": {"m": str(member.id)}}
    )
    body = response.json()

    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert error_codes(body) == ["SERVICE_UNAVAILABLE"]
    assert body["errors"][0]["extensions"]["retryable"] is True
    assert RAW not in response.text and "INSERT" not in response.text


async def test_a_token_that_cannot_be_checked_is_503_not_401(client, monkeypatch):
    async def unreachable(self, token, **_):
        raise exc.OperationalError("SELECT issued_tokens", {}, OSError(RAW))

    monkeypatch.setattr(TokenVerifier, "principal", unreachable)
    response = await client.post("/graphql", json={"query": "{ program { currency } }"})

    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert error_codes(response.json()) == ["SERVICE_UNAVAILABLE"]
    assert RAW not in response.text


async def test_the_audit_row_commits_with_the_mutation_or_not_at_all(client, db, monkeypatch):
    member = await a_member(db)
    real_insert = audit.insert_entry

    async def failing_insert(conn, principal, action, **options):
        if action == "mutation.recordPurchase":
            await conn.execute(text("SELECT 1"))
            raise RuntimeError("audit insert failed")
        return await real_insert(conn, principal, action, **options)

    monkeypatch.setattr(audit, "insert_entry", failing_insert)
    failed = await graphql(client, RECORD, {"m": str(member.id)})
    monkeypatch.setattr(audit, "insert_entry", real_insert)
    done = await graphql(client, RECORD, {"m": str(member.id)})

    async with db.read() as conn:
        bought = await conn.scalar(select(func.count()).select_from(purchases))
        audited = select(audit_log.c.action, audit_log.c.outcome, audit_log.c.target).where(
            audit_log.c.action == "mutation.recordPurchase"
        )
        rows = list(await conn.execute(audited.order_by(audit_log.c.id)))

    assert error_codes(failed) == ["INTERNAL_SERVER_ERROR"]
    assert done["data"]["recordPurchase"]["pointsEarned"] == 10
    assert bought == 1  # the purchase of the failed attempt rolled back with its audit row
    # the row names what the mutation acted on (the member the input names)
    assert [tuple(r) for r in rows] == [("mutation.recordPurchase", "OK", f"member:{member.id}")]


async def test_pooled_connections_killed_by_a_restart_cost_no_request(client, db):
    if db.dialect != "postgresql":
        pytest.skip("a server restart is a PostgreSQL matter")
    query = "{ members(first: 2) { nodes { id } } program { currency } }"
    # fill the pool with a few connections
    warm = await asyncio.gather(*[graphql(client, query) for _ in range(6)])
    assert all("errors" not in answer for answer in warm)
    async with db.read() as conn:
        name = await conn.scalar(text("SELECT current_database()"))
    # what a restart does to every session, from a connection outside the pool
    killer = await asyncpg.connect(db.url.replace("postgresql+asyncpg", "postgresql"))
    killed = await killer.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = $1 AND pid <> pg_backend_pid()", name)  # fmt: skip
    await killer.close()

    answers = [await graphql(client, query) for _ in range(10)]

    assert killed >= 2
    assert [error_codes(a) for a in answers] == [[]] * 10


async def test_with_redis_down_every_entrance_is_503_and_not_ready(db, settings):
    """Found from outside: with Redis down /readyz stayed 200 while GraphQL answered 503, and
    the token endpoint and the console's sign-in answered 500."""
    app = create_app(dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0"), db)
    async with http_client(app) as http:
        ready = await http.get("/readyz")
        token = await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                auth=("some-client", "some-secret"))  # fmt: skip
        graphql_answer = await http.post("/graphql", json={"query": "{ program { currency } }"})
    console = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                base_url="https://localhost")  # fmt: skip
    async with console:
        page = await console.get("/console/sign-in")
        token_field = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
        sign_in = await console.post("/console/sign-in", data={
            "email": "ops@example.com", "password": "x" * 12, "csrf": token_field})  # fmt: skip

    assert ready.status_code == 503 and ready.json()["error"] == "StoreUnavailable"
    for answer in (token, graphql_answer, sign_in):
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "2"
