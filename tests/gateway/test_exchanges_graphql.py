"""Exchanges as clients use them through /graphql."""

from __future__ import annotations

from dataclasses import replace

from auth import clients
from gateway.app import create_app
from loyalty import member
from loyalty.member import IdentityKind
from loyalty.visibility import EVERYTHING
from partners.registry import Direction
from partners.simulated import Fault, SimulatedConnector
from tests.conftest import bearer, error_codes, graphql, http_client
from tests.factories import a_member_with_an_account, a_partner_with_terms

SET_TERMS = """
mutation Terms($partner: ID!) {
  setExchangeTerms(input: {partnerId: $partner, direction: OUTBOUND, rate: "2.5", minPoints: 100,
    maxPoints: 5000, stepPoints: 50, dailyCapPoints: 10000, feePoints: 10,
    validFrom: "2026-11-01T00:00:00Z"}) { rate feePoints }
}"""
QUOTE = """
mutation Quote($member: ID!, $partner: ID!, $points: Int!) {
  quoteExchange(input: {member: {id: $member}, partnerId: $partner, points: $points}) {
    id units rate feePoints externalAccount partner { code }
  }
}"""
REQUEST = """
mutation Request($quote: ID!) {
  requestExchange(input: {quoteId: $quote, idempotencyKey: "swap-1"}) {
    id state points units history { toState } member { balance { available pending } }
  }
}"""
MY_EXCHANGES = "{ exchanges(first: 5) { nodes { state points } } }"
ACCOUNTS = """
{ members(first: 10) { nodes { id partnerAccounts { externalId balance partner { code } } } } }"""
INBOUND = """
mutation In($member: ID!) {
  creditInboundExchange(input: {member: {id: $member}, units: 40, reference: "SKY-77"}) {
    state points direction
  }
}"""


async def test_a_member_quotes_and_exchanges_points_with_its_token(app, client, db):
    partner = await a_partner_with_terms(db)
    holder = await a_member_with_an_account(db, partner, points=2000)
    as_member = http_client(app, await bearer(app, f"member:{holder.id}"))
    await graphql(client, SET_TERMS, {"partner": str(partner.id)})

    quote = await graphql(
        as_member, QUOTE, {"member": str(holder.id), "partner": str(partner.id), "points": 1000}
    )
    done = await graphql(as_member, REQUEST, {"quote": quote["data"]["quoteExchange"]["id"]})
    listed = await graphql(as_member, MY_EXCHANGES)

    assert quote["data"]["quoteExchange"] | {"id": None} == {
        "id": None,
        "units": 400,
        "rate": "2.5000",
        "feePoints": 10,
        "externalAccount": f"SKY-{holder.id}",
        "partner": {"code": "skyway-air"},
    }
    assert done["data"]["requestExchange"] | {"id": None} == {
        "id": None,
        "state": "POSTED",
        "points": 1000,
        "units": 400,
        "history": [{"toState": "REQUESTED"}, {"toState": "RESERVED"}, {"toState": "POSTED"}],
        "member": {"balance": {"available": 990, "pending": 0}},
    }
    assert listed["data"]["exchanges"]["nodes"] == [{"state": "POSTED", "points": 1000}]


async def test_another_members_quote_is_not_found(app, client, db):
    partner = await a_partner_with_terms(db)
    owner = await a_member_with_an_account(db, partner)
    intruder = await a_member_with_an_account(db, partner)
    quote = await graphql(
        client, QUOTE, {"member": str(owner.id), "partner": str(partner.id), "points": 500}
    )

    as_intruder = http_client(app, await bearer(app, f"member:{intruder.id}"))
    stolen = await graphql(as_intruder, REQUEST, {"quote": quote["data"]["quoteExchange"]["id"]})
    for_owner = await graphql(
        as_intruder, QUOTE, {"member": str(owner.id), "partner": str(partner.id), "points": 500}
    )

    assert error_codes(stolen) == error_codes(for_owner) == ["NOT_FOUND"]


