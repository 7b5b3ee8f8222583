"""Who read a member's data (docs/privacy.md, "Who read my data"): each request of a partner's
client that answers a member's record counts one read of it by that client that day, on the
planned path and the general path alike (however often the answer holds it); operators' and
the member's own reads are not partners' and are not counted; the member's export holds them."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime

from sqlalchemy import select

from infra.models import partner_reads
from loyalty import export
from tests.auth.test_privacy import ENTITIES, MEMBER, world  # noqa: F401 (a fixture)
from tests.auth.test_revocations import serving
from tests.conftest import bearer, graphql, http_client
from tests.factories import a_member

TWICE = """query T($id: ID!) { a: member(id: $id) { displayName } b: member(id: $id) { tier } }"""


async def reads_of(db) -> list[tuple]:
    async with db.read() as conn:
        found = await conn.execute(select(
            partner_reads.c.member_id, partner_reads.c.partner_id, partner_reads.c.day,
            partner_reads.c.reads,
        ).order_by(partner_reads.c.member_id))  # fmt: skip
        return [tuple(row) for row in found]


async def test_each_partner_request_answering_a_member_counts_one_read_on_both_paths(world, db):  # noqa: F811
    ada, skyway = world["ada"], world["skyway"]
    bob = await a_member(db, "Bob")  # not linked to skyway: never answered to it
    app = world["compiled_app"]
    operator = http_client(app, await bearer(app, "operator:tests", "admin"))
    asked = [(MEMBER, {"id": str(ada.id)}), (TWICE, {"id": str(ada.id)}),
             (ENTITIES, {"r": [{"__typename": "Member", "id": str(ada.id)}]}),
             (MEMBER, {"id": str(bob.id)})]  # fmt: skip
    answers = []
    async with AsyncExitStack() as lifespan:  # the flusher of the served app counts in memory
        await serving(lifespan, app)
        for http in world["paths"].values():
            for query, variables in asked * 2:  # the compiled app: first sightings, then plans
                answers.append(await graphql(http, query, variables))
        await graphql(operator, MEMBER, {"id": str(ada.id)})
        await graphql(world["me"], "{ me { displayName } }")
    outcomes = app.state.compiled_operations.outcomes

    assert all("errors" not in a for a in answers[:3]) and answers[3]["errors"]
    assert "$m" not in str(answers)
    # 3 requests answering Ada, twice, on each of the two paths
    assert await reads_of(db) == [(ada.id, skyway.id, datetime.now(UTC).date(), 12)]
    if db.dialect == "postgresql":
        assert outcomes["compiled"] >= 3  # planned statements answered some of them
    document = await export.export_member(db, ada.id)
    assert [(r["partner_id"], r["reads"]) for r in document["tables"]["partner_reads"]] == [
        (skyway.id, 12)]  # fmt: skip
