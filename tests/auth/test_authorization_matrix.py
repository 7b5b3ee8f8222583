"""Every root field and mutation, called by every principal kind and scope, answers as
tests/auth/authorization_matrix.csv says: the field runs ("allow") or is refused with
UNAUTHENTICATED / FORBIDDEN ("deny"). A field missing from the matrix fails the test."""

from __future__ import annotations

import csv
from pathlib import Path

from auth import clients
from gateway.app import build_schema
from tests.conftest import bearer, graphql, http_client
from tests.factories import a_member, a_partner

MATRIX = Path(__file__).with_name("authorization_matrix.csv")
REFUSED = {"UNAUTHENTICATED", "FORBIDDEN"}
M = '{id: "1"}'

# One call per root field, with arguments that pass validation; what happens after the
# permission check (NOT_FOUND, VALIDATION, a result) does not matter here.
CALLS = {
    "Query.member": 'query { member(id: "1") { id } }',
    "Query.memberByIdentity": 'query { memberByIdentity(kind: EMAIL, value: "a@b.c") { id } }',
    "Query.members": "query { members(first: 1) { nodes { id } } }",
    "Query.me": "query { me { id } }",
    "Query.program": "query { program { currency } }",
    "Query.purchase": 'query { purchase(id: "1") { id } }',
    "Query.partner": 'query { partner(id: "1") { id } }',
    "Query.partners": "query { partners { id } }",
    "Query.reward": 'query { reward(id: "1") { id } }',
    "Query.rewards": "query { rewards(first: 1) { nodes { id } } }",
    "Query.auditLog": "query { auditLog(first: 1) { nodes { id } } }",
    "Query._service": "query { _service { sdl } }",
    "Query._entities": 'query { _entities(representations: [{__typename: "Member", id: "1"}])'
    " { __typename } }",
    "Mutation.enrollMember": 'mutation { enrollMember(input: {displayName: "X",'
    ' idempotencyKey: "matrix"}) { id } }',
    "Mutation.linkIdentity": 'mutation { linkIdentity(input: {memberId: "1",'
    ' identity: {kind: EMAIL, value: "m@x.org"}}) { kind } }',
    "Mutation.recordPurchase": f"mutation {{ recordPurchase(input: {{member: {M},"
    ' channel: ONLINE, source: "s", externalOrderId: "matrix", amount: "1.00"}) { id } }',
    "Mutation.refundPurchase": 'mutation { refundPurchase(input: {purchaseId: "999",'
    ' amount: "1.00", idempotencyKey: "matrix"}) { id } }',
    "Mutation.redeemPoints": f"mutation {{ redeemPoints(input: {{member: {M}, points: 1,"
    ' channel: ONLINE, idempotencyKey: "matrix"}) { id } }',
    "Mutation.cancelRedemption": 'mutation { cancelRedemption(input: {redemptionId: "999"})'
    " { id } }",
    "Mutation.createPartner": 'mutation { createPartner(input: {code: "matrix", name: "M"})'
    " { id } }",
    "Mutation.recordInteraction": f"mutation {{ recordInteraction(input: {{member: {M},"
    ' kind: REVIEW, idempotencyKey: "matrix"}) { id } }',
    "Mutation.applyReferralCode": 'mutation { applyReferralCode(input: {memberId: "1",'
    ' referralCode: "NOPE"}) { id } }',
    "Mutation.createReward": 'mutation { createReward(input: {code: "matrix", name: "M",'
    " pointCost: 1}) { id } }",
    "Mutation.updateReward": 'mutation { updateReward(input: {rewardId: "999"}) { id } }',
    "Mutation.redeemReward": f"mutation {{ redeemReward(input: {{member: {M},"
    ' rewardId: "999", idempotencyKey: "matrix-reward"}) { id } }',
    "Mutation.mergeMembers": 'mutation { mergeMembers(input: {survivorId: "1",'
    ' mergedId: "2"}) { id } }',
    "Query.exchange": 'query { exchange(id: "nope") { id } }',
    "Query.exchanges": "query { exchanges(first: 1) { nodes { id } } }",
    "Mutation.updatePartner": 'mutation { updatePartner(input: {partnerId: "999"}) { id } }',
    "Mutation.setExchangeTerms": 'mutation { setExchangeTerms(input: {partnerId: "999",'
    ' direction: OUTBOUND, rate: "1", minPoints: 1, maxPoints: 2, stepPoints: 1,'
    ' dailyCapPoints: 2, validFrom: "2026-01-01T00:00:00Z"}) { id } }',
    "Mutation.quoteExchange": f"mutation {{ quoteExchange(input: {{member: {M},"
    ' partnerId: "999", points: 100}) { id } }',
    "Mutation.requestExchange": 'mutation { requestExchange(input: {quoteId: "nope",'
    ' idempotencyKey: "matrix"}) { id } }',
    "Mutation.creditInboundExchange": f"mutation {{ creditInboundExchange(input: {{member: {M},"
    ' units: 1, reference: "matrix", partnerId: "999"}) { id } }',
    "Query.settlementStatement": 'query { settlementStatement(period: "2026-11",'
    ' partnerId: "999") { net } }',
    "Query.settlementStatements": 'query { settlementStatements(partnerId: "999") { period } }',
    "Mutation.closeSettlementStatement": 'mutation { closeSettlementStatement(partnerId: "999",'
    ' period: "2026-11") { net } }',
    "Mutation.addRateCard": 'mutation { addRateCard(input: {partnerId: "999",'
    ' validFrom: "2026-01-01T00:00:00Z"}) { id } }',
    "Mutation.subscribeWebhook": 'mutation { subscribeWebhook(input: {url: "https://x.test",'
    ' partnerId: "999"}) { id } }',
}


