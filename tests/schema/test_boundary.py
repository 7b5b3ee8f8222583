"""Bad input is a VALIDATION naming the argument, refused at the schema boundary before anything
is read or written; transport errors are GraphQL-shaped BAD_REQUESTs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import graphql
from tests.factories import a_member
from tests.gateway.test_graphql import ENROLL, RECORD_PURCHASE, REDEEM


def enrolment(**changes: object) -> dict:
    return {"input": {"displayName": "Ada", "idempotencyKey": "k-1", **changes}}


def purchase(member_id: int, **changes: object) -> dict:
    return {"input": {"member": {"id": str(member_id)}, "channel": "ONLINE", "source": "web",
                      "externalOrderId": "o-1", "amount": "10.00", **changes}}  # fmt: skip


def refusal(body: dict) -> tuple[str, str]:
    (error,) = body["errors"]
    return error["extensions"]["code"], error["extensions"].get("argument")


@pytest.mark.parametrize(
    ("changes", "argument"),
    [
        ({"displayName": "Ada\x00"}, "input.displayName"),
        ({"displayName": "A" * 201}, "input.displayName"),
        ({"idempotencyKey": "k" * 201}, "input.idempotencyKey"),
        ({"idempotencyKey": ""}, "input.idempotencyKey"),
        ({"idempotencyKey": "  "}, "input.idempotencyKey"),
        ({"identities": [{"kind": "LOYALTY_CARD", "value": "C\x001"}]},
         "input.identities[0].value"),
        ({"identities": [{"kind": "EMAIL", "value": "a@b" + "c" * 300}]},
         "input.identities[0].value"),
    ],
)  # fmt: skip
async def test_enrolment_refuses_bad_text_naming_it_and_writes_nothing(client, changes, argument):
    body = await graphql(client, ENROLL, enrolment(**changes))

    assert refusal(body) == ("VALIDATION", argument)
    listed = await graphql(client, "{ members(first: 5) { nodes { id } } }")
    assert listed["data"]["members"]["nodes"] == []


@pytest.mark.parametrize(
    ("changes", "argument"),
    [
        ({"source": "web\x07"}, "input.source"),
        ({"externalOrderId": "o" * 201}, "input.externalOrderId"),
        ({"currency": "USDX"}, "input.currency"),
    ],
)
async def test_a_purchase_refuses_bad_text(client, db, changes, argument):
    buyer = await a_member(db)

    body = await graphql(client, RECORD_PURCHASE, purchase(buyer.id, **changes))

    assert refusal(body) == ("VALIDATION", argument)


async def test_an_empty_or_overlong_key_is_refused_by_every_mutation_that_takes_one(client, db):
    buyer = await a_member(db)
    for key in ("", "x" * 201):
        variables = {"input": {"member": {"id": str(buyer.id)}, "points": 1,
                               "channel": "ONLINE", "idempotencyKey": key}}  # fmt: skip
        assert refusal(await graphql(client, REDEEM, variables)) == (
            "VALIDATION", "input.idempotencyKey",
        )  # fmt: skip


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(days=366), False),
        (timedelta(days=300), True),
        (timedelta(minutes=-1), True),  # a till's clock a little ahead
        (timedelta(minutes=-10), False),
    ],
)
async def test_purchase_dates_lie_inside_the_back_dating_window(client, db, offset, accepted):
    buyer = await a_member(db)
    moment = datetime.now(UTC) - offset

    body = await graphql(client, RECORD_PURCHASE,
                         purchase(buyer.id, purchasedAt=moment.isoformat()))  # fmt: skip

    if accepted:
        assert "errors" not in body, body
    else:
        assert refusal(body) == ("VALIDATION", "purchasedAt")


async def test_a_purchase_dated_1900_is_refused(client, db):
    buyer = await a_member(db)

    body = await graphql(client, RECORD_PURCHASE,
                         purchase(buyer.id, purchasedAt="1900-01-01T00:00:00+00:00"))  # fmt: skip
    naive = await graphql(client, RECORD_PURCHASE,
                          purchase(buyer.id, purchasedAt="2026-01-01T00:00:00"))  # fmt: skip

    # refused at the boundary (instants lie in [1970, 2200) and name their zone)
    assert refusal(body) == ("VALIDATION", "input.purchasedAt")
    assert refusal(naive) == ("VALIDATION", "input.purchasedAt")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"query=%7B__typename%7D", "application/x-www-form-urlencoded"),
        (b'[{"query": "{ __typename }"}]', "application/json"),
    ],
)
async def test_transport_errors_are_graphql_shaped(client, content, content_type):
    response = await client.post(
        "/graphql", content=content, headers={"content-type": content_type}
    )

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert [e["extensions"]["code"] for e in response.json()["errors"]] in (
        ["BAD_REQUEST"], ["BATCHING_DISABLED"],
    )  # fmt: skip


async def test_request_errors_follow_graphql_over_https_status_rule(client, db):
    """One rule (GraphQL over HTTP): a well-formed request whose operation did not run is HTTP
    200 for application/json and 400 for application/graphql-response+json, whether the
    boundary of strings, a limit or validation refused it; a mutation's domain refusal ran,
    so it is 200 for both."""
    buyer = await a_member(db)
    strict = {"accept": "application/graphql-response+json"}
    bad_string = {"query": RECORD_PURCHASE,
                  "variables": purchase(buyer.id, source="web\x00")}  # fmt: skip
    invalid = {"query": "{ nosuchfield }"}
    domain = {"query": RECORD_PURCHASE, "variables": purchase(buyer.id, amount="-1.00")}

    answers = {}
    for name, payload in (("string", bad_string), ("invalid", invalid), ("domain", domain)):
        legacy = await client.post("/graphql", json=payload)
        graphql_response = await client.post("/graphql", json=payload, headers=strict)
        answers[name] = (legacy.status_code, graphql_response.status_code,
                         graphql_response.headers["content-type"].split(";")[0])  # fmt: skip

    assert answers == {
        "string": (200, 400, "application/graphql-response+json"),
        "invalid": (200, 400, "application/graphql-response+json"),
        "domain": (200, 200, "application/graphql-response+json"),
    }
