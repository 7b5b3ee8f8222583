"""Every quantity a client sets has a bound (loyalty.bounds, docs/bounds.md): a partner cannot
mint points through a campaign, a purchase at the largest amount with the most campaigns fits
every field, and sums of points that pass 2^31 read as BigInt."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth import clients
from loyalty import bounds
from partners import registry
from tests.conftest import bearer, error_codes, graphql, http_client
from tests.factories import a_member, a_partner

CAMPAIGN = """
mutation C($code: String!, $bonus: Int!, $budget: Int, $multiplier: Decimal! = "1") {
  createCampaign(input: {code: $code, name: "Bonus", startsAt: "2026-01-01T00:00:00Z",
                         endsAt: "2099-01-01T00:00:00Z", bonusPoints: $bonus,
                         multiplier: $multiplier, pointsBudget: $budget}) {
    code bonusPoints pointsBudget
  }
}"""
BUY = """
mutation B($member: MemberRefInput!, $order: String!, $amount: Decimal!) {
  recordPurchase(input: {member: $member, channel: PARTNER, source: "till",
                         externalOrderId: $order, amount: $amount}) {
    pointsEarned campaignPoints
  }
}"""
REDEEM = """
mutation R($member: ID!, $points: Int!) {
  redeemPoints(input: {member: {id: $member}, points: $points, channel: ONLINE,
                       idempotencyKey: "big"}) { points }
}"""
BALANCE = "query M($id: ID!) { member(id: $id) { balance { posted available } } }"


def refused(body: dict) -> tuple[str, str | None]:
    (error,) = body["errors"]
    return error["extensions"]["code"], error["extensions"].get("argument")


async def a_partner_client(app, db, code: str) -> tuple[object, object]:
    partner = await a_partner(db, code)
    scopes = "promotions:write purchases:write members:read"
    created = await clients.create_client(db, name=code, scopes=scopes.split(),
                                          partner_code=code)  # fmt: skip
    as_partner = http_client(
        app, await bearer(app, created.client_id, scopes, client_id=created.client_id)
    )
    return partner, as_partner


async def test_a_partner_cannot_mint_points_with_a_campaign(app, client, db):
    partner, as_partner = await a_partner_client(app, db, "mint-p")
    await a_member(db, card="MINT-1")
    card = {"identity": {"kind": "LOYALTY_CARD", "value": "MINT-1"}}

    huge = await graphql(as_partner, CAMPAIGN, {"code": "huge", "bonus": 2147483647})
    unbudgeted = await graphql(as_partner, CAMPAIGN, {"code": "open", "bonus": 100})
    not_allowed = await graphql(as_partner, CAMPAIGN, {"code": "early", "bonus": 100,
                                                       "budget": 1000})  # fmt: skip
    await registry.update_partner(db, partner_id=partner.id, campaign_points_limit=1500)
    allowed = await graphql(as_partner, CAMPAIGN, {"code": "ok", "bonus": 100, "budget": 1000})
    over = await graphql(as_partner, CAMPAIGN, {"code": "more", "bonus": 100, "budget": 501})
    listed = await graphql(as_partner, "{ campaigns { code } }")
    bought = await graphql(as_partner, BUY, {"member": card, "order": "o-1",
                                             "amount": "10.00"})  # fmt: skip

    assert refused(huge) == ("VALIDATION", "input.bonusPoints")
    assert refused(unbudgeted) == ("VALIDATION", "pointsBudget")
    assert error_codes(not_allowed) == ["PROMOTION_LIMIT"]
    assert allowed["data"]["createCampaign"] == {
        "code": "ok", "bonusPoints": 100, "pointsBudget": 1000}  # fmt: skip
    assert error_codes(over) == ["PROMOTION_LIMIT"]
    assert over["errors"][0]["extensions"] == {
        "code": "PROMOTION_LIMIT", "limit": 1500, "budgeted": 1000}  # fmt: skip
    assert listed["data"]["campaigns"] == [{"code": "ok"}]
    assert bought["data"]["recordPurchase"] == {"pointsEarned": 110, "campaignPoints": 100}


async def test_the_largest_purchase_with_the_most_campaigns_fits_every_field(client, db):
    buyer = await a_member(db)
    # six program campaigns at the bounds' maximum: five apply, each 9 x base + 100,000
    for number in range(6):
        made = await graphql(client, CAMPAIGN, {"code": f"max-{number}", "bonus": 100_000,
                                                "multiplier": "10"})  # fmt: skip
        assert "errors" not in made, made
    online = BUY.replace("channel: PARTNER", "channel: ONLINE")

    named = {"id": str(buyer.id)}
    too_much = await graphql(client, online, {"member": named, "order": "x",
                                              "amount": "10000000.01"})  # fmt: skip
    earned = [
        (await graphql(client, online, {"member": named, "order": f"o-{n}",
                                        "amount": "10000000.00"}))["data"]["recordPurchase"]
        for n in range(5)
    ]  # fmt: skip
    balance = await graphql(client, BALANCE, {"id": str(buyer.id)})
    over_a_call = await graphql(client, REDEEM, {"member": str(buyer.id), "points": 1_000_000_001})

    assert refused(too_much) == ("VALIDATION", "input.amount")
    # SILVER, then DIAMOND from the first purchase on (its 5 % tier bonus: 50,000,000 points)
    assert earned[0] == {"pointsEarned": 460_500_000, "campaignPoints": 450_500_000}
    assert earned[1] == {"pointsEarned": 510_500_000, "campaignPoints": 450_500_000}
    total = 460_500_000 + 4 * 510_500_000
    assert balance["data"]["member"]["balance"] == {"posted": total, "available": total}
    assert total > 2**31
    assert refused(over_a_call) == ("VALIDATION", "input.points")


async def test_a_partner_funded_coupon_template_needs_a_budget_within_its_limit(app, db):
    partner, as_partner = await a_partner_client(app, db, "coupon-p")
    template = """
    mutation T($code: String!, $budget: Decimal) {
      createCouponTemplate(input: {code: $code, name: "Off", kind: AMOUNT_OFF,
                                   amountOff: "5.00", validHours: 24, budget: $budget}) { code }
    }"""

    no_budget = await graphql(as_partner, template, {"code": "a"})
    no_limit = await graphql(as_partner, template, {"code": "b", "budget": "100.00"})
    await registry.update_partner(db, partner_id=partner.id, coupon_budget_limit=Decimal(150))
    first = await graphql(as_partner, template, {"code": "c", "budget": "100.00"})
    second = await graphql(as_partner, template, {"code": "d", "budget": "50.01"})

    assert refused(no_budget) == ("VALIDATION", "budget")
    assert error_codes(no_limit) == ["PROMOTION_LIMIT"]
    assert first["data"]["createCouponTemplate"] == {"code": "c"}
    assert error_codes(second) == ["PROMOTION_LIMIT"]


SEQUENCE_BUY = """
mutation B($member: MemberRefInput!, $order: String!, $amount: Decimal!) {
  recordPurchase(input: {member: $member, channel: ONLINE, source: "web",
                         externalOrderId: $order, amount: $amount}) { id pointsEarned }
}"""
SEQUENCE_REFUND = """
mutation R($purchase: ID!, $amount: Decimal!, $key: String!) {
  refundPurchase(input: {purchaseId: $purchase, amount: $amount, idempotencyKey: $key}) {
    pointsReversed
  }
}"""
EVERYTHING_READ = """
query M($id: ID!) {
  member(id: $id) {
    balance { posted pending available incoming } growthValue
    tierProgress { growthValue growthValueNeeded } expiringPoints(within: 3650) { points }
    ledger(first: 50) { nodes { points } } purchases(first: 50) { nodes { pointsEarned } }
    campaigns { pointsAwarded pointsBudget }
  }
  campaigns { pointsAwarded }
}"""

calls = st.lists(
    st.one_of(
        st.tuples(st.just("campaign"), st.integers(0, bounds.MAX_BONUS_POINTS),
                  st.decimals(1, bounds.MAX_MULTIPLIER, places=2),
                  st.one_of(st.none(), st.integers(1, bounds.MAX_POINTS))),
        st.tuples(st.just("buy"), st.decimals(Decimal("0.01"), bounds.MAX_AMOUNT, places=2)),
        st.tuples(st.just("refund"), st.integers(0, 9), st.sampled_from(["0.01", "all"])),
        st.tuples(st.just("redeem"), st.integers(1, bounds.MAX_POINTS)),
    ),
    min_size=1, max_size=14,
)  # fmt: skip


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=calls)
async def test_no_sequence_of_allowed_calls_overflows_a_field(client, db, sequence):
    """Property: whatever an operator and a shop do within the bounds (campaigns at any allowed
    size, the largest purchases, refunds, redemptions), no answer is an internal error and
    every points field of the member reads."""
    run = uuid.uuid4().hex[:8]
    buyer = await a_member(db)
    named = {"id": str(buyer.id)}
    bought: list[tuple[str, Decimal]] = []
    for step, call in enumerate(sequence):
        if call[0] == "campaign":
            body = await graphql(client, CAMPAIGN, {
                "code": f"{run}-{step}", "bonus": call[1] or 1, "multiplier": str(call[2]),
                "budget": call[3]})  # fmt: skip
        elif call[0] == "buy":
            body = await graphql(client, SEQUENCE_BUY, {"member": named, "amount": str(call[1]),
                                                        "order": f"{run}-{step}"})  # fmt: skip
            if body.get("data"):
                bought.append((body["data"]["recordPurchase"]["id"], call[1]))
        elif call[0] == "refund" and bought:
            purchase_id, amount = bought[call[1] % len(bought)]
            refund = "0.01" if call[2] == "0.01" else str(amount)
            body = await graphql(client, SEQUENCE_REFUND, {
                "purchase": purchase_id, "amount": refund, "key": f"{run}-{step}"})  # fmt: skip
        elif call[0] == "redeem":
            body = await graphql(client, REDEEM.replace('"big"', f'"{run}-{step}"'),
                                 {"member": str(buyer.id), "points": call[1]})  # fmt: skip
        else:
            continue
        assert "INTERNAL_SERVER_ERROR" not in error_codes(body), (call, body)
    read = await graphql(client, EVERYTHING_READ, {"id": str(buyer.id)})

    assert "errors" not in read, read
    balance = read["data"]["member"]["balance"]
    assert balance["available"] == balance["posted"] - balance["pending"] >= 0
    # the campaigns stay for the next example: end them so each starts with none
    for made in (await graphql(client, "{ campaigns { id status } }"))["data"]["campaigns"]:
        if made["status"] == "ACTIVE":
            await graphql(client, 'mutation E($id: ID!) { endCampaign(id: $id) { id } }',
                          {"id": made["id"]})  # fmt: skip
