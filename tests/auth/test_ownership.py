"""What a let-through principal sees: a partner its linked members and its own purchases, a
member itself; a foreign id answers exactly like a missing one."""

from __future__ import annotations

from auth import clients
from loyalty import member
from loyalty.member import IdentityKind
from tests.conftest import bearer, error_codes, graphql, http_client
from tests.factories import a_member, a_partner, a_purchase

MEMBER = """
query M($id: ID!) { member(id: $id) { id displayName identities { kind value } } }"""
MEMBERS = "{ members(first: 20) { nodes { id } } }"
PURCHASE = "query P($id: ID!) { purchase(id: $id) { id member { id } } }"
ENROLL = """
mutation { enrollMember(input: {displayName: "Via partner", idempotencyKey: "via-partner",
  identities: [{kind: PARTNER_ACCOUNT, value: "ACME-77"}]}) { id identities { kind value } } }"""
RECORD = """
mutation R($member: MemberRefInput!) {
  recordPurchase(input: {member: $member, channel: ONLINE, source: "acme-store-1",
                         externalOrderId: "acme-1", amount: "20.00"}) {
    id channel partner { code } pointsEarned
  }
}"""
AUDIT = '{ auditLog(first: 10, action: "mutation.recordPurchase") { nodes { subject outcome } } }'


async def a_partner_client(app, db, code, scopes):
    partner = await a_partner(db, code)
    created = await clients.create_client(db, name=code, scopes=scopes.split(), partner_code=code)
    headers = await bearer(app, created.client_id, scopes, client_id=created.client_id)
    return partner, http_client(app, {**headers, "x-client-id": created.client_id})


async def test_a_partner_sees_only_its_linked_members_and_a_foreign_id_is_not_found(app, db):
    acme, as_acme = await a_partner_client(app, db, "acme-coffee", "members:read members:write")
    linked = await a_member(db, "Linked")
    skyway = await a_partner(db, "skyway-air")
    for partner, account in ((acme, "ACME-1"), (skyway, "SKY-1")):
        await member.link_identity(db, member_id=linked.id, kind=IdentityKind.PARTNER_ACCOUNT,
                                   value=account, partner_id=partner.id)  # fmt: skip
    stranger = await a_member(db, "Stranger")

    listed = await graphql(as_acme, MEMBERS)
    foreign = await graphql(as_acme, MEMBER, {"id": str(stranger.id)})
    missing = await graphql(as_acme, MEMBER, {"id": "987654"})
    own = await graphql(as_acme, MEMBER, {"id": str(linked.id)})

    assert listed["data"]["members"]["nodes"] == [{"id": str(linked.id)}]
    assert error_codes(foreign) == error_codes(missing) == ["NOT_FOUND"]
    assert foreign["errors"][0]["message"].replace(str(stranger.id), "?") == missing["errors"][0][
        "message"
    ].replace("987654", "?")
    assert own["data"]["member"]["displayName"] == "Linked"
    # and it does not learn that the member also has an account with another partner
    assert own["data"]["member"]["identities"] == [{"kind": "PARTNER_ACCOUNT", "value": "ACME-1"}]


async def test_a_member_enrolled_by_a_partner_is_linked_to_it(app, db):
    _, as_acme = await a_partner_client(app, db, "acme-coffee", "members:read members:write")

    enrolled = await graphql(as_acme, ENROLL)
    listed = await graphql(as_acme, MEMBERS)

    new_id = enrolled["data"]["enrollMember"]["id"]
    assert enrolled["data"]["enrollMember"]["identities"] == [
        {"kind": "PARTNER_ACCOUNT", "value": "ACME-77"}
    ]
    assert listed["data"]["members"]["nodes"] == [{"id": new_id}]


async def test_a_partner_records_purchases_at_itself_and_sees_only_those(app, client, db, program):
    _, as_acme = await a_partner_client(app, db, "acme-coffee", "purchases:write members:read")
    buyer = await a_member(db, card="CARD-9")
    web_purchase = await a_purchase(db, program, buyer.id, "50.00")

    card = {"identity": {"kind": "LOYALTY_CARD", "value": "CARD-9"}}
    recorded = await graphql(as_acme, RECORD, {"member": card})
    by_id_unlinked = await graphql(as_acme, RECORD, {"member": {"id": str(buyer.id)}})
    own = await graphql(as_acme, PURCHASE, {"id": recorded["data"]["recordPurchase"]["id"]})
    other = await graphql(as_acme, PURCHASE, {"id": str(web_purchase.id)})
    audit = await graphql(client, AUDIT)

    # the purchase is booked at the partner whatever channel the client asked for
    assert recorded["data"]["recordPurchase"]["channel"] == "PARTNER"
    assert recorded["data"]["recordPurchase"]["partner"] == {"code": "acme-coffee"}
    assert error_codes(by_id_unlinked) == ["NOT_FOUND"]
    # its own purchase is visible, but not the member behind it (not linked to the partner)
    assert error_codes(own) == ["NOT_FOUND"] and own["errors"][0]["path"] == ["purchase", "member"]
    assert error_codes(other) == ["NOT_FOUND"]
    entries = [(n["subject"], n["outcome"]) for n in audit["data"]["auditLog"]["nodes"]]
    assert [outcome for _, outcome in entries] == ["NOT_FOUND", "OK"]
    assert {subject for subject, _ in entries} == {as_acme.headers["x-client-id"]}


async def test_a_member_sees_itself_only(app, db, program):
    ada = await a_member(db, "Ada")
    grace = await a_member(db, "Grace")
    graces_purchase = await a_purchase(db, program, grace.id, "10.00")
    as_ada = http_client(app, await bearer(app, f"member:{ada.id}"))

    itself = await graphql(as_ada, MEMBER, {"id": str(ada.id)})
    other = await graphql(as_ada, MEMBER, {"id": str(grace.id)})
    purchase = await graphql(as_ada, PURCHASE, {"id": str(graces_purchase.id)})

    assert itself["data"]["member"]["displayName"] == "Ada"
    assert error_codes(other) == error_codes(purchase) == ["NOT_FOUND"]
