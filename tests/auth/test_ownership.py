"""What a let-through principal sees: a partner its linked members and its own purchases, a
member itself; a foreign id answers exactly like a missing one."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from auth import clients
from loyalty import member
from loyalty.member import IdentityKind
from loyalty.program import Program
from loyalty.promotions import campaign, coupon
from loyalty.promotions.campaign import CampaignTerms
from loyalty.promotions.coupon import CouponKind, TemplateTerms
from loyalty.visibility import EVERYTHING
from partners import registry
from tests.conftest import bearer, error_codes, graphql, http_client
from tests.factories import NOW, a_member, a_partner, a_purchase, balance_of

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
                                   value=account, partner_id=partner.id,
                                   visible=EVERYTHING)  # fmt: skip
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


REDEEM_BY = """
mutation R($member: MemberRefInput!, $key: String!) {
  redeemPoints(input: {member: $member, points: 1, channel: PARTNER, idempotencyKey: $key}) {
    points
  }
}"""
BY_IDENTITY = "query M($kind: IdentityKind!, $value: String!) { memberByIdentity(kind: $kind, value: $value) { id } }"  # noqa: E501


async def test_by_identity_a_hidden_member_and_nobody_answer_alike(app, db, program):
    """Found from outside: 21 of 24 (operation, identity) pairs told a hidden member from an
    identity nobody holds, and a partner booked a purchase on another partner's member by its
    e-mail. Now every by-identity operation answers both with one error, and a partner books
    an unlinked member only by the loyalty card the member presents."""
    _, as_acme = await a_partner_client(
        app, db, "acme-coffee", "members:read purchases:write points:redeem"
    )
    skyway = await a_partner(db, "skyway-air")
    theirs = await a_member(db, "Theirs", card="CARD-T")
    for kind, value in ((IdentityKind.EMAIL, "theirs@example.com"),
                        (IdentityKind.PHONE, "+14155550100")):  # fmt: skip
        await member.link_identity(
            db, member_id=theirs.id, kind=kind, value=value, visible=EVERYTHING
        )
    await member.link_identity(db, member_id=theirs.id, kind=IdentityKind.PARTNER_ACCOUNT,
                               value="SKY-9", partner_id=skyway.id, visible=EVERYTHING)  # fmt: skip
    await a_purchase(db, program, theirs.id, "100.00")
    pairs = [
        ({"kind": "EMAIL", "value": "theirs@example.com"},
         {"kind": "EMAIL", "value": "nobody@example.com"}),
        ({"kind": "PHONE", "value": "+14155550100"}, {"kind": "PHONE", "value": "+14155550199"}),
        ({"kind": "PARTNER_ACCOUNT", "value": "SKY-9", "partnerId": str(skyway.id)},
         {"kind": "PARTNER_ACCOUNT", "value": "SKY-0", "partnerId": str(skyway.id)}),
        ({"kind": "ONLINE_ACCOUNT", "value": "nobody"}, {"kind": "ONLINE_ACCOUNT", "value": "x"}),
    ]  # fmt: skip

    def as_record(ref: dict) -> dict:
        return {"member": {"identity": ref}}

    def as_redemption(ref: dict) -> dict:
        return {"member": {"identity": ref}, "key": f"k-{ref['kind']}-{ref['value']}"}

    def as_lookup(ref: dict) -> dict:
        return {"kind": ref["kind"], "value": ref["value"]}

    answers = []
    for hidden, nobody in pairs:
        for operation, variables in ((RECORD, as_record), (REDEEM_BY, as_redemption),
                                     (BY_IDENTITY, as_lookup)):  # fmt: skip
            seen = [await graphql(as_acme, operation, variables(ref)) for ref in (hidden, nobody)]
            answers.append([(e["message"], e["extensions"]) for s in seen for e in s["errors"]])
    presented = await graphql(as_acme, RECORD, {"member": {"identity": {
        "kind": "LOYALTY_CARD", "value": "CARD-T"}}})  # fmt: skip
    balance = (await balance_of(db, theirs.id)).posted

    for hidden_and_nobody in answers:
        hidden_error, nobody_error = hidden_and_nobody
        assert hidden_error == nobody_error and hidden_error[1]["code"] == "NOT_FOUND"
    assert presented["data"]["recordPurchase"]["partner"] == {"code": "acme-coffee"}
    assert balance == 100 + 20  # nothing was booked by e-mail, phone or another's account


CAMPAIGNS_OF = """
query C($id: ID!) {
  member(id: $id) { campaigns { code pointsBudget couponTemplate { code budget } } }
}"""


async def test_a_partner_sees_only_its_own_campaigns_on_a_shared_member(app, client, db):
    """Found from outside: partner A read B's campaigns (code, budget, awards, partners) and,
    through couponTemplate, B's templates, on any member both share."""
    acme, as_acme = await a_partner_client(app, db, "acme-coffee", "members:read")
    skyway = await a_partner(db, "skyway-air")
    shared = await a_member(db, "Shared")
    for partner, account in ((acme, "ACME-1"), (skyway, "SKY-1")):
        await member.link_identity(db, member_id=shared.id, kind=IdentityKind.PARTNER_ACCOUNT,
                                   value=account, partner_id=partner.id,
                                   visible=EVERYTHING)  # fmt: skip
        await registry.update_partner(db, partner_id=partner.id, campaign_points_limit=10_000,
                                      coupon_budget_limit=Decimal(1000))  # fmt: skip
    for partner in (acme, skyway):
        template = await coupon.create_template(db, Program(), TemplateTerms(
            code=f"{partner.code}-t", name="T", kind=CouponKind.AMOUNT_OFF,
            amount_off=Decimal(1), valid_hours=24, budget=Decimal(100),
            funded_by_partner_id=partner.id))  # fmt: skip
        await campaign.create_campaign(db, CampaignTerms(
            code=f"{partner.code}-c", name="C", starts_at=NOW, ends_at=NOW + timedelta(days=400),
            bonus_points=5, points_budget=1000, funded_by_partner_id=partner.id,
            partner_ids=(partner.id,), coupon_template_id=template.id),
            visible=EVERYTHING)  # fmt: skip
    await campaign.create_campaign(db, CampaignTerms(
        code="program-c", name="P", starts_at=NOW, ends_at=NOW + timedelta(days=400),
        bonus_points=5), visible=EVERYTHING)  # fmt: skip
    as_member = http_client(app, await bearer(app, f"member:{shared.id}"))

    seen_by_acme = await graphql(as_acme, CAMPAIGNS_OF, {"id": str(shared.id)})
    seen_by_operator = await graphql(client, CAMPAIGNS_OF, {"id": str(shared.id)})
    seen_by_member = await graphql(as_member, CAMPAIGNS_OF, {"id": str(shared.id)})

    assert seen_by_acme["data"]["member"]["campaigns"] == [{
        "code": "acme-coffee-c", "pointsBudget": 1000,
        "couponTemplate": {"code": "acme-coffee-t", "budget": "100.00"}}]  # fmt: skip
    assert {c["code"] for c in seen_by_operator["data"]["member"]["campaigns"]} == {
        "acme-coffee-c", "skyway-air-c", "program-c"}  # fmt: skip
    assert len(seen_by_member["data"]["member"]["campaigns"]) == 3
