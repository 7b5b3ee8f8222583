from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from loyalty import purchase
from loyalty.member import MemberRef
from loyalty.purchase import Channel
from loyalty.visibility import EVERYTHING
from tests.conftest import graphql
from tests.factories import a_member


@pytest.fixture
def settings(settings):
    """The general path: on PostgreSQL the plannable queries below would be compiled to one
    statement (tests/resolvers/test_compiled.py), and their loaders never asked."""
    return dataclasses.replace(settings, compiled_reads=False)


NESTED = """
query Nested($first: Int!) {
  members(first: $first) {
    edges { node {
      id identities { kind value } balance { available pending }
      purchases(first: 10) { edges { node { id amount pointsEarned member { id } } } }
    } }
  }
}"""


async def given_members_with_purchases(db, program, members: int, purchases_each: int) -> None:
    for number in range(members):
        buyer = await a_member(db, card=f"CARD-{number}")
        for order in range(purchases_each):
            await purchase.record_purchase(
                db, program, member_ref=MemberRef(member_id=buyer.id), channel=Channel.ONLINE,
                source="web", external_order_id=f"{number}-{order}", amount=Decimal("10.00"),
                visible=EVERYTHING
            )  # fmt: skip


async def counted(client, sql_statements, query, first):
    """The answer for `first` members and the SQL statements it took."""
    sql_statements.count = 0
    body = await graphql(client, query, {"first": first})
    return body, sql_statements.count


async def test_nested_lists_cost_the_same_sql_statements_for_5_or_50_members(
    client, db, program, sql_statements
):
    await given_members_with_purchases(db, program, members=50, purchases_each=11)

    small, statements_for_5 = await counted(client, sql_statements, NESTED, 5)
    large, statements_for_50 = await counted(client, sql_statements, NESTED, 50)

    assert "errors" not in small and "errors" not in large
    nodes = [edge["node"] for edge in large["data"]["members"]["edges"]]
    assert len(nodes) == 50
    assert all(len(node["purchases"]["edges"]) == 10 for node in nodes)
    assert all(node["balance"]["available"] == 110 for node in nodes)
    # the token's revocation check, then one each for members, identities, balances and
    # purchases; purchase.member comes from the members the list primed into member_by_id
    assert statements_for_50 == statements_for_5 == 5


STANDING = """
query Standing($first: Int!) {
  members(first: $first) {
    nodes {
      growthValue tierProgress { growthValueNeeded } tierHistory { toTier }
      lifecycle segment { spend } expiringPoints(within: 800) { points }
      referredBy { id } referrals(first: 3) { nodes { displayName } }
    }
  }
}"""


async def test_a_members_standing_costs_the_same_sql_statements_for_5_or_50_members(
    client, db, program, sql_statements
):
    await given_members_with_purchases(db, program, members=50, purchases_each=2)

    small, statements_for_5 = await counted(client, sql_statements, STANDING, 5)
    large, statements_for_50 = await counted(client, sql_statements, STANDING, 50)

    assert "errors" not in small and "errors" not in large
    nodes = large["data"]["members"]["nodes"]
    assert {(n["growthValue"], n["expiringPoints"]["points"], n["lifecycle"]) for n in nodes} == {
        (20, 20, "NEW")
    }
    # the token check, members, growth value, tier history, insight, expiring points,
    # referrals; referredBy is null everywhere so it costs nothing
    assert statements_for_50 == statements_for_5 == 7