async def test_live_partner_balances_are_one_call_per_partner_and_partial_when_one_fails(
    db, settings, monkeypatch
):
    app = create_app(replace(settings, partner_balance_deadline_seconds=0.2), db)
    sky = await a_partner_with_terms(db, "skyway-air")
    rail = await a_partner_with_terms(db, "rail-club")
    holders = [await a_member_with_an_account(db, sky, points=0) for _ in range(5)]
    for holder in holders:
        await member.link_identity(
            db,
            member_id=holder.id,
            kind=IdentityKind.PARTNER_ACCOUNT,
            value=f"RAIL-{holder.id}",
            partner_id=rail.id,
            visible=EVERYTHING,
        )
    directory = app.state.directory
    directory.simulated(sky.id).balances[f"SKY-{holders[0].id}"] = 1234
    calls = []
    original = SimulatedConnector.balances

    async def counted(self, accounts):
        calls.append(self.partner.name)
        return await original(self, accounts)

    monkeypatch.setattr(SimulatedConnector, "balances", counted)
    directory.simulated(rail.id).slow_seconds = 1.0
    directory.simulated(rail.id).inject(Fault.SLOW)
    operator = http_client(app, await bearer(app, "operator:tests", "admin"))
    body = await graphql(operator, ACCOUNTS)

    nodes = body["data"]["members"]["nodes"]
    sky_balances = [
        a["balance"]
        for n in nodes
        for a in n["partnerAccounts"]
        if a["partner"]["code"] == "skyway-air"
    ]
    rail_balances = [
        a["balance"]
        for n in nodes
        for a in n["partnerAccounts"]
        if a["partner"]["code"] == "rail-club"
    ]
    assert sky_balances == [1234, 0, 0, 0, 0]
    assert rail_balances == [None] * 5  # the slow partner missed the deadline
    assert set(error_codes(body)) == {"PARTNER_UNAVAILABLE"}
    assert {tuple(e["path"][-1:]) for e in body["errors"]} == {("balance",)}
    assert sorted(calls) == sorted([f"partner {sky.id}", f"partner {rail.id}"])


async def test_a_partner_credits_inbound_points_once_per_reference(app, db):
    partner = await a_partner_with_terms(db, direction=Direction.INBOUND)
    holder = await a_member_with_an_account(db, partner, points=0)
    created = await clients.create_client(
        db, name="sky", scopes=["exchanges:write"], partner_code="skyway-air"
    )
    as_partner = http_client(
        app, await bearer(app, created.client_id, "exchanges:write", client_id=created.client_id)
    )

    first = await graphql(as_partner, INBOUND, {"member": str(holder.id)})
    again = await graphql(as_partner, INBOUND, {"member": str(holder.id)})

    assert first["data"]["creditInboundExchange"] == {
        "state": "POSTED",
        "points": 100,
        "direction": "INBOUND",
    }
    assert again == first


LINK = """
mutation Link($member: ID!, $partner: ID!) {
  linkIdentity(input: {memberId: $member,
                       identity: {kind: PARTNER_ACCOUNT, value: "SKY-NEW", partnerId: $partner}}) {
    kind value
  }
}"""


async def test_linking_a_partner_account_asks_the_partner_first(app, client, db):
    partner = await a_partner_with_terms(db)
    holder = await a_member_with_an_account(db, partner, points=0)
    simulated = app.state.directory.simulated(partner.id)
    simulated.inject(Fault.TIMEOUT)

    unavailable = await graphql(
        client, LINK, {"member": str(holder.id), "partner": str(partner.id)}
    )
    linked = await graphql(client, LINK, {"member": str(holder.id), "partner": str(partner.id)})

    assert error_codes(unavailable) == ["PARTNER_UNAVAILABLE"]
    assert linked["data"]["linkIdentity"] == {"kind": "PARTNER_ACCOUNT", "value": "SKY-NEW"}
    assert "SKY-NEW" in simulated.balances


async def a_partner_client(app, db, code):
    created = await clients.create_client(
        db, name=code, scopes=["exchanges:write"], partner_code=code
    )
    return http_client(
        app, await bearer(app, created.client_id, "exchanges:write", client_id=created.client_id)
    )


async def test_a_quote_is_carried_out_only_by_whoever_asked_for_it(app, client, db):
    airline = await a_partner_with_terms(db)
    rail = await a_partner_with_terms(db, code="rail-club")
    shared = await a_member_with_an_account(db, airline, points=5000)
    await member.link_identity(db, member_id=shared.id, kind=IdentityKind.PARTNER_ACCOUNT,
                               value=f"RAIL-{shared.id}", partner_id=rail.id,
                               visible=EVERYTHING)  # fmt: skip
    as_airline = await a_partner_client(app, db, "skyway-air")
    as_rail = await a_partner_client(app, db, "rail-club")
    as_member = http_client(app, await bearer(app, f"member:{shared.id}"))
    quoted = await graphql(
        as_airline, QUOTE, {"member": str(shared.id), "partner": str(airline.id), "points": 1000}
    )
    quote_id = quoted["data"]["quoteExchange"]["id"]

    by_rail = await graphql(as_rail, REQUEST, {"quote": quote_id})
    by_member = await graphql(as_member, REQUEST, {"quote": quote_id})
    balance = await graphql(
        client, f'{{ member(id: "{shared.id}") {{ balance {{ available }} }} }}'
    )
    by_airline = await graphql(as_airline, REQUEST, {"quote": quote_id})

    assert error_codes(by_rail) == error_codes(by_member) == ["NOT_FOUND"]
    assert balance["data"]["member"]["balance"] == {"available": 5000}
    assert by_airline["data"]["requestExchange"]["state"] == "POSTED"
