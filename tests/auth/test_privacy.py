"""Canaries for a member's personal data (docs/privacy.md): a partner linked to a member sees its
name, tier, balance and its own account identity; e-mail, phone and birth date only while the
member consents to it for that purpose, on the planned SQL path, the general path and
`_entities` alike; withdrawing takes effect at once."""

from __future__ import annotations

import dataclasses
from contextlib import AsyncExitStack
from datetime import date

import pytest
from sqlalchemy import select

from auth import clients
from gateway.app import create_app
from infra.models import webhook_deliveries
from loyalty import consent, ledger, member
from loyalty.consent import ConsentPurpose
from loyalty.member import IdentityKind
from loyalty.visibility import EVERYTHING
from partners import webhook
from partners.directory import ConnectorDirectory
from tests.auth.test_revocations import serving
from tests.conftest import bearer, error_codes, graphql, http_client
from tests.factories import NOW, a_member, a_partner, a_partner_with_terms, a_purchase
from tests.partners.test_exchange import an_exchange

EMAIL, PHONE = "ada.canary@example.com", "+442071838750"
MEMBER = """query M($id: ID!) { member(id: $id) {
  displayName tier balance { available } birthDate identities { kind value }
  partnerAccounts { externalId partner { code } } } }"""
ENTITIES = """query E($r: [_Any!]!) { _entities(representations: $r) {
  ... on Member { displayName birthDate identities { kind value } } } }"""
GRANT = """mutation G($partner: ID!, $purpose: ConsentPurpose!) {
  grantConsent(input: {partnerId: $partner, purpose: $purpose}) {
    purpose withdrawnAt partner { code } } }"""
WITHDRAW = """mutation W($partner: ID!, $purpose: ConsentPurpose!) {
  withdrawConsent(input: {partnerId: $partner, purpose: $purpose}) { purpose withdrawnAt } }"""
CONSENTS = "{ me { consents { purpose grantedAt withdrawnAt partner { code } } } }"


async def a_member_with_contacts(db, partners):
    """Ada: e-mail, phone, card, a birth date, and an account at each partner."""
    ada = await a_member(db, "Ada", card="CARD-CANARY")
    links = [(IdentityKind.EMAIL, EMAIL, None), (IdentityKind.PHONE, PHONE, None)]
    links += [(IdentityKind.PARTNER_ACCOUNT, f"ACC-{p.code}", p.id) for p in partners]
    for kind, value, partner_id in links:
        await member.link_identity(db, member_id=ada.id, kind=kind, value=value,
                                   partner_id=partner_id, visible=EVERYTHING)  # fmt: skip
    await member.set_birth_date(db, member_id=ada.id, birth_date=date(1990, 5, 1),
                                visible=EVERYTHING)  # fmt: skip
    return ada


@pytest.fixture
async def world(db, settings):
    skyway, other = await a_partner(db, "skyway-air"), await a_partner(db, "other-shop")
    ada = await a_member_with_contacts(db, [skyway, other])
    made = await clients.create_client(db, name="skyway", scopes=["members:read"],
                                       partner_code="skyway-air")  # fmt: skip
    compiled = create_app(dataclasses.replace(settings, compiled_reads=True), db)
    general = create_app(dataclasses.replace(settings, compiled_reads=False), db)
    token = await bearer(compiled, made.client_id, "members:read", client_id=made.client_id)
    return {
        "ada": ada, "skyway": skyway,
        "paths": {"compiled": http_client(compiled, token),
                  "general": http_client(general, token)},
        "me": http_client(compiled, await bearer(compiled, f"member:{ada.id}")),
        "compiled_app": compiled,
    }  # fmt: skip


async def seen_by_partner(world) -> list[dict]:
    """What the partner's client reads of Ada: member(id:) and _entities, on both paths (the
    compiled app asked twice: a document's first sighting takes the general path)."""
    ada = str(world["ada"].id)
    asked = [(MEMBER, {"id": ada}, "member"),
             (ENTITIES, {"r": [{"__typename": "Member", "id": ada}]}, "_entities")]  # fmt: skip
    seen = []
    async with AsyncExitStack() as lifespan:
        await serving(lifespan, world["compiled_app"])
        for http in world["paths"].values():
            for query, variables, root in asked:
                await graphql(http, query, variables)
                body = await graphql(http, query, variables)
                assert "errors" not in body, body
                found = body["data"][root]
                seen.append(found[0] if root == "_entities" else found)
    return seen


