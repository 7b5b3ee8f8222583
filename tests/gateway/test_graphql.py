from __future__ import annotations

import pytest

from tests.conftest import error_codes, graphql
from tests.factories import a_member_with_points, a_partner

ENROLL = """
mutation Enroll($input: EnrollMemberInput!) {
  enrollMember(input: $input) {
    id displayName tier identities { kind value } balance { available }
  }
}"""
RECORD_PURCHASE = """
mutation Record($input: RecordPurchaseInput!) {
  recordPurchase(input: $input) {
    id amount pointsEarned channel member { id balance { available pending } } partner { code }
  }
}"""
REFUND = """
mutation Refund($input: RefundPurchaseInput!) {
  refundPurchase(input: $input) {
    amount pointsReversed pointsUnrecovered purchase { refundedAmount }
  }
}"""
REDEEM = """
mutation Redeem($input: RedeemPointsInput!) {
  redeemPoints(input: $input) { id points status member { balance { available } } }
}"""
CANCEL = """
mutation Cancel($id: ID!) {
  cancelRedemption(input: {redemptionId: $id}) { status member { balance { available } } }
}"""
MEMBER = """
query Member($id: ID!) {
  member(id: $id) {
    displayName
    ledger(first: 10) { nodes { points reason counterparty phase } }
    purchases(first: 1) { edges { node { id } } pageInfo { hasNextPage endCursor } }
  }
}"""
MEMBER_BY_CARD = """
query ByCard($card: String!) { memberByIdentity(kind: LOYALTY_CARD, value: $card) { id } }"""
PAGE_OF_PURCHASES = """
query Page($id: ID!, $after: String) {
  member(id: $id) {
    purchases(first: 1, after: $after) { edges { node { amount } } pageInfo { endCursor } }
  }
}"""


async def enroll(client, name="Ada", card="CARD-1", key="enroll-1"):
    identities = [{"kind": "LOYALTY_CARD", "value": card}]
    variables = {"input": {"displayName": name, "idempotencyKey": key, "identities": identities}}
    return await graphql(client, ENROLL, variables)


async def test_a_member_enrolls_buys_in_a_store_and_sees_the_points(client):
    enrolled = (await enroll(client))["data"]["enrollMember"]

    bought = await graphql(client, RECORD_PURCHASE, {"input": {
        "member": {"identity": {"kind": "LOYALTY_CARD", "value": "CARD-1"}},
        "channel": "OFFLINE", "source": "store-12", "externalOrderId": "pos-1", "amount": "42.50",
    }})  # fmt: skip

    assert enrolled["tier"] == "SILVER"
    assert enrolled["balance"] == {"available": 0}
    assert bought["data"]["recordPurchase"] == {
        "id": bought["data"]["recordPurchase"]["id"],
        "amount": "42.50",
        "pointsEarned": 42,
        "channel": "OFFLINE",
        "member": {"id": enrolled["id"], "balance": {"available": 42, "pending": 0}},
        "partner": None,
    }
    found = await graphql(client, MEMBER_BY_CARD, {"card": "CARD-1"})
    assert found["data"]["memberByIdentity"]["id"] == enrolled["id"]


async def test_refunds_redemptions_and_the_ledger_through_graphql(client):
    member_id = (await enroll(client))["data"]["enrollMember"]["id"]
    purchase = await graphql(client, RECORD_PURCHASE, {"input": {
        "member": {"id": member_id}, "channel": "ONLINE", "source": "web",
        "externalOrderId": "web-1", "amount": "200.00",
    }})  # fmt: skip
    purchase_id = purchase["data"]["recordPurchase"]["id"]

    refunded = await graphql(client, REFUND, {"input": {
        "purchaseId": purchase_id, "amount": "50.00", "idempotencyKey": "refund-1"}})  # fmt: skip
    redeemed = await graphql(client, REDEEM, {"input": {
        "member": {"id": member_id}, "points": 100, "channel": "ONLINE",
        "idempotencyKey": "redeem-1"}})  # fmt: skip
    cancelled = await graphql(client, CANCEL, {"id": redeemed["data"]["redeemPoints"]["id"]})
    history = await graphql(client, MEMBER, {"id": member_id})

    assert refunded["data"]["refundPurchase"] == {
        "amount": "50.00", "pointsReversed": 50, "pointsUnrecovered": 0,
        "purchase": {"refundedAmount": "50.00"},
    }  # fmt: skip
    assert redeemed["data"]["redeemPoints"]["member"]["balance"]["available"] == 50
    assert cancelled["data"]["cancelRedemption"] == {
        "status": "CANCELLED", "member": {"balance": {"available": 150}}}  # fmt: skip
    entries = history["data"]["member"]["ledger"]["nodes"]
    assert [(e["points"], e["reason"]) for e in entries] == [
        (100, "REDEMPTION_CANCEL"), (-100, "REDEEM"), (-50, "REFUND"), (200, "EARN"),
    ]  # fmt: skip
    assert entries[-1]["counterparty"] == "program:issuance"


