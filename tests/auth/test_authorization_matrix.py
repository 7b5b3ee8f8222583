"""Every root field and mutation, called by every principal kind and scope on objects that the
scoped principals do not own, answers as tests/auth/authorization_matrix.csv says:

- "deny": refused before it runs (UNAUTHENTICATED / FORBIDDEN: this principal may not call it);
- "hidden": it runs and answers NOT_FOUND (the object exists, but not for this principal);
- "allow": it runs and answers (data, or an error about the input such as VALIDATION).

A field missing from the matrix fails the test."""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from string import Template

from auth import clients
from gateway.app import build_schema
from loyalty import member, purchase, redemption, reward
from loyalty.member import IdentityKind, MemberRef
from loyalty.program import Program
from loyalty.promotions import campaign, coupon
from loyalty.promotions.campaign import CampaignTerms
from loyalty.promotions.coupon import CouponKind, TemplateTerms
from loyalty.purchase import Channel
from loyalty.reward import RewardTerms
from loyalty.visibility import EVERYTHING
from partners import exchange, registry
from partners.directory import ConnectorDirectory
from partners.registry import Direction
from tests.conftest import bearer, graphql, http_client
from tests.factories import NOW, TERMS, a_member, a_partner, a_partner_with_terms

MATRIX = Path(__file__).with_name("authorization_matrix.csv")
REFUSED = {"UNAUTHENTICATED", "FORBIDDEN"}
M = '{id: "$member"}'

