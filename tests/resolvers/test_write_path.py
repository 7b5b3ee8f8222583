"""A mutation checks ownership in the transaction that acts: no separate read before it."""

from __future__ import annotations

from sqlalchemy import event

from tests.conftest import bearer, graphql, http_client
from tests.factories import a_member

PURCHASE = """mutation { recordPurchase(input: {member: {id: "%s"}, channel: ONLINE,
  source: "web", externalOrderId: "%s", amount: "10.00"}) { id } }"""


async def test_a_purchase_checks_its_member_in_the_statement_that_reads_it(app, db, sql_statements):
    buyer = await a_member(db)
    http = http_client(app, await bearer(app, "operator:writes", "admin"))
    await graphql(http, PURCHASE % (buyer.id, "warm-up"))
    checkouts: list[object] = []

    def checked_out(*_: object) -> None:
        checkouts.append(1)

    event.listen(db.engine.sync_engine.pool, "checkout", checked_out)
    sql_statements.statements.clear()
    try:
        body = await graphql(http, PURCHASE % (buyer.id, "counted"))
    finally:
        event.remove(db.engine.sync_engine.pool, "checkout", checked_out)

    assert "errors" not in body
    # the token's revocation check, then the purchase's own transaction: nothing in between,
    # and nothing after it for a payload of its id alone (resolvers.compiled.writes)
    assert len(checkouts) == 2
    member_reads = [s for s in sql_statements.statements if "FROM members" in s]
    assert len(member_reads) == 1
    assert not any(" ".join(s.split()).startswith("SELECT members.id FROM members") for s in
                   sql_statements.statements)  # fmt: skip