async def test_purchases_page_with_opaque_cursors(client):
    member_id = (await enroll(client))["data"]["enrollMember"]["id"]
    for number, amount in enumerate(["1.00", "2.00", "3.00"]):
        await graphql(client, RECORD_PURCHASE, {"input": {
            "member": {"id": member_id}, "channel": "ONLINE", "source": "web",
            "externalOrderId": f"o{number}", "amount": amount}})  # fmt: skip

    amounts, after = [], None
    for _ in range(4):
        body = await graphql(client, PAGE_OF_PURCHASES, {"id": member_id, "after": after})
        page = body["data"]["member"]["purchases"]
        amounts += [edge["node"]["amount"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if after is None:
            break

    assert amounts == ["3.00", "2.00", "1.00"]


async def test_a_mutation_replayed_with_the_same_key_answers_the_same(client, db):
    member = await a_member_with_points(db, 100)
    redeem = {"input": {"member": {"id": str(member.id)}, "points": 30, "channel": "ONLINE",
                        "idempotencyKey": "k1"}}  # fmt: skip

    first = await graphql(client, REDEEM, redeem)
    again = await graphql(client, REDEEM, redeem)
    redeem["input"]["points"] = 31
    changed = await graphql(client, REDEEM, redeem)

    assert again == first
    assert first["data"]["redeemPoints"]["member"]["balance"]["available"] == 70
    assert error_codes(changed) == ["IDEMPOTENCY_CONFLICT"]


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        (MEMBER, {"id": "999999"}, "NOT_FOUND"),
        (MEMBER, {"id": "not-a-number"}, "NOT_FOUND"),
        (MEMBER_BY_CARD, {"card": "NO-SUCH-CARD"}, "NOT_FOUND"),
        (PAGE_OF_PURCHASES, {"id": "1", "after": "garbage"}, "VALIDATION"),
        ("{ members(first: 1000) { edges { cursor } } }", {}, "VALIDATION"),
        ("{ member(id: 1) { nope } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("{ member(id: 1) { ", {}, "GRAPHQL_PARSE_FAILED"),
        (RECORD_PURCHASE, {"input": {"member": {"id": "1"}, "channel": "ONLINE", "source": "w",
                                     "externalOrderId": "x", "amount": "ten"}}, "BAD_USER_INPUT"),
        (RECORD_PURCHASE, {"input": {"member": {"id": "1", "identity": {"kind": "PHONE",
                                     "value": "1"}}, "channel": "ONLINE", "source": "w",
                                     "externalOrderId": "x", "amount": "1"}},
         "GRAPHQL_VALIDATION_FAILED"),
    ],
)  # fmt: skip
async def test_bad_requests_get_a_stable_error_code(client, db, query, variables, code):
    await a_member_with_points(db, 10)
    body = await graphql(client, query, variables)
    assert error_codes(body) == [code]


async def test_insufficient_points_is_a_clear_error_and_nothing_is_spent(client, db):
    member = await a_member_with_points(db, 10)
    body = await graphql(client, REDEEM, {"input": {"member": {"id": str(member.id)},
                         "points": 11, "channel": "ONLINE", "idempotencyKey": "k"}})  # fmt: skip
    balance = await graphql(client, "query($id: ID!) { member(id: $id) { balance { available } } }",
                            {"id": str(member.id)})  # fmt: skip

    assert error_codes(body) == ["INSUFFICIENT_POINTS"]
    assert balance["data"]["member"]["balance"]["available"] == 10


async def test_a_partner_purchase_through_graphql_names_the_partner(client, db):
    partner = await a_partner(db)
    member = await a_member_with_points(db, 1)
    body = await graphql(client, RECORD_PURCHASE, {"input": {
        "member": {"id": str(member.id)}, "channel": "PARTNER", "source": "acme-store-3",
        "externalOrderId": "p-1", "amount": "12.00", "partnerId": str(partner.id)}})  # fmt: skip
    assert body["data"]["recordPurchase"]["partner"] == {"code": "acme-coffee"}


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ok"}
