"""Coupons over HTTP as an operator, a member and a shop use them."""

from __future__ import annotations

from auth import clients
from tests.conftest import bearer, error_codes, graphql, http_client
from tests.factories import a_member, a_partner

CREATE = """
mutation {
  createCouponTemplate(input: {code: "spend-200-save-20", name: "Spend 200, save 20",
                               kind: AMOUNT_OFF, amountOff: "20.00", threshold: "200.00",
                               validHours: 168, channels: [ONLINE, OFFLINE]}) {
    id code kind amountOff threshold validHours channels
  }
}"""
ISSUE = """
mutation I($template: ID!, $member: ID!) {
  issueCoupon(input: {templateId: $template, memberId: $member, idempotencyKey: "welcome"}) {
    id code state validFrom validUntil template { name }
  }
}"""
AT_SHOP = """
mutation S($partner: ID!) {
  createCouponTemplate(input: {code: "at-shop", name: "At the shop", kind: PERCENT_OFF,
                               percentOff: "10", validHours: 24, partnerId: $partner}) { id }
}"""
LINK = """
mutation L($member: ID!, $partner: ID!) {
  linkIdentity(input: {memberId: $member,
                       identity: {kind: PARTNER_ACCOUNT, value: "SHOP-1", partnerId: $partner}}) {
    kind
  }
}"""
COUPONS_OF = "query C($member: ID!) { member(id: $member) { coupons { template { code } } } }"
MY_COUPONS = "{ me { coupons { code state discount template { code threshold } } } }"
BUY = """
mutation B($member: ID!, $amount: Decimal!, $order: String!, $codes: [String!]) {
  recordPurchase(input: {member: {id: $member}, channel: ONLINE, source: "web",
                         externalOrderId: $order, amount: $amount, couponCodes: $codes}) {
    grossAmount amount pointsEarned discounts { code discount state }
  }
}"""


async def test_an_operator_issues_a_coupon_and_the_member_spends_it(app, client, db):
    ada, bo = await a_member(db), await a_member(db, "Bo")
    as_ada = http_client(app, await bearer(app, f"member:{ada.id}"))
    as_bo = http_client(app, await bearer(app, f"member:{bo.id}"))

    template = (await graphql(client, CREATE))["data"]["createCouponTemplate"]
    assert template["amountOff"] == "20.00" and template["threshold"] == "200.00"
    issued = await graphql(client, ISSUE, {"template": template["id"], "member": str(ada.id)})
    coupon = issued["data"]["issueCoupon"]
    short = await graphql(client, BUY, {"member": str(ada.id), "amount": "199.99",
                                        "order": "o-1", "codes": [coupon["code"]]})  # fmt: skip
    bought = await graphql(client, BUY, {"member": str(ada.id), "amount": "200.00",
                                         "order": "o-2", "codes": [coupon["code"]]})  # fmt: skip
    mine = await graphql(as_ada, MY_COUPONS)
    theirs = await graphql(as_bo, MY_COUPONS)

    assert template["channels"] == ["OFFLINE", "ONLINE"] and template["amountOff"] == "20.00"
    assert coupon["state"] == "ISSUED" and coupon["template"]["name"] == "Spend 200, save 20"
    assert error_codes(short) == ["COUPON_NOT_APPLICABLE"]
    assert short["errors"][0]["extensions"]["reason"] == "THRESHOLD"
    assert bought["data"]["recordPurchase"] == {
        "grossAmount": "200.00", "amount": "180.00", "pointsEarned": 180,
        "discounts": [{"code": coupon["code"], "discount": "20.00", "state": "REDEEMED"}],
    }  # fmt: skip
    assert mine["data"]["me"]["coupons"] == [{
        "code": coupon["code"], "state": "REDEEMED", "discount": "20.00",
        "template": {"code": "spend-200-save-20", "threshold": "200.00"},
    }]  # fmt: skip
    assert theirs["data"]["me"]["coupons"] == []


async def test_a_partner_sees_only_the_coupons_valid_at_it(app, client, db):
    shop = await a_partner(db, "shop-p")
    ada = await a_member(db)
    created = await clients.create_client(db, name="shop", scopes=["members:read"],
                                          partner_code="shop-p")  # fmt: skip
    as_shop = http_client(
        app, await bearer(app, created.client_id, "members:read", client_id=created.client_id)
    )
    own = await graphql(client, AT_SHOP, {"partner": str(shop.id)})
    other = (await graphql(client, CREATE))["data"]["createCouponTemplate"]
    for template in (own["data"]["createCouponTemplate"], other):
        await graphql(client, ISSUE, {"template": template["id"], "member": str(ada.id)})
    await graphql(client, LINK, {"member": str(ada.id), "partner": str(shop.id)})

    seen = await graphql(as_shop, COUPONS_OF, {"member": str(ada.id)})

    assert seen["data"]["member"]["coupons"] == [{"template": {"code": "at-shop"}}]
