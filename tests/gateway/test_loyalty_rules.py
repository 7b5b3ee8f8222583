"""The loyalty rules as a client sees them through /graphql."""

from __future__ import annotations

from loyalty.program import Program
from tests.conftest import bearer, error_codes, graphql
from tests.factories import a_member, a_member_with_points, a_purchase

ME = """
{
  me {
    displayName tier balance { available } referralCode
    tierProgress { tier growthValue nextTier nextTierThreshold growthValueNeeded }
    expiringPoints(within: 30) { points }
    ledger(first: 5) { nodes { points reason } }
    referrals(first: 5) { nodes { displayName } }
  }
}"""
PROGRAM = "{ program { currency pointValue goldGrowthThreshold diamondBonusPercent expiryMonths } }"
ENROLL_REFERRED = """
mutation Enroll($code: String!) {
  enrollMember(input: {displayName: "Grace", idempotencyKey: "grace", referralCode: $code}) {
    id referredBy { displayName }
  }
}"""
INTERACT = """
mutation Interact($member: ID!, $key: String!) {
  recordInteraction(input: {member: {id: $member}, kind: REVIEW, idempotencyKey: $key}) {
    kind growthValue member { growthValue tierProgress { growthValueNeeded } }
  }
}"""
CREATE_REWARD = """
mutation Create($stock: Int) {
  createReward(input: {code: "mug", name: "Mug", pointCost: 100, stock: $stock}) {
    id code pointCost stock status
  }
}"""
REDEEM_REWARD = """
mutation Redeem($member: ID!, $reward: ID!, $key: String!) {
  redeemReward(input: {member: {id: $member}, rewardId: $reward, idempotencyKey: $key}) {
    points quantity reward { code stock } member { balance { available } }
  }
}"""
REWARDS = "{ rewards(first: 10, filter: {status: ACTIVE}) { nodes { code stock } } }"
MERGE = """
mutation Merge($survivor: ID!, $merged: ID!) {
  mergeMembers(input: {survivorId: $survivor, mergedId: $merged}) {
    id balance { available } identities { value }
  }
}"""
MERGED = "query M($id: ID!) { member(id: $id) { status mergedInto { id } } }"
NEW_MEMBERS = """
{ members(first: 10, filter: {lifecycle: NEW, spend: LOW}) { nodes { displayName lifecycle } } }"""


async def test_me_shows_a_members_own_standing_from_a_member_token(app, client, db, program):
    ada = await a_member_with_points(db, 1200, program)

    body = await graphql(client, ME, headers=await bearer(app, f"member:{ada.id}"))

    me = body["data"]["me"]
    assert (me["displayName"], me["tier"], me["balance"]) == ("Ada", "SILVER", {"available": 1200})
    assert me["tierProgress"] == {
        "tier": "SILVER", "growthValue": 1200, "nextTier": "GOLD", "nextTierThreshold": 5000,
        "growthValueNeeded": 3800,
    }  # fmt: skip
    assert me["expiringPoints"] == {"points": 0}
    assert me["ledger"]["nodes"] == [{"points": 1200, "reason": "EARN"}]
    assert me["referralCode"] == ada.referral_code
    assert me["referrals"]["nodes"] == []


async def test_me_is_for_members_only(client, anonymous):
    assert error_codes(await graphql(client, ME)) == ["FORBIDDEN"]
    assert error_codes(await graphql(anonymous, ME)) == ["UNAUTHENTICATED"]


async def test_the_program_query_shows_the_rules_in_force(client):
    body = await graphql(client, PROGRAM)

    assert body["data"]["program"] == {
        "currency": "USD", "pointValue": "0.01", "goldGrowthThreshold": 5000,
        "diamondBonusPercent": "5", "expiryMonths": 24,
    }  # fmt: skip


