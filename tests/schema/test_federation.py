from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from sqlalchemy import func, select

from auth import clients
from gateway.app import create_app
from infra.models import api_usage
from loyalty import purchase
from loyalty.member import MemberRef
from loyalty.purchase import Channel
from loyalty.reward import RewardTerms, create_reward
from loyalty.visibility import EVERYTHING
from tests.conftest import bearer, error_codes, graphql, http_client
from tests.factories import a_member, a_partner

SDL = "{ _service { sdl } }"
ENTITIES = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Member { id displayName balance { available } }
    ... on Purchase { id amount member { id } }
  }
}"""


async def test_the_subgraph_sdl_declares_the_entities(client):
    sdl = (await graphql(client, SDL))["data"]["_service"]["sdl"]

    assert 'type Member @key(fields: "id")' in sdl
    assert 'type Purchase @key(fields: "id")' in sdl
    assert 'type Partner @key(fields: "id")' in sdl
    assert 'type Reward @key(fields: "id")' in sdl
    assert '@link(url: "https://specs.apollo.dev/federation/v2.9"' in sdl


async def test_entities_resolve_in_batches_through_the_loaders_or_in_one_statement(
    client, db, program, sql_statements
):
    buyers = [await a_member(db, name=f"Member {n}") for n in range(3)]
    bought = []
    for number, buyer in enumerate(buyers):
        row, _ = await purchase.record_purchase(
            db, program, member_ref=MemberRef(member_id=buyer.id), channel=Channel.ONLINE,
            source="web", external_order_id=f"o{number}", amount=Decimal("5.00"), visible=EVERYTHING
        )  # fmt: skip
        bought.append(row)
    representations = [{"__typename": "Member", "id": str(b.id)} for b in buyers] + [
        {"__typename": "Purchase", "id": str(p.id)} for p in bought
    ]

    sql_statements.count = 0
    body = await graphql(client, ENTITIES, {"representations": representations})

    entities = body["data"]["_entities"]
    assert [e["__typename"] for e in entities] == ["Member"] * 3 + ["Purchase"] * 3
    assert [e["displayName"] for e in entities[:3]] == ["Member 0", "Member 1", "Member 2"]
    assert [e["member"]["id"] for e in entities[3:]] == [str(b.id) for b in buyers]
    assert entities[3]["amount"] == "5.00"
    if db.dialect == "postgresql":  # the token check and the compiled statement
        assert sql_statements.count == 2
    else:  # the token check, members by id (shared with purchase.member), balances, purchases
        assert sql_statements.count == 4


async def test_a_reward_resolves_as_an_entity(client, db):
    mug = await create_reward(db, code="mug", terms=RewardTerms(name="Mug", point_cost=100))
    query = "query R($r: [_Any!]!) { _entities(representations: $r) { ... on Reward { code } } }"

    body = await graphql(client, query, {"r": [{"__typename": "Reward", "id": str(mug.id)}]})

    assert body["data"]["_entities"] == [{"code": "mug"}]


MEMBERS = "query M($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id } } }"


async def test_bad_representations_answer_validation_errors_not_500s(client):
    representations = [
        "1",
        {"__typename": "Nope"},
        {"__typename": "Query", "id": "1"},
        {"__typename": "Member"},
        {"__typename": "Member", "id": ["x"]},
        7,
    ]

    response = await client.post(
        "/graphql", json={"query": MEMBERS, "variables": {"r": representations}}
    )
    body = response.json()

    assert response.status_code == 200
    assert body["data"]["_entities"] == [None] * len(representations)
    assert sorted({e["path"][1] for e in body["errors"]}) == list(range(len(representations)))
    assert set(error_codes(body)) == {"VALIDATION"}


async def test_entities_answer_codes_instead_of_bare_nulls(app, anonymous, db):
    member = await a_member(db, name="Seen")
    other = await a_member(db, name="Unseen")
    as_member = http_client(app, await bearer(app, f"member:{member.id}"))
    reps = [{"__typename": "Member", "id": str(i)} for i in (member.id, other.id, 999_999)]

    anonymous_body = await graphql(anonymous, MEMBERS, {"r": reps})
    member_body = await graphql(as_member, MEMBERS, {"r": reps})

    assert anonymous_body["data"] is None and error_codes(anonymous_body) == ["UNAUTHENTICATED"]
    assert member_body["data"]["_entities"] == [{"id": str(member.id)}, None, None]
    assert [(e["path"], e["extensions"]["code"]) for e in member_body["errors"]] == [
        (["_entities", 1], "NOT_FOUND"), (["_entities", 2], "NOT_FOUND")]  # fmt: skip
    # Invisible and missing read the same: nothing tells them apart.
    assert member_body["errors"][0]["message"].replace(str(other.id), "X") == (
        member_body["errors"][1]["message"].replace("999999", "X"))  # fmt: skip


DEEP_UNDER_ENTITIES = """query D($r: [_Any!]!) { _entities(representations: $r) { ... on Member {
  purchases(first: 100) { nodes { member { purchases(first: 100) { nodes { id } } } } } } } }"""
DEEP_UNDER_MEMBER = """{ member(id: "1") {
  purchases(first: 100) { nodes { member { purchases(first: 100) { nodes { id } } } } } } }"""


async def test_the_cost_limit_applies_under_entities_with_the_representations_sent(client, db):
    member = await a_member(db)
    one = [{"__typename": "Member", "id": str(member.id)}]
    cheap = "query C($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id } } }"

    under_member = await graphql(client, DEEP_UNDER_MEMBER)
    under_entities = await client.post(
        "/graphql", json={"query": DEEP_UNDER_ENTITIES, "variables": {"r": one}}
    )
    many_cheap = await client.post("/graphql", json={"query": cheap, "variables": {"r": one * 101}})
    too_many = await client.post("/graphql", json={"query": cheap, "variables": {"r": one * 1001}})
    expensive_many = await client.post("/graphql", json={
        "query": "query E($r: [_Any!]!) { _entities(representations: $r) { ... on Member {"
                 " purchases(first: 100) { nodes { id } } } } }",
        "variables": {"r": one * 200}})  # fmt: skip

    assert "QUERY_TOO_COMPLEX" in error_codes(under_member)
    assert "QUERY_TOO_COMPLEX" in error_codes(under_entities.json())
    assert under_entities.json().get("data") is None
    assert many_cheap.status_code == 200 and len(many_cheap.json()["data"]["_entities"]) == 101
    assert too_many.status_code == 200 and error_codes(too_many.json()) == ["INPUT_TOO_LARGE"]
    assert error_codes(expensive_many.json()) == ["QUERY_TOO_COMPLEX"]


async def test_the_sdl_is_served_to_the_router_and_operators_only(db, settings, anonymous):
    app = create_app(replace(settings, environment="production", router_token="r0uter"), db)
    partner = await a_partner(db, "sdl-p")
    created = await clients.create_client(db, name="p", scopes=["members:read"],
                                          partner_id=partner.id)  # fmt: skip
    as_partner = http_client(app, await bearer(app, created.client_id, "members:read",
                                               client_id=created.client_id))  # fmt: skip
    router = http_client(app, {"X-Pointgate-Router": "r0uter"})
    wrong = http_client(app, {"X-Pointgate-Router": "guess"})

    assert error_codes(await graphql(http_client(app), SDL)) == ["UNAUTHENTICATED"]
    assert error_codes(await graphql(wrong, SDL)) == ["UNAUTHENTICATED"]
    assert error_codes(await graphql(as_partner, SDL)) == ["FORBIDDEN"]
    assert "type Member" in (await graphql(router, SDL))["data"]["_service"]["sdl"]


async def billed(db) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(select(func.coalesce(func.sum(api_usage.c.calls), 0))))


async def test_a_routers_fetches_for_one_operation_are_billed_once(db, settings):
    app = create_app(replace(settings, router_token="r0uter"), db)
    partner = await a_partner(db, "billed-p")
    created = await clients.create_client(db, name="p", scopes=["members:read"],
                                          partner_id=partner.id)  # fmt: skip
    token = await bearer(app, created.client_id, "members:read", client_id=created.client_id)
    router = {**token, "X-Pointgate-Router": "r0uter"}
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    query = "{ partners { code } }"

    for headers in ({**router, "X-Pointgate-Operation": "op-1"},
                    {**router, "X-Pointgate-Operation": "op-1"},
                    {**router, "X-Pointgate-Operation": "op-2"},
                    {**router, "traceparent": trace},
                    {**router, "traceparent": trace}):  # fmt: skip
        await graphql(http_client(app, headers), query)
    through_router = await billed(db)
    for _ in range(2):  # a client naming an operation itself is billed per request
        await graphql(http_client(app, {**token, "X-Pointgate-Operation": "op-3"}), query)

    assert through_router == 3
    assert await billed(db) == 5