def personal(seen: list[dict]) -> set[str]:
    """The personal values among what was seen."""
    values = {i["value"] for answer in seen for i in answer["identities"]}
    values |= {answer["birthDate"] for answer in seen if answer["birthDate"]}
    return values & {EMAIL, PHONE, "CARD-CANARY", "1990-05-01", "ACC-other-shop"}


async def test_a_partner_without_consent_sees_no_contact_or_birth_date(world, db):
    seen = await seen_by_partner(world)

    assert personal(seen) == set()
    for answer in seen:  # what a linked partner does see
        assert answer["displayName"] == "Ada"
        assert answer["identities"] == [{"kind": "PARTNER_ACCOUNT", "value": "ACC-skyway-air"}]
    assert seen[0]["partnerAccounts"] == [{"externalId": "ACC-skyway-air",
                                           "partner": {"code": "skyway-air"}}]  # fmt: skip
    assert seen[0] == seen[2] and seen[1] == seen[3]  # both paths answer alike
    outcomes = world["compiled_app"].state.compiled_operations.outcomes
    if db.dialect == "postgresql":
        assert outcomes["compiled"] >= 2  # the planned statement was the one asked


async def test_consent_shows_each_purpose_and_withdrawing_hides_it_at_once(world):
    me, skyway = world["me"], str(world["skyway"].id)

    granted = await graphql(me, GRANT, {"partner": skyway, "purpose": "CONTACT"})
    again = await graphql(me, GRANT, {"partner": skyway, "purpose": "CONTACT"})
    with_contact = personal(await seen_by_partner(world))
    await graphql(me, GRANT, {"partner": skyway, "purpose": "BIRTH_DATE"})
    with_both = personal(await seen_by_partner(world))
    withdrawn = await graphql(me, WITHDRAW, {"partner": skyway, "purpose": "CONTACT"})
    after = personal(await seen_by_partner(world))
    history = (await graphql(me, CONSENTS))["data"]["me"]["consents"]

    assert granted["data"]["grantConsent"] == {"purpose": "CONTACT", "withdrawnAt": None,
                                               "partner": {"code": "skyway-air"}}  # fmt: skip
    assert again["data"] == granted["data"]  # granting again changes nothing
    assert with_contact == {EMAIL, PHONE}  # never the card, nor another partner's account
    assert with_both == {EMAIL, PHONE, "1990-05-01"}
    assert withdrawn["data"]["withdrawConsent"]["withdrawnAt"] is not None
    assert after == {"1990-05-01"}
    assert [(c["purpose"], c["withdrawnAt"] is None) for c in history] == [
        ("CONTACT", False), ("BIRTH_DATE", True)]  # fmt: skip


async def test_only_the_member_grants_and_an_unknown_partner_is_not_found(world, client):
    skyway = str(world["skyway"].id)
    by_operator = await graphql(client, GRANT, {"partner": skyway, "purpose": "CONTACT"})
    by_partner = await graphql(world["paths"]["general"], GRANT,
                               {"partner": skyway, "purpose": "CONTACT"})  # fmt: skip
    unknown = await graphql(world["me"], GRANT, {"partner": "999999", "purpose": "CONTACT"})
    nothing_to_withdraw = await graphql(world["me"], WITHDRAW,
                                        {"partner": skyway, "purpose": "BIRTH_DATE"})  # fmt: skip
    seen_by_operator = await graphql(
        client,
        "query M($id: ID!) { member(id: $id) { consents { purpose } birthDate } }",
        {"id": str(world["ada"].id)},
    )

    assert error_codes(by_operator) == ["FORBIDDEN"] and error_codes(by_partner) == ["FORBIDDEN"]
    assert error_codes(unknown) == ["NOT_FOUND"]
    assert nothing_to_withdraw["data"]["withdrawConsent"] is None
    assert seen_by_operator["data"]["member"] == {"consents": [], "birthDate": "1990-05-01"}


