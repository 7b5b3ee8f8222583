"""Coupons over HTTP as an operator, a member and a shop use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from auth import clients
from partners import registry
from tests.conftest import bearer, error_codes, graphql, http_client
from tests.factories import a_member, a_partner, a_purchase

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


MEMBER_DAY = """
mutation {
  createCampaign(input: {code: "member-day", name: "Member day", monthlyDay: 18,
                         startsAt: "2026-01-01T00:00:00Z", endsAt: "2027-01-01T00:00:00Z",
                         multiplier: "2", tiers: [GOLD, DIAMOND], pointsBudget: 100000}) {
    id code monthlyDay multiplier tiers pointsBudget status
  }
}"""
OFFERED = "query O($member: ID!) { member(id: $member) { campaigns { code monthlyDay } } }"
BUY_AT = """
mutation B($member: ID!, $order: String!, $at: DateTime!) {
  recordPurchase(input: {member: {id: $member}, channel: ONLINE, source: "web",
                         externalOrderId: $order, amount: "100.00", purchasedAt: $at}) {
    pointsEarned bonusPoints campaignPoints
  }
}"""


def the_last_18th() -> datetime:
    """Noon of the latest 18th that has passed (a member day to date a purchase on)."""
    now = datetime.now(UTC)
    day = now.replace(day=18, hour=12, minute=0, second=0, microsecond=0)
    return day if day <= now else (day.replace(day=1) - timedelta(days=1)).replace(day=18)


async def test_an_operator_runs_a_member_day_and_a_gold_member_earns_double(client, db, program):
    gold = await a_member(db)
    await a_purchase(db, program, gold.id, "5000.00")
    member_day = the_last_18th()

    created = (await graphql(client, MEMBER_DAY))["data"]["createCampaign"]
    on_the_day = await graphql(client, BUY_AT, {"member": str(gold.id), "order": "day",
                                                "at": member_day.isoformat()})  # fmt: skip
    day_after = await graphql(client, BUY_AT, {
        "member": str(gold.id), "order": "after",
        "at": (member_day + timedelta(days=1)).isoformat()})  # fmt: skip
    listed = await graphql(client, "{ campaigns { code pointsAwarded } }")
    offered = await graphql(client, OFFERED, {"member": str(gold.id)})
    silver = await a_member(db, "Sil")
    not_offered = await graphql(client, OFFERED, {"member": str(silver.id)})

    assert created["multiplier"] == "2" and created["tiers"] == ["DIAMOND", "GOLD"]
    assert on_the_day["data"]["recordPurchase"] == {
        "pointsEarned": 400, "bonusPoints": 200, "campaignPoints": 100,
    }  # fmt: skip
    assert day_after["data"]["recordPurchase"]["pointsEarned"] == 300
    assert listed["data"]["campaigns"] == [{"code": "member-day", "pointsAwarded": 100}]
    assert offered["data"]["member"]["campaigns"] == [{"code": "member-day", "monthlyDay": 18}]
    assert not_offered["data"]["member"]["campaigns"] == []


SET_BIRTH_DATE = """
mutation S($member: ID!, $date: Date) {
  setBirthDate(input: {memberId: $member, birthDate: $date}) { birthDate }
}"""
BENEFITS = """
query M($member: ID!) { member(id: $member) { tier birthDate benefits { code value } } }"""


async def test_a_member_sets_its_birth_date_and_reads_its_benefits(app, client, db, program):
    ada, bo = await a_member(db), await a_member(db, "Bo")
    await a_purchase(db, program, ada.id, "5000.00")
    as_ada = http_client(app, await bearer(app, f"member:{ada.id}"))
    as_bo = http_client(app, await bearer(app, f"member:{bo.id}"))

    own = await graphql(as_ada, SET_BIRTH_DATE, {"member": str(ada.id), "date": "1992-02-29"})
    other = await graphql(as_bo, SET_BIRTH_DATE, {"member": str(ada.id), "date": "1990-01-01"})
    future = await graphql(as_ada, SET_BIRTH_DATE, {"member": str(ada.id), "date": "2999-01-01"})
    seen = await graphql(client, BENEFITS, {"member": str(ada.id)})
    mine = await graphql(as_ada, "{ me { birthDate benefits { code } } }")

    assert own["data"]["setBirthDate"] == {"birthDate": "1992-02-29"}
    assert error_codes(other) == ["NOT_FOUND"] and error_codes(future) == ["VALIDATION"]
    member = seen["data"]["member"]
    assert member["tier"] == "GOLD" and member["birthDate"] == "1992-02-29"
    assert {"code": "cashback-gold", "value": "2%"} in member["benefits"]
    assert {"code": "threshold-coupons", "value": "spend-200-save-20"} in member["benefits"]
    assert mine["data"]["me"]["birthDate"] == "1992-02-29"


PARTNER_TEMPLATE = """
mutation {
  createCouponTemplate(input: {code: "acme-5-off", name: "5 off at Acme", kind: AMOUNT_OFF,
                               amountOff: "5.00", validHours: 48, budget: "500.00"}) {
    id code fundedBy { code } partner { code }
  }
}"""
PARTNER_CAMPAIGN = """
mutation {
  createCampaign(input: {code: "acme-triple", name: "Triple points at Acme", multiplier: "3",
                         startsAt: "2026-01-01T00:00:00Z", endsAt: "2099-01-01T00:00:00Z",
                         pointsBudget: 50000}) {
    code partnerIds fundedBy { code }
  }
}"""
ISSUE_BY_KEY = """
mutation I($template: ID!, $member: ID!, $key: String!) {
  issueCoupon(input: {templateId: $template, memberId: $member, idempotencyKey: $key}) { code }
}"""
AT_ACME = """
mutation B($member: ID!, $codes: [String!]) {
  recordPurchase(input: {member: {id: $member}, channel: PARTNER, source: "acme-till",
                         externalOrderId: "acme-1", amount: "20.00", couponCodes: $codes}) {
    amount pointsEarned campaignPoints
  }
}"""
STATEMENT_LINES = """
query S($period: String!) {
  settlementStatement(period: $period) { lines { kind quantity amount } }
}"""


async def test_a_partner_runs_the_promotions_it_funds_and_is_billed_for_them(app, client, db):
    acme = await a_partner(db, "acme-coffee")
    await registry.update_partner(db, partner_id=acme.id, campaign_points_limit=50_000,
                                  coupon_budget_limit=Decimal(500))  # fmt: skip
    ada = await a_member(db)
    created = await clients.create_client(
        db, name="acme", scopes=["promotions:write", "purchases:write", "settlements:read"],
        partner_code="acme-coffee",
    )  # fmt: skip
    scopes = "promotions:write purchases:write settlements:read"
    as_acme = http_client(app, await bearer(app, created.client_id, scopes,
                                            client_id=created.client_id))  # fmt: skip
    program_template = (await graphql(client, CREATE))["data"]["createCouponTemplate"]
    await graphql(client, LINK, {"member": str(ada.id), "partner": str(acme.id)})

    template = (await graphql(as_acme, PARTNER_TEMPLATE))["data"]["createCouponTemplate"]
    campaign = (await graphql(as_acme, PARTNER_CAMPAIGN))["data"]["createCampaign"]
    issued = await graphql(as_acme, ISSUE_BY_KEY, {"template": template["id"],
                                                   "member": str(ada.id), "key": "k1"})  # fmt: skip
    not_theirs = await graphql(as_acme, ISSUE_BY_KEY, {
        "template": program_template["id"], "member": str(ada.id), "key": "k2"})  # fmt: skip
    listed = await graphql(as_acme, "{ couponTemplates { code } campaigns { code } }")
    bought = await graphql(as_acme, AT_ACME, {
        "member": str(ada.id), "codes": [issued["data"]["issueCoupon"]["code"]]})  # fmt: skip
    month = datetime.now(UTC).strftime("%Y-%m")
    statement = await graphql(as_acme, STATEMENT_LINES, {"period": month})

    assert template["fundedBy"] == {"code": "acme-coffee"} and template["partner"] is None
    assert campaign == {"code": "acme-triple", "partnerIds": [str(acme.id)],
                        "fundedBy": {"code": "acme-coffee"}}  # fmt: skip
    assert error_codes(not_theirs) == ["NOT_FOUND"]
    assert listed["data"] == {"couponTemplates": [{"code": "acme-5-off"}],
                              "campaigns": [{"code": "acme-triple"}]}  # fmt: skip
    # 20.00 less 5.00 = 15.00 paid: 15 base points, 30 more from the triple-points campaign
    assert bought["data"]["recordPurchase"] == {
        "amount": "15.00", "pointsEarned": 45, "campaignPoints": 30}  # fmt: skip
    lines = {line["kind"]: line for line in statement["data"]["settlementStatement"]["lines"]}
    assert lines["FUNDED_DISCOUNTS"]["amount"] == "5.00"
    # the partner pays issuance for the 15 points earned there and the 30 it funded
    assert lines["ISSUANCE"]["quantity"] == "45"


FREE_ITEM = """
mutation F($reward: ID!) {
  createCouponTemplate(input: {code: "free-tote", name: "A free tote", kind: FREE_ITEM,
                               rewardId: $reward, validHours: 24}) { id kind rewardId }
}"""
REDEEM_FREE = """
mutation R($member: ID!, $reward: ID!, $code: String!) {
  redeemReward(input: {member: {id: $member}, rewardId: $reward, idempotencyKey: "free-1",
                       couponCode: $code}) { points reward { stock } }
}"""


async def test_a_member_takes_a_reward_with_a_free_item_coupon(app, client, db):
    ada = await a_member(db)
    tote = await graphql(client, 'mutation { createReward(input: {code: "tote", name: "Tote",'
                                 ' pointCost: 300, stock: 3}) { id } }')  # fmt: skip
    reward_id = tote["data"]["createReward"]["id"]
    template = (await graphql(client, FREE_ITEM, {"reward": reward_id}))["data"]
    issued = await graphql(client, ISSUE, {"template": template["createCouponTemplate"]["id"],
                                           "member": str(ada.id)})  # fmt: skip
    as_ada = http_client(app, await bearer(app, f"member:{ada.id}"))

    taken = await graphql(as_ada, REDEEM_FREE, {
        "member": str(ada.id), "reward": reward_id,
        "code": issued["data"]["issueCoupon"]["code"]})  # fmt: skip

    assert template["createCouponTemplate"]["rewardId"] == reward_id
    assert taken["data"]["redeemReward"] == {"points": 0, "reward": {"stock": 2}}


GRANTS = "{ me { grants { benefit name kind period couponCode } } }"
GRANTS_OF = "query G($id: ID!) { member(id: $id) { grants { benefit } } }"


async def test_a_member_reads_what_it_was_granted_and_a_partner_does_not(app, client, db, program):
    """Found from outside: gifts existed only as webhook events."""
    ada = await a_member(db)
    await graphql(client, CREATE)  # spend-200-save-20: the GOLD threshold coupon's template
    await a_purchase(db, program, ada.id, "5000.00")  # reaches GOLD
    as_ada = http_client(app, await bearer(app, f"member:{ada.id}"))
    shop = await a_partner(db, "shop-p")
    await graphql(client, LINK, {"member": str(ada.id), "partner": str(shop.id)})
    created = await clients.create_client(db, name="shop", scopes=["members:read"],
                                          partner_code="shop-p")  # fmt: skip
    as_shop = http_client(
        app, await bearer(app, created.client_id, "members:read", client_id=created.client_id)
    )

    mine = (await graphql(as_ada, GRANTS))["data"]["me"]["grants"]
    seen_by_operator = await graphql(client, GRANTS_OF, {"id": str(ada.id)})
    seen_by_shop = await graphql(as_shop, GRANTS_OF, {"id": str(ada.id)})

    assert [(g["benefit"], g["kind"], g["period"]) for g in mine] == [
        ("new-member-gift-pack", "GIFT", "once"),
        ("threshold-coupons", "COUPON_GRANT", "year-1"),
    ]
    assert mine[0]["name"] and mine[0]["couponCode"] is None
    assert len(mine[1]["couponCode"]) == 16
    assert len(seen_by_operator["data"]["member"]["grants"]) == 2
    assert seen_by_shop["data"]["member"]["grants"] == []


BAD_TEMPLATE = """
mutation T($reward: ID, $partner: ID, $funder: ID, $kind: CouponKind!, $off: Decimal = "1.00") {
  createCouponTemplate(input: {code: "bad", name: "Bad", kind: $kind, rewardId: $reward,
                               amountOff: $off, validHours: 1, partnerId: $partner,
                               fundedByPartnerId: $funder}) { id }
}"""
BAD_CAMPAIGN = """
mutation C($partners: [ID!], $funder: ID) {
  createCampaign(input: {code: "bad", name: "Bad", bonusPoints: 1, pointsBudget: 10,
                         startsAt: "2026-01-01T00:00:00Z", endsAt: "2099-01-01T00:00:00Z",
                         partnerIds: $partners, fundedByPartnerId: $funder}) { id }
}"""
TIMEZONE = """
mutation Z($partner: ID!, $zone: String!) {
  updatePartner(input: {partnerId: $partner, timezone: $zone}) { timezone }
}"""


async def test_promotions_naming_what_does_not_exist_are_not_found(client, db):
    """Found from outside: a missing reward or partner was a foreign key failure
    (INTERNAL_SERVER_ERROR) and partnerIds: ["999999"] was accepted; a time zone the zone
    database cannot read ("Europe", a folder) was a retryable 503."""
    shop = await a_partner(db, "shop-p")
    answers = {
        "reward": await graphql(client, BAD_TEMPLATE, {"reward": "999999", "kind": "FREE_ITEM",
                                                       "off": None}),
        "valid at": await graphql(client, BAD_TEMPLATE, {"partner": "999999",
                                                         "kind": "AMOUNT_OFF"}),
        "funder": await graphql(client, BAD_TEMPLATE, {"funder": "999999", "kind": "AMOUNT_OFF"}),
        "campaign partners": await graphql(client, BAD_CAMPAIGN, {"partners": ["999999"]}),
        "campaign funder": await graphql(client, BAD_CAMPAIGN, {"funder": "999999"}),
    }  # fmt: skip
    zones = [await graphql(client, TIMEZONE, {"partner": str(shop.id), "zone": zone})
             for zone in ("Europe", "America/Argentina", "x" * 60)]  # fmt: skip
    listed = await graphql(client, "{ couponTemplates { code } campaigns { code } }")

    assert {name: error_codes(body) for name, body in answers.items()} == {
        name: ["NOT_FOUND"] for name in answers}  # fmt: skip
    assert [error_codes(body) for body in zones] == [["VALIDATION"]] * 3
    assert listed["data"] == {"couponTemplates": [], "campaigns": []}
