"""Compiled mutations (resolvers.compiled.writes) answer and write exactly as the general path.

Two databases are seeded alike; one is served with compiled operations, the other without.
Generated sequences of mutations (valid and refused arguments, payload selections generated
from the schema and the declared plans) run on both, as an operator, a partner's client and a
member: every answer is identical (keys in order, errors included), and so is every row of
every table afterwards."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import DateTime, select

from auth import clients
from gateway.app import create_app
from infra.database import Database
from infra.migrate import upgrade
from infra.models import metadata
from loyalty import member, purchase, reward
from loyalty.member import IdentityKind, MemberRef
from loyalty.program import Program
from loyalty.purchase import Channel
from loyalty.visibility import EVERYTHING
from resolvers.compiled.writes import PAYLOAD_TABLES
from tests.conftest import (
    _drop_postgres_database,
    bearer,
    http_client,
    new_empty_database,
)
from tests.factories import a_partner
from tests.resolvers.test_compiled import selection

pytestmark = pytest.mark.usefixtures("postgres_only")

CLIENT_ID, CLIENT_SECRET = "diff-writes-client", "diff-writes-secret-0123456789abcdef"
MIN_EXAMPLES = 200


@pytest.fixture
def postgres_only(db):
    if db.dialect != "postgresql":
        pytest.skip("mutations are compiled on PostgreSQL only")


async def seed(db: Database) -> dict[str, list[int]]:
    """The same world in either database: a partner under contract, members of it and not,
    points to spend, rewards (one of a partner, one in short stock)."""
    ours = await a_partner(db, "writes-p")
    other = await a_partner(db, "other-p")
    people = []
    for index, name in enumerate(("Ada", "Bo", "Cy", "Di")):
        enrolled = await member.enroll(db, display_name=name, idempotency_key=f"seed-{name}")
        people.append(enrolled.id)
        if index < 2:
            await member.link_identity(db, member_id=enrolled.id,
                                       kind=IdentityKind.PARTNER_ACCOUNT, value=f"WP-{index}",
                                       partner_id=ours.id, visible=EVERYTHING)  # fmt: skip
        await purchase.record_purchase(
            db, Program(), member_ref=MemberRef(member_id=enrolled.id), channel=Channel.ONLINE,
            source="seed", external_order_id=f"seed-{index}", amount=Decimal("300.00"),
            visible=EVERYTHING,
        )  # fmt: skip
    given_rewards = []
    for code, cost, stock, partner_id in (("mug", 40, None, None), ("pass", 90, 2, ours.id),
                                          ("seat", 70, 1, other.id)):  # fmt: skip
        terms = reward.RewardTerms(name=code.title(), point_cost=cost, stock=stock)
        made = await reward.create_reward(db, code=code, terms=terms, partner_id=partner_id)
        given_rewards.append(made.id)
    await clients.create_client(
        db, name="diff-writes", partner_code="writes-p", client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes=["purchases:write", "points:redeem", "members:read", "members:write"],
    )  # fmt: skip
    return {"member": people, "partner": [ours.id, other.id], "reward": given_rewards}


@dataclasses.dataclass
class Twins:
    ids: dict[str, list[int]]
    callers: dict[str, tuple[Any, Any]]  # name -> (compiled client, general client)
    dbs: tuple[Database, Database]
    keys: Any = dataclasses.field(default_factory=lambda: itertools.count(1))
    examples: int = 0


@pytest.fixture
async def twins(db, settings, tmp_path) -> AsyncIterator[Twins]:
    other, name = await new_empty_database("postgresql", tmp_path)
    try:
        await upgrade(other)
        ids = await seed(db)
        assert await seed(other) == ids
        settings = dataclasses.replace(settings, rate_limit_per_minute=10**9,
                                       rate_limit_burst=10**9)  # fmt: skip
        compiled = create_app(dataclasses.replace(settings, compiled_reads=True), db)
        general = create_app(dataclasses.replace(settings, compiled_reads=False), other)
        callers = {}
        for caller, subject, scope, options in (
            ("operator", "operator:diff", "admin", {}),
            ("partner", CLIENT_ID, "purchases:write points:redeem members:read members:write",
             {"client_id": CLIENT_ID}),
            ("member", f"member:{ids['member'][0]}", "", {}),
        ):  # fmt: skip
            callers[caller] = (
                http_client(compiled, await bearer(compiled, subject, scope, **options)),
                http_client(general, await bearer(general, subject, scope, **options)),
            )
        twins = Twins(ids, callers, (db, other))
        yield twins
        for pair in callers.values():
            for http in pair:
                await http.aclose()
        if twins.examples:
            assert twins.examples >= MIN_EXAMPLES
            outcomes = compiled.state.compiled_operations.outcomes
            assert outcomes["compiled"] >= 0.25 * sum(outcomes.values()), outcomes
    finally:
        await other.dispose()
        await _drop_postgres_database(name)


# --- generated mutations -----------------------------------------------------------------------

MEMBERS = [f"<member:{i}>" for i in range(4)] + ["999999", "x"]
AMOUNTS = ["12.34", "0.01", "250", "0", "-1", "1.234", "100000000"]
POINTS = [1, 10, 50, 0, -3, 10**6]


@st.composite
def mutation(draw) -> str:
    """One root mutation field with its input (ids as <kind:i> placeholders, keys as <key>)
    and a payload selection."""
    kind = draw(st.sampled_from(["recordPurchase", "redeemPoints", "redeemReward",
                                 "enrollMember", "setBirthDate"]))  # fmt: skip
    who = draw(st.sampled_from(MEMBERS))
    channel = draw(st.sampled_from(["ONLINE", "PARTNER"]))
    partner = ', partnerId: "<partner:0>"' if channel == "PARTNER" else ""
    if kind == "recordPurchase":
        amount = draw(st.sampled_from(AMOUNTS))
        argument = (f'member: {{id: "{who}"}}, channel: {channel}{partner}, source: "app", '
                    f'externalOrderId: "<key>", amount: "{amount}"')  # fmt: skip
        payload = "Purchase"
    elif kind == "redeemPoints":
        argument = (f'member: {{id: "{who}"}}, points: {draw(st.sampled_from(POINTS))}, '
                    f'channel: {channel}{partner}, idempotencyKey: "<key>"')  # fmt: skip
        payload = "Redemption"
    elif kind == "redeemReward":
        reward_id = draw(st.sampled_from(["<reward:0>", "<reward:1>", "<reward:2>", "999"]))
        quantity = draw(st.sampled_from([1, 2, 0]))
        argument = (f'member: {{id: "{who}"}}, rewardId: "{reward_id}", '
                    f'quantity: {quantity}, idempotencyKey: "<key>"')  # fmt: skip
        payload = "Redemption"
    elif kind == "enrollMember":
        name = draw(st.sampled_from(["Eve", "", "Fay Wray"]))
        argument = f'displayName: "{name}", idempotencyKey: "<key>"'
        payload = "Member"
    else:
        birth = draw(st.sampled_from(['"1990-05-17"', "null", '"2999-01-01"']))
        argument = f'memberId: "{who}", birthDate: {birth}'
        payload = "Member"
    # (referral codes are random: the databases' differ)
    payload_selection = draw(selection(payload, 1)).replace("referralCode", "displayName")
    return f"{kind}(input: {{{argument}}}) {{ {payload_selection} }}"


@st.composite
def operations(draw) -> tuple[str, dict[str, Any]]:
    roots = []
    for index in range(draw(st.integers(1, 2))):
        roots.append(f"m{index}: {draw(mutation())}")
    if draw(st.integers(0, 5)) == 0:
        roots.append("__typename")
    written = " ".join(roots)
    variables = {}
    declared = []
    if "$yes" in written:
        declared, variables["yes"] = ["$yes: Boolean!"], draw(st.booleans())
    if "$size" in written:
        declared.append("$size: Int!")
        variables["size"] = draw(st.sampled_from([0, 1, 3, 101]))
    header = f"mutation Generated({', '.join(declared)})" if declared else "mutation Generated"
    return f"{header} {{ {written} }}", variables


def in_twins(query: str, twins: Twins) -> str:
    """Placeholders made the world's ids (both databases have the same), keys made fresh."""

    def real(match: re.Match[str]) -> str:
        found = twins.ids.get(match["kind"], [0])
        return str(found[int(match["index"]) % len(found)])

    query = re.sub(r"<(?P<kind>\w+):(?P<index>\d+)>", real, query)
    return re.sub(r"<key>", lambda _: f"key-{next(twins.keys)}", query)


INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)")


def comparable(body: bytes) -> Any:
    """The answer with its key order, the instants written when it ran left out."""
    return json.loads(INSTANT.sub("<instant>", body.decode()), object_pairs_hook=list)


# Tables of the callers' tokens and the keys signing them, and columns that differ
# between any two runs: instants, trace ids.
VOLATILE_TABLES = {"issued_tokens", "signing_keys"}


def _volatile(column: Any) -> bool:
    """Instants, trace ids and referral codes (random: loyalty.referral.new_code)."""
    kind = getattr(column.type, "impl", column.type)
    return isinstance(kind, DateTime) or column.name in ("trace_id", "referral_code")


async def rows(db: Database) -> dict[str, list[Any]]:
    """Every table's rows in key order, without the instants they were written at."""
    found = {}
    async with db.read() as conn:
        for table in metadata.sorted_tables:
            if table.name in VOLATILE_TABLES:
                continue
            columns = [c for c in table.c if not _volatile(c)]
            query = select(*columns).order_by(*(table.primary_key.columns or columns[:1]))
            found[table.name] = [tuple(row) for row in await conn.execute(query)
                                 if not str(row[0]).startswith("referral:")]  # fmt: skip
    return found


async def differences(twins: Twins) -> dict[str, Any]:
    """The rows only one of the two databases holds, by table (none: they are alike)."""
    ours, theirs = await rows(twins.dbs[0]), await rows(twins.dbs[1])
    found = {}
    for name in ours:
        only = [r for r in ours[name] if r not in theirs[name]]
        only_theirs = [r for r in theirs[name] if r not in ours[name]]
        if only or only_theirs:
            found[name] = (only, only_theirs)
    return found


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.slow
@settings(
    max_examples=MIN_EXAMPLES, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(operation=operations(), caller=st.sampled_from(["operator", "partner", "member"]))
async def test_compiled_and_general_mutations_answer_and_write_alike(twins, operation, caller):
    query, variables = operation
    query = in_twins(query, twins)
    compiled, general = twins.callers[caller]
    answers = []
    for http in (compiled, general):
        answer = await http.post("/graphql", json={"query": query, "variables": variables})
        answers.append(comparable(answer.content))
    assert answers[0] == answers[1], query
    assert not await differences(twins)
    twins.examples += 1


async def test_a_purchase_payload_is_read_by_its_plan_after_the_commit(twins, sql_statements):
    compiled, general = twins.callers["operator"]
    query = in_twins(
        'mutation { recordPurchase(input: {member: {id: "<member:1>"}, channel: ONLINE, '
        'source: "app", externalOrderId: "<key>", amount: "20.00"}) { id amount grossAmount '
        "pointsEarned member { id displayName balance { available } } } }",
        twins,
    )
    answers = [await http.post("/graphql", json={"query": query}) for http in (compiled, general)]
    assert comparable(answers[0].content) == comparable(answers[1].content)
    assert answers[0].json()["data"]["recordPurchase"]["grossAmount"] == "20.00"
    # the payload, member and balance included, is one statement after the commit
    after_commit = sql_statements.statements[-1]
    assert after_commit.startswith("SELECT") and "FROM purchases" in after_commit
    assert not await differences(twins)


async def test_a_refused_write_is_the_fields_error_and_writes_nothing(twins):
    compiled, general = twins.callers["operator"]
    query = in_twins(
        'mutation { redeemPoints(input: {member: {id: "<member:0>"}, points: 1000000, '
        'channel: ONLINE, idempotencyKey: "<key>"}) { id points } }',
        twins,
    )
    answers = [await http.post("/graphql", json={"query": query}) for http in (compiled, general)]
    assert comparable(answers[0].content) == comparable(answers[1].content)
    body = answers[0].json()
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["redeemPoints"]
    assert body["errors"][0]["extensions"]["code"] == "INSUFFICIENT_POINTS"
    assert not await differences(twins)


def test_every_payload_table_is_a_type_with_an_id():
    from tests.resolvers.test_compiled import SCHEMA

    for type_name, table in PAYLOAD_TABLES.items():
        assert "id" in SCHEMA.get_type(type_name).fields
        assert "id" in table.c
