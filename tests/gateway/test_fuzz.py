"""Schema-wide fuzzing: operations generated from the schema itself (hypothesis-graphql) over
every root query and mutation, and `_entities` with arbitrary representations, sent as an
operator with the admin scope. Whatever comes in, the answer is a client error with a code or
a result: never INTERNAL_SERVER_ERROR, never HTTP 500."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC

import graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema, nodes

from gateway.app import build_schema, create_app
from loyalty.program import Program
from loyalty.reward import RewardTerms, create_reward
from tests.conftest import bearer, http_client
from tests.factories import a_member, a_partner, a_purchase

SCHEMA = build_schema()._schema
# _entities has its own strategy below (hypothesis-graphql cannot make representations).
ROOT_FIELDS = [name for name in sorted(SCHEMA.query_type.fields) if name != "_entities"] + sorted(
    SCHEMA.mutation_type.fields
)
FORBIDDEN = {"INTERNAL_SERVER_ERROR"}


def _string(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return strategy.map(nodes.String)


text = st.text(max_size=30)
decimals = st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str)
moments = st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat())
SCALARS = {
    "Decimal": _string(st.one_of(decimals, text, st.sampled_from(["1e999999", "0.01", "-5"]))),
    "DateTime": _string(st.one_of(moments, text)),
    "Date": _string(st.one_of(st.dates().map(str), text)),
    # mostly ids that exist (the seeded rows), sometimes anything
    "ID": _string(
        st.one_of(*[st.sampled_from(["1", "2", "3"])] * 4, st.integers(-5, 10**20).map(str), text)
    ),
}


def _representation() -> st.SearchStrategy:
    typename = st.sampled_from(["Member", "Purchase", "Partner", "Reward", "Query", "Nope", ""])
    key = st.one_of(st.integers(-3, 10**19).map(str), text, st.integers(-3, 5))
    field_value = st.one_of(
        key.map(lambda v: nodes.String(v) if isinstance(v, str) else nodes.Int(v)),
        st.just(nodes.Null), st.booleans().map(nodes.Boolean),
    )  # fmt: skip
    fields = st.lists(
        st.tuples(st.sampled_from(["__typename", "id", "code", "extra"]), field_value),
        max_size=4, unique_by=lambda pair: pair[0],
    ).map(lambda pairs: nodes.Object([
        graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value)
        for name, value in pairs]))  # fmt: skip
    with_type = st.tuples(typename, key).map(lambda pair: nodes.Object([
        graphql.ObjectFieldNode(name=graphql.NameNode(value="__typename"),
                                value=nodes.String(pair[0])),
        graphql.ObjectFieldNode(name=graphql.NameNode(value="id"), value=nodes.String(pair[1])),
    ]))  # fmt: skip
    scalars = st.one_of(text.map(nodes.String), st.integers().map(nodes.Int))
    return st.one_of(with_type, fields, scalars)


ENTITY_SELECTION = """
  __typename
  ... on Member { id displayName tier balance { available } identities { kind value }
                  purchases(first: 2) { nodes { id amount } } segment { spendAmount } }
  ... on Purchase { id amount member { id } partner { code } }
  ... on Partner { id code exchangeTerms { rate } }
  ... on Reward { id code stock }
"""


@st.composite
def entities_operations(draw: st.DrawFn) -> str:
    representations = draw(st.lists(_representation(), max_size=6))
    value = graphql.print_ast(graphql.ListValueNode(values=tuple(representations)))
    return f"{{ _entities(representations: {value}) {{ {ENTITY_SELECTION} }} }}"


operations = st.one_of(
    from_schema(SCHEMA, fields=ROOT_FIELDS, custom_scalars=SCALARS, allow_x00=True),
    entities_operations(),
)
seen: Counter[str] = Counter()
EXAMPLES = 2000


@pytest.fixture
async def fuzzed(db, settings):
    """An operator's client of an app without rate limits, over a few seeded rows (ids 1-3)."""
    app = create_app(replace(settings, rate_limit_burst=10**9, rate_limit_per_minute=10**9), db)
    await seed_rows(db)
    seen.clear()
    async with http_client(app, await bearer(app, "operator:fuzz", "admin")) as http:
        yield http
    # Every generated operation was answered without an internal error (checked in `ask`).
    assert sum(seen.values()) >= EXAMPLES, seen


async def seed_rows(db) -> None:
    partner = await a_partner(db, "fuzz-p")
    for number in range(3):
        buyer = await a_member(db, card=f"FUZZ-{number}")
        await a_purchase(db, Program(), buyer.id, "25.00")
    await create_reward(db, code="fuzz-mug", terms=RewardTerms(name="Mug", point_cost=10),
                        partner_id=partner.id)  # fmt: skip


async def ask(client, query: str) -> None:
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code != 500, (query, response.text)
    body = response.json()
    codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
    assert not codes & FORBIDDEN, (query, body)
    seen["entities" if "_entities" in query else "root"] += 1


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large],
)  # fmt: skip
@given(query=operations)
async def test_no_generated_operation_is_an_internal_error(fuzzed, query):
    await ask(fuzzed, query)
    # both kinds of operation were generated (checked once enough have run)
    if sum(seen.values()) == 300:
        assert seen["entities"] > 30 and seen["root"] > 150, seen
