"""Changing promotions over the graph: an operator edits, pauses and resumes a campaign and a
coupon template, a refusal is a stable code with the argument it is about, and a partner's
client changes only what its partner funds."""

from __future__ import annotations

from decimal import Decimal

from auth import clients
from partners import registry
from tests.conftest import bearer, error_codes, graphql, http_client
from tests.factories import a_member, a_partner
from tests.gateway.test_promotions_graphql import (
    CREATE,
    ISSUE,
    MEMBER_DAY,
    PARTNER_CAMPAIGN,
)

UPDATE_CAMPAIGN = """
mutation U($input: UpdateCampaignInput!) {
  updateCampaign(input: $input) { code name multiplier pointsBudget status tiers }
}"""
UPDATE_TEMPLATE = """
mutation U($input: UpdateCouponTemplateInput!) {
  updateCouponTemplate(input: $input) { code name totalLimit budget status amountOff }
}"""


async def test_an_operator_edits_pauses_and_resumes_a_campaign(client, db):
    created = (await graphql(client, MEMBER_DAY))["data"]["createCampaign"]

    async def update(**fields: object) -> dict:
        return await graphql(client, UPDATE_CAMPAIGN,
                             {"input": {"campaignId": created["id"], **fields}})  # fmt: skip

    edited = await update(name="Member day: triple", multiplier="3")
    paused = await update(status="PAUSED")
    listed = await graphql(client, "{ campaigns { code status } }")
    resumed = await update(status="ACTIVE")
    too_many = await update(multiplier="12")
    below = await update(pointsBudget=-1)
    ended = await update(status="ENDED")
    after_end = await update(status="ACTIVE")

    assert edited["data"]["updateCampaign"] == {
        "code": "member-day", "name": "Member day: triple", "multiplier": "3",
        "pointsBudget": 100000, "status": "ACTIVE", "tiers": ["DIAMOND", "GOLD"]}  # fmt: skip
    assert paused["data"]["updateCampaign"]["status"] == "PAUSED"
    assert listed["data"]["campaigns"] == [{"code": "member-day", "status": "PAUSED"}]
    assert resumed["data"]["updateCampaign"]["status"] == "ACTIVE"
    assert too_many["errors"][0]["extensions"] == {"code": "VALIDATION",
                                                "argument": "input.multiplier"}  # fmt: skip
    assert error_codes(below) == ["VALIDATION"]
    assert ended["data"]["updateCampaign"]["status"] == "ENDED"
    assert after_end["errors"][0]["extensions"] == {"code": "INVALID_STATE",
                                                    "reason": "CAMPAIGN_ENDED"}  # fmt: skip


async def test_an_operator_edits_pauses_and_retires_a_coupon_template(client, db):
    ada = await a_member(db)
    template = (await graphql(client, CREATE))["data"]["createCouponTemplate"]

    async def update(**fields: object) -> dict:
        return await graphql(client, UPDATE_TEMPLATE,
                             {"input": {"templateId": template["id"], **fields}})  # fmt: skip

    edited = await update(name="Spend 200, save 20!", totalLimit=10, budget="1000.00")
    paused = await update(status="PAUSED")
    while_paused = await graphql(client, ISSUE, {"template": template["id"],
                                                 "member": str(ada.id)})  # fmt: skip
    retired = await update(status="RETIRED")
    unretire = await update(status="ACTIVE")

    assert edited["data"]["updateCouponTemplate"] == {
        "code": "spend-200-save-20", "name": "Spend 200, save 20!", "totalLimit": 10,
        "budget": "1000.00", "status": "ACTIVE", "amountOff": "20.00"}  # fmt: skip
    assert paused["data"]["updateCouponTemplate"]["status"] == "PAUSED"
    assert while_paused["errors"][0]["extensions"] == {"code": "INVALID_STATE",
                                                       "reason": "TEMPLATE_PAUSED"}  # fmt: skip
    assert retired["data"]["updateCouponTemplate"]["status"] == "RETIRED"
    assert error_codes(unretire) == ["INVALID_STATE"]


async def test_a_partners_client_changes_only_what_its_partner_funds(app, client, db):
    acme = await a_partner(db, "acme-coffee")
    await registry.update_partner(db, partner_id=acme.id, campaign_points_limit=60_000,
                                  coupon_budget_limit=Decimal(500))  # fmt: skip
    made = await clients.create_client(db, name="acme", scopes=["promotions:write"],
                                       partner_code="acme-coffee")  # fmt: skip
    as_acme = http_client(app, await bearer(app, made.client_id, "promotions:write",
                                            client_id=made.client_id))  # fmt: skip
    program_campaign = (await graphql(client, MEMBER_DAY))["data"]["createCampaign"]
    program_template = (await graphql(client, CREATE))["data"]["createCouponTemplate"]
    await graphql(as_acme, PARTNER_CAMPAIGN)
    own = (await graphql(client, "{ campaigns { id code } }"))["data"]["campaigns"][1]

    paused_own = await graphql(as_acme, UPDATE_CAMPAIGN, {
        "input": {"campaignId": own["id"], "status": "PAUSED"}})  # fmt: skip
    over_limit = await graphql(as_acme, UPDATE_CAMPAIGN, {
        "input": {"campaignId": own["id"], "pointsBudget": 60_001}})  # fmt: skip
    theirs = await graphql(as_acme, UPDATE_CAMPAIGN, {
        "input": {"campaignId": program_campaign["id"], "status": "PAUSED"}})  # fmt: skip
    their_template = await graphql(as_acme, UPDATE_TEMPLATE, {
        "input": {"templateId": program_template["id"], "status": "RETIRED"}})  # fmt: skip
    untouched = await graphql(client, "{ campaigns { code status } couponTemplates { status } }")

    assert own["code"] == "acme-triple"
    assert paused_own["data"]["updateCampaign"]["status"] == "PAUSED"
    assert error_codes(over_limit) == ["PROMOTION_LIMIT"]
    assert error_codes(theirs) == ["NOT_FOUND"] and error_codes(their_template) == ["NOT_FOUND"]
    assert untouched["data"] == {
        "campaigns": [{"code": "member-day", "status": "ACTIVE"},
                      {"code": "acme-triple", "status": "PAUSED"}],
        "couponTemplates": [{"status": "ACTIVE"}]}  # fmt: skip