# One call per root field, on the foreign objects (given_foreign_objects), with arguments that
# pass validation.
CALLS = {
    "Query.member": 'query { member(id: "$member") { id } }',
    "Query.memberByIdentity": 'query { memberByIdentity(kind: LOYALTY_CARD, value: "FOREIGN-1")'
    " { id } }",
    "Query.members": "query { members(first: 1) { nodes { id } } }",
    "Query.me": "query { me { id } }",
    "Query.program": "query { program { currency } }",
    "Query.purchase": 'query { purchase(id: "$purchase") { id } }',
    "Query.partner": 'query { partner(id: "$partner") { id } }',
    "Query.partners": "query { partners { id } }",
    "Query.reward": 'query { reward(id: "$reward") { id } }',
    "Query.rewards": "query { rewards(first: 1) { nodes { id } } }",
    "Query.auditLog": "query { auditLog(first: 1) { nodes { id } } }",
    "Query._service": "query { _service { sdl } }",
    "Query._entities": 'query { _entities(representations: [{__typename: "Member", id: "$member"}])'
    " { __typename } }",
    "Mutation.enrollMember": 'mutation { enrollMember(input: {displayName: "X",'
    ' idempotencyKey: "matrix"}) { id } }',
    "Mutation.linkIdentity": 'mutation { linkIdentity(input: {memberId: "$member",'
    ' identity: {kind: EMAIL, value: "m@x.org"}}) { kind } }',
    "Mutation.recordPurchase": f"mutation {{ recordPurchase(input: {{member: {M},"
    ' channel: ONLINE, source: "s", externalOrderId: "matrix", amount: "1.00"}) { id } }',
    "Mutation.refundPurchase": 'mutation { refundPurchase(input: {purchaseId: "$purchase",'
    ' amount: "1.00", idempotencyKey: "matrix"}) { id } }',
    "Mutation.redeemPoints": f"mutation {{ redeemPoints(input: {{member: {M}, points: 1,"
    ' channel: ONLINE, idempotencyKey: "matrix"}) { id } }',
    "Mutation.cancelRedemption": "mutation { cancelRedemption(input:"
    ' {redemptionId: "$redemption"}) { id } }',
    "Mutation.createPartner": 'mutation { createPartner(input: {code: "matrix", name: "M"})'
    " { id } }",
    "Mutation.recordInteraction": f"mutation {{ recordInteraction(input: {{member: {M},"
    ' kind: REVIEW, idempotencyKey: "matrix"}) { id } }',
    "Mutation.applyReferralCode": 'mutation { applyReferralCode(input: {memberId: "$member",'
    ' referralCode: "$code"}) { id } }',
    "Mutation.createReward": 'mutation { createReward(input: {code: "matrix", name: "M",'
    " pointCost: 1}) { id } }",
    "Mutation.updateReward": 'mutation { updateReward(input: {rewardId: "$reward"}) { id } }',
    "Mutation.redeemReward": f"mutation {{ redeemReward(input: {{member: {M},"
    ' rewardId: "$reward", idempotencyKey: "matrix-reward"}) { id } }',
    "Mutation.mergeMembers": 'mutation { mergeMembers(input: {survivorId: "$member",'
    ' mergedId: "$member"}) { id } }',
    "Query.exchange": 'query { exchange(id: "$exchange") { id } }',
    "Query.exchanges": "query { exchanges(first: 1) { nodes { id } } }",
    "Mutation.updatePartner": 'mutation { updatePartner(input: {partnerId: "$partner"}) { id } }',
    "Mutation.setExchangeTerms": 'mutation { setExchangeTerms(input: {partnerId: "$partner",'
    ' direction: OUTBOUND, rate: "1", minPoints: 1, maxPoints: 2, stepPoints: 1,'
    ' dailyCapPoints: 2, validFrom: "2026-01-01T00:00:00Z"}) { id } }',
    "Mutation.quoteExchange": f"mutation {{ quoteExchange(input: {{member: {M},"
    ' partnerId: "$partner", points: 100}) { id } }',
    "Mutation.requestExchange": 'mutation { requestExchange(input: {quoteId: "$quote",'
    ' idempotencyKey: "matrix"}) { id } }',
    "Mutation.creditInboundExchange": f"mutation {{ creditInboundExchange(input: {{member: {M},"
    ' units: 1, reference: "matrix", partnerId: "$partner"}) { id } }',
    "Query.settlementStatement": 'query { settlementStatement(period: "2026-11",'
    ' partnerId: "$partner") { net } }',
    "Query.settlementStatements": 'query { settlementStatements(partnerId: "$partner")'
    " { period } }",
    "Mutation.closeSettlementStatement": "mutation { closeSettlementStatement("
    'partnerId: "$partner", period: "2026-10") { net } }',
    "Mutation.addRateCard": 'mutation { addRateCard(input: {partnerId: "$partner",'
    ' validFrom: "2026-01-01T00:00:00Z"}) { id } }',
    "Mutation.subscribeWebhook": 'mutation { subscribeWebhook(input: {url: "https://x.test",'
    ' partnerId: "$partner"}) { id } }',
    "Query.couponTemplates": "query { couponTemplates { id } }",
    "Mutation.createCouponTemplate": 'mutation { createCouponTemplate(input: {code: "matrix",'
    ' name: "M", kind: AMOUNT_OFF, amountOff: "1.00", validHours: 1, budget: "10.00"}) { id } }',
    "Mutation.issueCoupon": 'mutation { issueCoupon(input: {templateId: "$template",'
    ' memberId: "$member", idempotencyKey: "matrix"}) { id } }',
    "Query.campaigns": "query { campaigns { id } }",
    "Mutation.createCampaign": 'mutation { createCampaign(input: {code: "matrix", name: "M",'
    ' startsAt: "2026-01-01T00:00:00Z", endsAt: "2026-02-01T00:00:00Z", bonusPoints: 1,'
    " pointsBudget: 10})"
    " { id } }",
    "Mutation.endCampaign": 'mutation { endCampaign(id: "$campaign") { id } }',
    "Mutation.updateCampaign": 'mutation { updateCampaign(input: {campaignId: "$campaign",'
    ' name: "M"}) { id } }',
    "Mutation.updateCouponTemplate": "mutation { updateCouponTemplate(input: {templateId:"
    ' "$template", name: "M"}) { id } }',
    "Query.programMetrics": 'query { programMetrics(from: "2026-01-01T00:00:00Z",'
    ' to: "2026-02-01T00:00:00Z") { repurchaseLift } }',
    "Mutation.subscribeMemberEvents": "mutation { subscribeMemberEvents(input: {url:"
    ' "https://crm.test/hook"}) { id } }',
    "Mutation.voidCoupon": 'mutation { voidCoupon(id: "$coupon") { state } }',
    "Mutation.eraseMember": 'mutation { eraseMember(memberId: "$erasable") { status } }',
    "Mutation.grantConsent": 'mutation { grantConsent(input: {partnerId: "$partner",'
    " purpose: CONTACT}) { purpose } }",
    "Mutation.withdrawConsent": 'mutation { withdrawConsent(input: {partnerId: "$partner",'
    " purpose: CONTACT}) { purpose } }",
    "Mutation.setBirthDate": 'mutation { setBirthDate(input: {memberId: "$member",'
    ' birthDate: "1990-05-01"}) { id } }',
}