def load_matrix() -> tuple[list[str], dict[str, dict[str, str]]]:
    lines = [line for line in MATRIX.read_text().splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    principals = [name for name in rows[0] if name != "field"]
    return principals, {row["field"]: {p: row[p] for p in principals} for row in rows}


def root_fields() -> set[str]:
    schema = build_schema()._schema
    fields = {f"Query.{name}" for name in schema.query_type.fields}
    return fields | {f"Mutation.{name}" for name in schema.mutation_type.fields}


def test_every_root_field_is_in_the_matrix_and_has_a_call():
    _, matrix = load_matrix()

    assert sorted(root_fields() - set(matrix)) == []
    assert sorted(set(matrix) - root_fields()) == []
    assert sorted(set(matrix) ^ set(CALLS)) == []


async def headers_for(app, db, principal: str) -> dict[str, str] | None:
    if principal == "anonymous":
        return None
    if principal == "member":
        return await bearer(app, "member:1")
    if principal.startswith("operator:"):
        scope = principal.removeprefix("operator:")
        return await bearer(app, "operator:matrix", "" if scope == "none" else scope)
    scope = principal.removeprefix("partner:")
    created = await clients.create_client(db, name=scope, scopes=[scope], partner_code="matrix-p")
    return await bearer(app, created.client_id, scope, client_id=created.client_id)


async def test_every_principal_gets_the_answer_the_matrix_gives(app, db):
    principals, matrix = load_matrix()
    await a_member(db)
    await a_member(db)
    await a_partner(db, "matrix-p")
    differences = []
    for principal in principals:
        http = http_client(app, await headers_for(app, db, principal))
        for field, answers in matrix.items():
            expected = answers[principal]
            body = await graphql(http, CALLS[field])
            codes = {e.get("extensions", {}).get("code") for e in body.get("errors", [])}
            actual = "deny" if codes & REFUSED else "allow"
            if actual != expected:
                differences.append(f"{field} as {principal}: {actual}, matrix says {expected}")
        await http.aclose()

    assert differences == []
