from __future__ import annotations

from decimal import Decimal

from loyalty import purchase
from loyalty.member import MemberRef
from loyalty.purchase import Channel
from loyalty.reward import RewardTerms, create_reward
from tests.conftest import graphql
from tests.factories import a_member

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


async def test_entities_resolve_in_batches_through_the_loaders(client, db, program, sql_statements):
    buyers = [await a_member(db, name=f"Member {n}") for n in range(3)]
    bought = []
    for number, buyer in enumerate(buyers):
        row, _ = await purchase.record_purchase(
            db, program, member_ref=MemberRef(member_id=buyer.id), channel=Channel.ONLINE,
            source="web", external_order_id=f"o{number}", amount=Decimal("5.00"),
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
    # the token check, members by id (shared with purchase.member), balances, purchases by id
    assert sql_statements.count == 4


async def test_a_reward_resolves_as_an_entity(client, db):
    mug = await create_reward(db, code="mug", terms=RewardTerms(name="Mug", point_cost=100))
    query = "query R($r: [_Any!]!) { _entities(representations: $r) { ... on Reward { code } } }"

    body = await graphql(client, query, {"r": [{"__typename": "Reward", "id": str(mug.id)}]})

    assert body["data"]["_entities"] == [{"code": "mug"}]
