"""Automatic persisted queries (Apollo's APQ protocol), the allow-list mode, and rate limits."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from auth import clients
from gateway.app import create_app
from gateway.protection import register_operations
from tests.conftest import bearer, error_codes, http_client

REDIS_URL = os.environ.get("POINTGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis_url():
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as error:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {error}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    finally:
        await client.aclose()
    return REDIS_URL


def a_query() -> tuple[str, str]:
    """A query text nobody has persisted yet, and its hash."""
    query = f"query Unique_{uuid.uuid4().hex} {{ program {{ currency }} }}"
    return query, hashlib.sha256(query.encode()).hexdigest()


def apq(digest: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def operator(app):
    return http_client(app, await bearer(app, "operator:tests", "admin"))


async def test_miss_register_then_hit_by_post_and_get(db, settings):
    app = create_app(settings, db)
    http = await operator(app)
    query, digest = a_query()

    miss = (await http.post("/graphql", json={"extensions": apq(digest)})).json()
    registered = (
        await http.post("/graphql", json={"query": query, "extensions": apq(digest)})
    ).json()
    hit = (await http.post("/graphql", json={"extensions": apq(digest)})).json()
    by_get = (
        await http.get(
            "/graphql",
            params={"extensions": json.dumps(apq(digest))},
            headers={"accept": "application/json"},
        )
    ).json()
    wrong = await http.post("/graphql", json={"query": "{ __typename }", "extensions": apq(digest)})

    assert error_codes(miss) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert registered == hit == by_get == {"data": {"program": {"currency": "USD"}}}
    assert wrong.status_code == 400 and error_codes(wrong.json()) == [
        "PERSISTED_QUERY_HASH_MISMATCH"
    ]
    await http.aclose()


async def test_two_instances_share_the_redis_store(db, settings, redis_url):
    shared = replace(settings, redis_url=redis_url)
    first, second = create_app(shared, db), create_app(shared, db)
    query, digest = a_query()

    one, two = await operator(first), await operator(second)
    await one.post("/graphql", json={"query": query, "extensions": apq(digest)})
    on_the_other = (await two.post("/graphql", json={"extensions": apq(digest)})).json()
    alone = create_app(settings, db)  # memory store: does not know it
    on_its_own = (
        await (await operator(alone)).post("/graphql", json={"extensions": apq(digest)})
    ).json()

    assert on_the_other == {"data": {"program": {"currency": "USD"}}}
    assert error_codes(on_its_own) == ["PERSISTED_QUERY_NOT_FOUND"]
    for http in (one, two):
        await http.aclose()
    for app in (first, second):  # no lifespan under ASGITransport: release the Redis pools
        await app.state.store.close()


async def test_allow_list_mode_runs_only_registered_operations(db, settings):
    app = create_app(replace(settings, persisted_only=True), db)
    http = await operator(app)
    registered, _ = a_query()
    [digest] = await register_operations(db, {"currency": registered})
    other, other_digest = a_query()

    ok = (await http.post("/graphql", json={"extensions": apq(digest)})).json()
    unregistered = (
        await http.post("/graphql", json={"query": other, "extensions": apq(other_digest)})
    ).json()
    plain = await http.post("/graphql", json={"query": registered})

    assert ok == {"data": {"program": {"currency": "USD"}}}
    assert error_codes(unregistered) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert plain.status_code == 400 and error_codes(plain.json()) == ["PERSISTED_QUERY_REQUIRED"]
    await http.aclose()


async def test_a_client_over_its_budget_is_rate_limited_and_another_is_not(db, settings, redis_url):
    limited = replace(settings, rate_limit_burst=3, rate_limit_per_minute=1, redis_url=redis_url)
    app = create_app(limited, db)

    async def a_client_session():
        created = await clients.create_client(db, name="tool", scopes=["admin"])
        token = await bearer(app, created.client_id, "admin", client_id=created.client_id)
        return http_client(app, token)

    first, second = await a_client_session(), await a_client_session()
    query = {"query": "{ program { currency } }"}

    answers = [await first.post("/graphql", json=query) for _ in range(4)]
    other = await second.post("/graphql", json=query)

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert error_codes(answers[-1].json()) == ["RATE_LIMITED"]
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert other.status_code == 200
    for http in (first, second):
        await http.aclose()
    await app.state.store.close()


async def test_only_a_document_that_validates_is_persisted(client):
    """Found from outside: APQ stored any 900 KB body for anyone, for 7 days, before it was
    validated. Now an invalid or oversized document runs (and is refused) but is not kept."""
    invalid = f"query Bad_{uuid.uuid4().hex} {{ nosuchfield }}"
    padded = f"query Big_{uuid.uuid4().hex} {{ program {{ currency }} }}" + " " * 60_000
    valid, _ = a_query()
    answers = {}
    for name, document in (("invalid", invalid), ("padded", padded), ("valid", valid)):
        digest = hashlib.sha256(document.encode()).hexdigest()
        extension = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        await client.post("/graphql", json={"query": document, "extensions": extension})
        again = await client.post("/graphql", json={"extensions": extension})
        answers[name] = error_codes(again.json()) or ["OK"]

    assert answers == {
        "invalid": ["PERSISTED_QUERY_NOT_FOUND"],
        "padded": ["PERSISTED_QUERY_NOT_FOUND"],
        "valid": ["OK"],
    }
