"""Statements as finance and partners read them: the graph, the downloads, the CLI."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from auth import clients
from tests.conftest import bearer, error_codes, graphql, http_client
from tests.factories import a_member, a_member_with_an_account, a_partner
from tests.partners.test_settlement import NOVEMBER, a_month_of_activity, a_settling_partner

STATEMENT = """
query S($partner: ID, $period: String! = "2026-10") {
  settlementStatement(period: $period, partnerId: $partner) {
    status currency payableByPartner payableByProgram net exports
    lines { kind payer quantity unitRate amount transferCount }
  }
}"""
CLOSE = """
mutation C($partner: ID!, $period: String! = "2026-10") {
  closeSettlementStatement(partnerId: $partner, period: $period) { status net inputsHash }
}"""
OCTOBER = "2026-10"


async def a_partner_client(app, db, code, scope="settlements:read"):
    created = await clients.create_client(db, name=code, scopes=[scope], partner_code=code)
    return http_client(
        app, await bearer(app, created.client_id, scope, client_id=created.client_id)
    )


async def test_finance_reads_closes_and_downloads_a_statement(app, client, db):
    partner = await a_settling_partner(db)
    await a_month_of_activity(db, partner, month=10)

    draft = await graphql(client, STATEMENT, {"partner": str(partner.id)})
    too_early = await graphql(client, CLOSE, {"partner": str(partner.id), "period": "2099-01"})
    closed = await graphql(client, CLOSE, {"partner": str(partner.id)})
    again = await graphql(client, CLOSE, {"partner": str(partner.id)})
    lines = await client.get(f"/settlements/{partner.id}/{OCTOBER}/lines.csv")
    drill = await client.get(f"/settlements/{partner.id}/{OCTOBER}/transfers.csv")
    report = await client.get(f"/settlements/{partner.id}/{OCTOBER}/report.html")

    body = draft["data"]["settlementStatement"]
    assert (body["status"], body["currency"], body["net"]) == ("DRAFT", "EUR", "121.59")
    assert body["exports"][0] == f"/settlements/{partner.id}/2026-10/lines.csv"
    assert error_codes(too_early) == ["INVALID_STATE"]
    assert closed["data"]["closeSettlementStatement"]["status"] == "CLOSED"
    assert again == closed
    rows = list(csv.DictReader(io.StringIO(lines.text)))
    assert [r["amount"] for r in rows if r["kind"] == "TOTAL"] == ["130.78", "9.19", "121.59"]
    transfers = list(csv.DictReader(io.StringIO(drill.text)))
    issuance = sum(int(r["quantity"]) for r in transfers if r["kind"] == "ISSUANCE")
    assert issuance == 2300
    assert report.status_code == 200 and "<svg" in report.text and "121.59" in report.text


async def test_a_partner_reads_only_its_own_statement(app, db):
    mine = await a_settling_partner(db, "skyway-air")
    theirs = await a_settling_partner(db, "rail-club")
    as_sky = await a_partner_client(app, db, "skyway-air")

    own = await graphql(as_sky, STATEMENT)
    other = await graphql(as_sky, STATEMENT, {"partner": str(theirs.id)})
    own_csv = await as_sky.get(f"/settlements/{mine.id}/{NOVEMBER}/lines.csv")
    other_csv = await as_sky.get(f"/settlements/{theirs.id}/{NOVEMBER}/lines.csv")
    missing_csv = await as_sky.get(f"/settlements/987654/{NOVEMBER}/lines.csv")
    anonymous = await http_client(app).get(f"/settlements/{mine.id}/{NOVEMBER}/lines.csv")

    assert own["data"]["settlementStatement"]["status"] == "DRAFT"
    assert error_codes(other) == ["NOT_FOUND"]
    assert own_csv.status_code == 200
    assert other_csv.status_code == missing_csv.status_code == 404
    assert other_csv.json() == missing_csv.json()
    assert anonymous.status_code == 401


async def test_a_partners_api_calls_are_billed(app, db):
    partner = await a_settling_partner(db)
    as_sky = await a_partner_client(app, db, "skyway-air")

    for _ in range(3):
        await graphql(as_sky, "{ partners { code } }")
    # API calls are billed in the month they are made: this one, whenever the test runs
    this_month = datetime.now(UTC).strftime("%Y-%m")
    body = await graphql(as_sky, STATEMENT, {"period": this_month})
    assert partner.code == "skyway-air"

    lines = {line["kind"]: line for line in body["data"]["settlementStatement"]["lines"]}
    # three queries before, and the statement query itself: it is counted when admitted
    assert lines["API_TRANSACTIONS"]["quantity"] == "4"


RATE_CARDS = """
{ partners { code rateCards { pointValue redemptionCommissionPercent platformFeeMonthly
                              validFrom validTo } } }"""
RECORD_AT_PARTNER = """
mutation R($member: ID!, $partner: ID!) {
  recordPurchase(input: {member: {id: $member}, channel: PARTNER, partnerId: $partner,
                         source: "till", externalOrderId: "o-1", amount: "10.00"}) { id }
}"""


async def test_rate_cards_are_read_by_operators_and_their_own_partner_only(app, client, db):
    mine = await a_settling_partner(db, "skyway-air")
    await a_settling_partner(db, "rail-club")
    as_sky = await a_partner_client(app, db, "skyway-air", scope="members:read")
    holder = await a_member_with_an_account(db, mine, points=0)
    as_member = http_client(app, await bearer(app, f"member:{holder.id}"))

    operator = await graphql(client, RATE_CARDS)
    partner = await graphql(as_sky, RATE_CARDS)
    member = await graphql(as_member, RATE_CARDS)

    seen = {p["code"]: p["rateCards"] for p in operator["data"]["partners"]}
    assert set(seen) == {"skyway-air", "rail-club"}
    assert seen["skyway-air"] == [{
        "pointValue": "0.01", "redemptionCommissionPercent": "3", "platformFeeMonthly": "99",
        "validFrom": "2026-01-01T11:00:00+00:00", "validTo": None,
    }]  # fmt: skip
    assert [(p["code"], len(p["rateCards"])) for p in partner["data"]["partners"]] == [
        ("skyway-air", 1)
    ]
    assert {p["code"]: p["rateCards"] for p in member["data"]["partners"]} == {
        "skyway-air": [], "rail-club": []
    }  # fmt: skip


async def test_a_purchase_at_a_partner_without_a_rate_card_is_refused_over_http(client, db):
    partner = await a_partner(db, "uncarded", contracted=False)
    holder = await a_member(db)

    body = await graphql(client, RECORD_AT_PARTNER,
                         {"member": str(holder.id), "partner": str(partner.id)})  # fmt: skip

    assert error_codes(body) == ["PARTNER_NOT_CONTRACTED"]
    assert "no rate card in force" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["partnerId"] == str(partner.id)