PURCHASES = "query P($id: ID!) { member(id: $id) { purchases { nodes { id amount } } } }"
PURCHASE = "query P($bought: ID!) { purchase(id: $bought) { id amount } }"
REFUND = """mutation R($bought: ID!) { refundPurchase(input: {purchaseId: $bought, amount: "1.00",
  idempotencyKey: "canary"}) { id } }"""


async def test_purchases_elsewhere_are_read_with_consent_and_never_refunded(world, db, program):
    ada, skyway = world["ada"], str(world["skyway"].id)
    elsewhere = await a_purchase(db, program, ada.id, "42.00")  # online, not at skyway-air
    asked = [(PURCHASES, {"id": str(ada.id)}), (PURCHASE, {"bought": str(elsewhere.id)})]
    refunder = await clients.create_client(db, name="skyway-till", scopes=["purchases:write"],
                                           partner_code="skyway-air")  # fmt: skip
    as_till = http_client(world["compiled_app"], await bearer(
        world["compiled_app"], refunder.client_id, "purchases:write",
        client_id=refunder.client_id))  # fmt: skip

    async def read() -> list[dict]:
        answers = []
        async with AsyncExitStack() as lifespan:
            await serving(lifespan, world["compiled_app"])
            for http in world["paths"].values():
                for query, variables in asked:
                    await graphql(http, query, variables)
                    answers.append(await graphql(http, query, variables))
        return answers

    without = await read()
    await graphql(world["me"], GRANT, {"partner": skyway, "purpose": "PURCHASES"})
    with_consent = await read()
    refund = await graphql(as_till, REFUND, {"bought": str(elsewhere.id)})

    seen = {"id": str(elsewhere.id), "amount": "42.00"}
    for listed, one in (without[0:2], without[2:4]):  # each path
        assert listed["data"]["member"]["purchases"]["nodes"] == []
        assert error_codes(one) == ["NOT_FOUND"]
    for listed, one in (with_consent[0:2], with_consent[2:4]):
        assert listed["data"]["member"]["purchases"]["nodes"] == [seen]
        assert one["data"]["purchase"] == seen
    assert error_codes(refund) == ["NOT_FOUND"]  # reading is not acting


async def test_a_partners_webhooks_carry_no_contact_data_or_birth_date(db):
    """What a partner's systems are sent about its members' exchanges: ids, points, states,
    its own account number; never the member's e-mail, phone, card or birth date, consent or
    not (webhooks are the partner's own exchange events)."""
    partner = await a_partner_with_terms(db, "hook-air")
    hook, _ = await webhook.subscribe(db, partner_id=partner.id, url="https://hook.test/h",
                                      now=NOW)  # fmt: skip
    ada = await a_member_with_contacts(db, [partner])
    await consent.grant(db, member_id=ada.id, partner_id=partner.id,
                        purpose=ConsentPurpose.CONTACT, visible=EVERYTHING)  # fmt: skip
    async with db.transaction() as conn:
        await ledger.transfer(conn, idempotency_key="fund-canary", debit=ledger.ISSUANCE,
                              credit=ledger.member_account(ada.id), amount=5000,
                              reason=ledger.TransferCode.ADJUSTMENT, now=NOW)  # fmt: skip

    done = await an_exchange(db, ConnectorDirectory(), ada, partner, points=1000)

    async with db.read() as conn:
        to_hook = webhook_deliveries.c.subscription_id == hook.id
        sent = list(await conn.scalars(select(webhook_deliveries.c.payload).where(to_hook)))
    assert done.state == "POSTED" and len(sent) == 3
    assert all(f"ACC-{partner.code}" in payload for payload in sent)  # its own account number
    for value in (EMAIL, PHONE, "CARD-CANARY", "1990-05-01", "Ada"):
        assert not any(value in payload for payload in sent), value