async def given_foreign_objects(db) -> dict[str, str]:
    """Member 1 (the member principal) and partner matrix-p (the partner principals' own) own
    nothing below: member 2, linked to partner other-p only, with a purchase, a redemption, an
    exchange and a quote there, and a reward other-p fulfils."""
    ours = await a_member(db)
    theirs = await a_member(db, card="FOREIGN-1")
    own = await a_partner(db, "matrix-p")
    other = await a_partner_with_terms(db, "other-p")
    for funder in (own, other):  # what an operator lets each fund
        await registry.update_partner(db, partner_id=funder.id, campaign_points_limit=1000,
                                      coupon_budget_limit=Decimal(1000))  # fmt: skip
    await registry.set_exchange_terms(
        db, partner_id=other.id, direction=Direction.INBOUND, terms=TERMS,
        valid_from=NOW - timedelta(days=30),
    )  # fmt: skip
    await member.link_identity(
        db, member_id=theirs.id, kind=IdentityKind.PARTNER_ACCOUNT, value="SKY-FOREIGN",
        partner_id=other.id, visible=EVERYTHING
    )  # fmt: skip
    bought, _ = await purchase.record_purchase(
        db, Program(), member_ref=MemberRef(member_id=theirs.id), channel=Channel.PARTNER,
        partner_id=other.id, source="other-p", external_order_id="foreign-1",
        amount=Decimal("900.00"), visible=EVERYTHING
    )  # fmt: skip
    spent = await redemption.redeem_points(
        db, member_ref=MemberRef(member_id=theirs.id), points=1, channel=Channel.ONLINE,
        idempotency_key="foreign-redemption", visible=EVERYTHING
    )  # fmt: skip
    gift = await reward.create_reward(
        db, code="other-gift", terms=RewardTerms(name="Gift", point_cost=1), partner_id=other.id
    )
    quotes = [
        await exchange.quote_exchange(
            db,
            Program(),
            member_id=theirs.id,
            partner_id=other.id,
            points=100,
            requested_by=f"member:{theirs.id}",
            visible=EVERYTHING,
        )
        for _ in range(2)
    ]
    moved = await exchange.request_exchange(
        db,
        ConnectorDirectory(),
        quote_id=quotes[0].id,
        idempotency_key="foreign-exchange",
        visible=EVERYTHING,
    )
    template = await coupon.create_template(db, Program(), TemplateTerms(
        code="other-coupon", name="Other", kind=CouponKind.AMOUNT_OFF, amount_off=Decimal(1),
        valid_hours=1, partner_id=other.id))  # fmt: skip
    held = await coupon.issue(
        db,
        template_id=template.id,
        member_id=theirs.id,
        idempotency_key="foreign-coupon",
        visible=EVERYTHING,
    )
    running = await campaign.create_campaign(db, CampaignTerms(
        code="other-campaign", name="Other", starts_at=NOW, ends_at=NOW + timedelta(days=1),
        bonus_points=1, points_budget=10, funded_by_partner_id=other.id),
        visible=EVERYTHING)  # fmt: skip
    return {
        "member": str(theirs.id), "partner": str(other.id), "purchase": str(bought.id),
        "redemption": str(spent.id), "reward": str(gift.id), "exchange": moved.id,
        "quote": quotes[1].id, "code": ours.referral_code, "template": str(template.id),
        "campaign": str(running.id), "coupon": str(held.id),
        "erasable": str((await a_member(db, "Erasable")).id),
    }  # fmt: skip


def answer_of(body: dict) -> str:
    codes = {e.get("extensions", {}).get("code") for e in body.get("errors", [])}
    if codes & REFUSED:
        return "deny"
    return "hidden" if "NOT_FOUND" in codes else "allow"


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
    objects = await given_foreign_objects(db)
    differences = []
    for principal in principals:
        http = http_client(app, await headers_for(app, db, principal))
        for field, answers in matrix.items():
            body = await graphql(http, Template(CALLS[field]).substitute(objects))
            actual = answer_of(body)
            if actual != answers[principal]:
                differences.append(f"{field},{principal}: {actual} (matrix: {answers[principal]})")
        await http.aclose()

    assert differences == []