async def test_a_referral_through_graphql_shows_on_both_members(app, client, db):
    ada = await a_member(db)

    enrolled = await graphql(client, ENROLL_REFERRED, {"code": ada.referral_code})
    unknown = await graphql(client, ENROLL_REFERRED.replace("grace", "g2"), {"code": "NOPE"})
    referrer = await graphql(client, ME, headers=await bearer(app, f"member:{ada.id}"))

    assert enrolled["data"]["enrollMember"]["referredBy"] == {"displayName": "Ada"}
    assert error_codes(unknown) == ["NOT_FOUND"]
    assert referrer["data"]["me"]["balance"] == {"available": 500}
    assert referrer["data"]["me"]["referrals"]["nodes"] == [{"displayName": "Grace"}]


async def test_interactions_add_growth_value(client, db):
    ada = await a_member(db)

    first = await graphql(client, INTERACT, {"member": str(ada.id), "key": "review-1"})
    replay = await graphql(client, INTERACT, {"member": str(ada.id), "key": "review-1"})

    assert first["data"]["recordInteraction"] == {
        "kind": "REVIEW", "growthValue": 2,
        "member": {"growthValue": 2, "tierProgress": {"growthValueNeeded": 4998}},
    }  # fmt: skip
    assert replay == first


async def test_rewards_are_redeemed_until_out_of_stock(client, db, program):
    ada = await a_member_with_points(db, 1000, program)
    reward_id = (await graphql(client, CREATE_REWARD, {"stock": 1}))["data"]["createReward"]["id"]
    redeem = {"member": str(ada.id), "reward": reward_id}

    first = await graphql(client, REDEEM_REWARD, {**redeem, "key": "r1"})
    second = await graphql(client, REDEEM_REWARD, {**redeem, "key": "r2"})
    catalog = await graphql(client, REWARDS)

    assert first["data"]["redeemReward"] == {
        "points": 100, "quantity": 1, "reward": {"code": "mug", "stock": 0},
        "member": {"balance": {"available": 900}},
    }  # fmt: skip
    assert error_codes(second) == ["OUT_OF_STOCK"]
    assert catalog["data"]["rewards"]["nodes"] == [{"code": "mug", "stock": 0}]


async def test_a_merge_through_graphql_leaves_a_tombstone(client, db, program):
    web = await a_member(db, card="CARD-W")
    store = await a_member(db, card="CARD-S")
    await a_purchase(db, program, store.id, "70.00")

    merged = await graphql(client, MERGE, {"survivor": str(web.id), "merged": str(store.id)})
    tombstone = await graphql(client, MERGED, {"id": str(store.id)})

    assert merged["data"]["mergeMembers"] == {
        "id": str(web.id), "balance": {"available": 70},
        "identities": [{"value": "CARD-W"}, {"value": "CARD-S"}],
    }  # fmt: skip
    assert tombstone["data"]["member"] == {"status": "MERGED", "mergedInto": {"id": str(web.id)}}


async def test_the_members_list_filters_by_lifecycle_and_segment(client, db, program):
    await a_member(db, "New and quiet")

    body = await graphql(client, NEW_MEMBERS)

    assert body["data"]["members"]["nodes"] == [
        {"displayName": "New and quiet", "lifecycle": "NEW"}
    ]


REFERRER_PRYING = """{ me { referrals(first: 5) { nodes { displayName qualified
  member { id identities { kind value } balance { available } ledger { nodes { reference } } }
} } } }"""


async def test_a_referrer_sees_its_referees_names_and_qualification_only(app, client, db):
    ada = await a_member(db)
    grace = await a_member(db, "Grace", card="CANARY-CARD-7", referral_code=ada.referral_code)
    await a_member(db, "Linus", referral_code=ada.referral_code)
    await a_purchase(db, Program(), grace.id, "10.00")

    as_ada = await graphql(client, REFERRER_PRYING, headers=await bearer(app, f"member:{ada.id}"))
    as_operator = await graphql(
        client, REFERRER_PRYING.replace("me {", f'member(id: "{ada.id}") {{')
    )

    assert "CANARY-CARD-7" not in str(as_ada)
    assert as_ada["data"]["me"]["referrals"]["nodes"] == [
        {"displayName": "Linus", "qualified": False, "member": None},
        {"displayName": "Grace", "qualified": True, "member": None},
    ]
    assert "CANARY-CARD-7" in str(as_operator)
