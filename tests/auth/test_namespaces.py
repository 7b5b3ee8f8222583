"""Partners do not share key spaces or aggregates: order ids and idempotency keys are per
partner, errors name no id the caller may not see, enrolment does not reveal who is a member,
and a shared member's spend is each partner's own."""

from __future__ import annotations

from loyalty import member
from loyalty.member import IdentityKind
from loyalty.visibility import EVERYTHING
from tests.auth.test_ownership import a_partner_client
from tests.conftest import error_codes, graphql
from tests.factories import a_member

SCOPES = "members:read members:write purchases:write points:redeem"
RECORD = """
mutation R($member: MemberRefInput!, $order: String!, $amount: Decimal!) {
  recordPurchase(input: {member: $member, channel: ONLINE, source: "pos",
                         externalOrderId: $order, amount: $amount}) { id pointsEarned }
}"""
REDEEM = """
mutation D($member: ID!, $points: Int!) {
  redeemPoints(input: {member: {id: $member}, points: $points, channel: PARTNER,
                       idempotencyKey: "redeem-1"}) { id points }
}"""
ENROLL = """
mutation E($card: String!) {
  enrollMember(input: {displayName: "Probe", idempotencyKey: "probe",
                       identities: [{kind: LOYALTY_CARD, value: $card}]}) { id }
}"""
SEGMENT = """query S($id: ID!) { member(id: $id) { segment { spendAmount purchaseCount } } }"""
ORDER_BY_CARD = """
mutation C($card: String!) {
  recordPurchase(input: {member: {identity: {kind: LOYALTY_CARD, value: $card}}, channel: OFFLINE,
                         source: "till", externalOrderId: "till-1", amount: "5.00"}) {
    id member { id }
  }
}"""


async def two_partners_sharing_a_member(app, db):
    acme, as_acme = await a_partner_client(app, db, "acme-coffee", SCOPES)
    sky, as_sky = await a_partner_client(app, db, "skyway-air", SCOPES)
    shared = await a_member(db, "Shared", card="CARD-SHARED")
    for partner, account in ((acme, "ACME-1"), (sky, "SKY-1")):
        await member.link_identity(db, member_id=shared.id, kind=IdentityKind.PARTNER_ACCOUNT,
                                   value=account, partner_id=partner.id,
                                   visible=EVERYTHING)  # fmt: skip
    return shared, as_acme, as_sky


async def test_order_ids_and_idempotency_keys_belong_to_each_partner(app, db):
    shared, as_acme, as_sky = await two_partners_sharing_a_member(app, db)
    ref = {"id": str(shared.id)}

    acme_order = await graphql(as_acme, RECORD, {"member": ref, "order": "o-1", "amount": "30.00"})
    sky_order = await graphql(as_sky, RECORD, {"member": ref, "order": "o-1", "amount": "70.00"})
    acme_redeem = await graphql(as_acme, REDEEM, {"member": str(shared.id), "points": 10})
    sky_redeem = await graphql(as_sky, REDEEM, {"member": str(shared.id), "points": 25})
    acme_again = await graphql(as_acme, RECORD, {"member": ref, "order": "o-1", "amount": "30.00"})

    assert acme_order["data"]["recordPurchase"]["pointsEarned"] == 30
    assert sky_order["data"]["recordPurchase"]["pointsEarned"] == 70
    assert sky_order["data"]["recordPurchase"]["id"] != acme_order["data"]["recordPurchase"]["id"]
    assert acme_again == acme_order  # still idempotent within a partner
    assert acme_redeem["data"]["redeemPoints"]["points"] == 10
    assert sky_redeem["data"]["redeemPoints"]["points"] == 25


async def test_errors_name_no_member_a_partner_may_not_see(app, db):
    _, as_acme, _ = await two_partners_sharing_a_member(app, db)
    stranger = await a_member(db, "Stranger", card="CARD-STRANGER-4242")

    by_card = await graphql(as_acme, ORDER_BY_CARD, {"card": "CARD-STRANGER-4242"})

    assert error_codes(by_card) == ["NOT_FOUND"]
    assert by_card["data"] is None  # Purchase.member is non-null: the answer holds no member
    messages = " ".join(e["message"] for e in by_card["errors"])
    assert f" {stranger.id}" not in messages and f"{stranger.id} " not in messages


async def test_enrolment_does_not_tell_a_partner_who_is_a_member(app, client, db):
    shared, as_acme, as_sky = await two_partners_sharing_a_member(app, db)
    await a_member(db, "Stranger", card="CARD-STRANGER")

    partner_on_stranger = await graphql(as_acme, ENROLL, {"card": "CARD-STRANGER"})
    partner_on_linked = await graphql(as_sky, ENROLL, {"card": "CARD-SHARED"})
    operator_on_stranger = await graphql(client, ENROLL, {"card": "CARD-STRANGER"})

    assert error_codes(partner_on_stranger) == ["VALIDATION"]
    assert "enrolled" not in partner_on_stranger["errors"][0]["message"].replace("be enrolled", "")
    assert error_codes(partner_on_linked) == ["IDENTITY_TAKEN"]
    assert error_codes(operator_on_stranger) == ["IDENTITY_TAKEN"]
    assert shared.id


async def test_a_partner_sees_a_shared_members_spend_with_it_only(app, client, db):
    shared, as_acme, as_sky = await two_partners_sharing_a_member(app, db)
    ref = {"id": str(shared.id)}
    await graphql(as_acme, RECORD, {"member": ref, "order": "a-1", "amount": "30.00"})
    await graphql(as_sky, RECORD, {"member": ref, "order": "s-1", "amount": "70.00"})
    await graphql(as_sky, RECORD, {"member": ref, "order": "s-2", "amount": "5.00"})

    seen_by = {
        name: (await graphql(http, SEGMENT, {"id": str(shared.id)}))["data"]["member"]["segment"]
        for name, http in (("acme", as_acme), ("sky", as_sky), ("operator", client))
    }

    assert seen_by["acme"] == {"spendAmount": "30.00", "purchaseCount": 1}
    assert seen_by["sky"] == {"spendAmount": "75.00", "purchaseCount": 2}
    assert seen_by["operator"] == {"spendAmount": "105.00", "purchaseCount": 3}
