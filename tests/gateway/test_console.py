"""The console over HTTP: invitations, sign-in and its throttle, sessions that sign-out revokes,
CSRF on every form, and partner staff confined to their own partner (anything else is the same
404 as a missing page). The browser tests (tests/browser/test_console.py) drive the same pages
in Chromium."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pyotp
from sqlalchemy import insert, select

from auth import audit, console
from auth.principal import Principal, PrincipalKind, Scope
from gateway.console.visit import PAGE
from infra.models import audit_log, console_users, webhook_deliveries
from loyalty import consent
from loyalty.consent import ConsentPurpose
from loyalty.program import Program
from loyalty.promotions import campaign
from loyalty.visibility import EVERYTHING
from partners import exchange, registry, webhook
from partners.settlement import usage
from partners.simulated import Fault
from tests.conftest import graphql
from tests.factories import (
    NOW,
    a_member,
    a_member_with_an_account,
    a_partner,
    a_partner_with_terms,
)
from tests.loyalty.promotions.test_campaign import MEMBER_DAY

OPERATOR = Principal(PrincipalKind.OPERATOR, "tests", frozenset({Scope.ADMIN.value}))
PASSWORD = "correct horse battery"


def browser_like(app, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client that keeps cookies over https (the session cookie is Secure) and does not
    follow redirects, so each answer can be looked at."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="https://localhost")


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def a_person(db, email, role=console.Role.OPERATOR, partner_id=None):
    return await console.ensure_person(db, OPERATOR, email=email, role=role, password=PASSWORD,
                                       partner_id=partner_id)  # fmt: skip


@asynccontextmanager
async def signed_in(app, email, password=PASSWORD) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_like(app) as http:
        form = await http.get("/console/sign-in")
        answer = await http.post("/console/sign-in", data={
            "email": email, "password": password, "csrf": csrf_of(form)})  # fmt: skip
        assert answer.status_code == 303, answer.text
        yield http


async def test_an_invited_person_sets_a_password_once_and_signs_in(app, db):
    invitation = await console.invite(db, OPERATOR, email="Ops@Example.com",
                                      role=console.Role.OPERATOR)  # fmt: skip
    async with browser_like(app) as http:
        form = await http.get(f"/console/invitations/{invitation.token}")
        short = await http.post(f"/console/invitations/{invitation.token}", data={
            "password": "short", "repeat": "short", "csrf": csrf_of(form)})  # fmt: skip
        accepted = await http.post(f"/console/invitations/{invitation.token}", data={
            "password": PASSWORD, "repeat": PASSWORD, "csrf": csrf_of(form)})  # fmt: skip
        again = await http.get(f"/console/invitations/{invitation.token}")

    assert form.status_code == 200 and "ops@example.com" in form.text
    assert short.status_code == 422 and "at least 12 characters" in short.text
    assert accepted.status_code == 200 and "Your password is set" in accepted.text
    assert again.status_code == 404
    async with signed_in(app, "ops@example.com") as http:
        home = await http.get("/console/")
        partners = await http.get("/console/partners")
    assert home.headers["location"] == "/console/partners"
    assert partners.status_code == 200 and "New partner" in partners.text


async def test_the_session_cookie_is_signed_secure_httponly_and_lax(app, db):
    await a_person(db, "ops@example.com")
    async with browser_like(app) as http:
        form = await http.get("/console/sign-in")
        answer = await http.post("/console/sign-in", data={
            "email": "ops@example.com", "password": PASSWORD, "csrf": csrf_of(form)})  # fmt: skip
        cookie = answer.headers["set-cookie"]
        signed = http.cookies.get("pointgate_console")
        opened = await http.get("/console/partners")
    async with browser_like(app) as forger:
        # the token with its first character changed, its signature kept
        forger.cookies.set("pointgate_console", ("B" if signed[0] == "A" else "A") + signed[1:])
        tampered = await forger.get("/console/partners")

    assert cookie.startswith("pointgate_console=")
    assert all(flag in cookie.lower() for flag in ("secure", "httponly", "samesite=lax"))
    assert opened.status_code == 200
    assert tampered.status_code == 303 and tampered.headers["location"] == "/console/sign-in"


async def test_wrong_passwords_are_refused_alike_throttled_and_audited(app, db):
    await a_person(db, "ops@example.com")
    async with browser_like(app) as http:
        token = csrf_of(await http.get("/console/sign-in"))
        unknown = await http.post("/console/sign-in", data={
            "email": "nobody@example.com", "password": PASSWORD, "csrf": token})  # fmt: skip
        wrong = [
            await http.post("/console/sign-in", data={
                "email": "ops@example.com", "password": f"wrong {n}", "csrf": token})
            for n in range(5)
        ]  # fmt: skip
        # the right password no longer helps while the address is over its budget
        right = await http.post("/console/sign-in", data={
            "email": "ops@example.com", "password": PASSWORD, "csrf": token})  # fmt: skip

    assert unknown.status_code == 401 and all(w.status_code == 401 for w in wrong)
    assert "is not right" in unknown.text and "is not right" in wrong[0].text
    assert right.status_code == 401 and "Try again in" in right.text
    async with db.read() as conn:
        signs_in = select(audit_log.c.outcome).where(audit_log.c.action == "console.sign_in")
        outcomes = list(await conn.scalars(signs_in))
    assert outcomes.count("REFUSED") == 6 and outcomes.count("THROTTLED") == 1


async def test_wrong_passwords_from_one_address_do_not_lock_the_person_out_elsewhere(app, db):
    """Found from outside: 20 wrong passwords locked the person out everywhere."""
    await a_person(db, "ops@example.com")
    async with browser_like(app, address="127.0.2.1") as attacker:
        token = csrf_of(await attacker.get("/console/sign-in"))
        for n in range(20):
            await attacker.post("/console/sign-in", data={
                "email": "ops@example.com", "password": f"wrong {n}", "csrf": token})  # fmt: skip
    async with browser_like(app, address="127.0.2.2") as owner:
        token = csrf_of(await owner.get("/console/sign-in"))
        signed = await owner.post("/console/sign-in", data={
            "email": "ops@example.com", "password": PASSWORD, "csrf": token})  # fmt: skip

    assert signed.status_code == 303


async def test_a_form_without_its_csrf_token_changes_nothing(app, db):
    await a_person(db, "ops@example.com")
    async with signed_in(app, "ops@example.com") as http:
        forged = await http.post("/console/partners", data={"code": "evil", "name": "Evil"})
        listed = await http.get("/console/partners")
        made = await http.post("/console/partners", data={
            "code": "good", "name": "Good", "csrf": csrf_of(listed)})  # fmt: skip
    async with browser_like(app) as stranger:
        no_cookie = await stranger.post("/console/sign-in", data={
            "email": "ops@example.com", "password": PASSWORD, "csrf": "guessed"})  # fmt: skip

    assert forged.status_code == 403 and "evil" not in listed.text
    assert made.status_code == 303
    assert no_cookie.status_code == 403


async def test_a_signed_out_session_cannot_be_replayed(app, db):
    await a_person(db, "ops@example.com")
    async with signed_in(app, "ops@example.com") as http:
        cookie = http.cookies.get("pointgate_console")
        page = await http.get("/console/partners")
        out = await http.post("/console/sign-out", data={"csrf": csrf_of(page)})

    async with browser_like(app) as replay:
        replay.cookies.set("pointgate_console", cookie)
        after = await replay.get("/console/partners")

    assert out.status_code == 303
    assert after.status_code == 303 and after.headers["location"] == "/console/sign-in"


async def test_partner_staff_see_their_own_statement_and_nothing_else(app, client, db):
    mine = await a_partner(db, "acme-coffee")
    other = await a_partner(db, "rail-club")
    await a_person(db, "clerk@acme.example", console.Role.PARTNER_STAFF, mine.id)
    period = datetime.now(UTC).strftime("%Y-%m")
    async with signed_in(app, "clerk@acme.example") as http:
        home = await http.get("/console/")
        own = await http.get(f"/console/partners/{mine.id}/statements/{period}")
        theirs = await http.get(f"/console/partners/{other.id}/statements/{period}")
        missing = await http.get(f"/console/partners/999999/statements/{period}")
        their_csv = await http.get(f"/console/partners/{other.id}/statements/{period}/lines.csv")
        operator_pages = [await http.get(path) for path in (
            "/console/partners", f"/console/partners/{mine.id}",
            f"/console/partners/{other.id}")]  # fmt: skip
        refused_write = await http.post(f"/console/partners/{other.id}/clients", data={
            "name": "mine now", "scopes": "members:read", "csrf": csrf_of(own)})  # fmt: skip

    assert home.headers["location"] == f"/console/partners/{mine.id}/statements/{period}"
    assert own.status_code == 200 and "Payable by the partner" in own.text
    assert theirs.status_code == missing.status_code == their_csv.status_code == 404
    assert theirs.text == missing.text
    assert [page.status_code for page in operator_pages] == [404, 404, 404]
    assert refused_write.status_code == 404


async def test_an_operator_onboards_a_partner_whose_purchase_staff_then_see(app, client, db):
    async with signed_in(app, (await a_person(db, "ops@example.com")).email) as http:
        listed = await http.get("/console/partners")
        made = await http.post("/console/partners", data={
            "code": "tea-house", "name": "Tea House", "timezone": "Europe/Berlin",
            "currency": "eur", "csrf": csrf_of(listed)})  # fmt: skip
        page_path = made.headers["location"]
        partner_id = int(page_path.rsplit("/", 1)[1])
        page = await http.get(page_path)
        terms = {name: "0" for name in ("platform_fee_monthly", "api_transaction_fee")}
        carded = await http.post(f"{page_path}/rate-cards", data={
            "point_value": "0.01", "issuance_cost_per_point": "0.008",
            "redemption_commission_percent": "3", "outbound_unit_price": "0.02",
            "exchange_commission_percent": "2", **terms, "valid_from": "2024-01-01T00:00",
            "csrf": csrf_of(page)})  # fmt: skip
        registered = await http.post(f"{page_path}/clients", data={
            "name": "till", "scopes": ["purchases:write", "members:read"],
            "csrf": csrf_of(page)})  # fmt: skip
        secret = re.search(r'id="new-secret" class="secret">([^<]+)<', registered.text).group(1)
        client_id = re.search(r"Client <code>([^<]+)</code> is registered", registered.text)[1]
        invited = await http.post(f"{page_path}/staff", data={
            "email": "clerk@tea.example", "csrf": csrf_of(page)})  # fmt: skip
        link = re.search(r'id="invitation-link" class="secret">([^<]+)<', invited.text).group(1)

    assert carded.status_code == 303
    # the partner's till gets a token with the secret shown once, and records a purchase
    token = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(client_id, secret))  # fmt: skip
    assert token.status_code == 200, token.text
    holder = await a_member_with_an_account(db, await registry.find_partner(db, partner_id), 0)
    till = {"Authorization": f"Bearer {token.json()['access_token']}"}
    recorded = await graphql(client, RECORD, {"member": str(holder.id), "partner": str(partner_id)},
                             headers=till)  # fmt: skip
    assert "errors" not in recorded, recorded
    # the invited clerk sets a password, signs in and finds the purchase in the draft statement
    async with browser_like(app) as http:
        path = link.split("localhost", 1)[1]
        form = await http.get(path)
        await http.post(path, data={"password": PASSWORD, "repeat": PASSWORD,
                                    "csrf": csrf_of(form)})  # fmt: skip
    period = datetime.now(ZoneInfo("Europe/Berlin")).strftime("%Y-%m")
    async with signed_in(app, "clerk@tea.example") as http:
        statement = await http.get((await http.get("/console/")).headers["location"])
        lines = await http.get(f"/console/partners/{partner_id}/statements/{period}/lines.csv")
    shown = await graphql(client, STATEMENT, {"partner": str(partner_id), "period": period})

    assert statement.status_code == 200 and "ISSUANCE" in statement.text
    rows = list(csv.reader(io.StringIO(lines.text)))
    totals = {row[2]: row[8] for row in rows if row[1] == "TOTAL"}
    expected = shown["data"]["settlementStatement"]
    assert totals["net"] == expected["net"] and totals["net"] != "0.00"
    assert expected["net"] in statement.text.replace(",", "")


RECORD = """
mutation R($member: ID!, $partner: ID!) {
  recordPurchase(input: {member: {id: $member}, channel: PARTNER, partnerId: $partner,
                         source: "till", externalOrderId: "console-1", amount: "100.00"}) { id }
}"""
STATEMENT = """
query S($partner: ID!, $period: String!) {
  settlementStatement(partnerId: $partner, period: $period) { net }
}"""


async def test_the_kpi_dashboard_charts_each_target_for_operators_only(app, db):
    await a_person(db, "ops@example.com")
    clerk_partner = await a_partner(db, "acme-coffee")
    await a_person(db, "clerk@acme.example", console.Role.PARTNER_STAFF, clerk_partner.id)
    async with signed_in(app, "ops@example.com") as http:
        shown = await http.get("/console/kpis")
    async with signed_in(app, "clerk@acme.example") as http:
        refused = await http.get("/console/kpis")

    assert shown.status_code == 200
    titles = re.findall(r'<figure class="chart">\s*<figcaption><strong>([^<]+)</strong>',
                        shown.text)  # fmt: skip
    assert titles == ["Activation", "Win-back", "Retention", "Referred share",
                      "Diamond target attainment", "Member coverage", "High-tier retention",
                      "Repurchase lift with a coupon", "Lifetime value per member (USD)",
                      "Tier mix of active members now"]  # fmt: skip
    assert shown.text.count('class="target"') >= 9  # a line per chart, one per tier
    # a program without members yet: every chart is empty and says what it had nothing of
    assert shown.text.count('<p class="empty">No data yet: ') == 10
    assert "No data yet: no win-back coupon was issued in these months." in shown.text
    assert refused.status_code == 404


async def test_partner_staff_see_their_api_usage_per_day_against_the_limit(app, db):
    mine = await a_partner(db, "acme-coffee")
    other = await a_partner(db, "rail-club")
    await a_person(db, "clerk@acme.example", console.Role.PARTNER_STAFF, mine.id)
    now = datetime.now(UTC)
    for _ in range(3):
        await usage.record_api_call(db, partner_id=mine.id, client_id="pos-1", at=now)
    await usage.record_api_call(db, partner_id=other.id, client_id="rail-1", at=now)
    period = now.strftime("%Y-%m")
    async with signed_in(app, "clerk@acme.example") as http:
        own = await http.get((await http.get("/console/usage")).headers["location"])
        theirs = await http.get(f"/console/partners/{other.id}/usage/{period}")

    assert own.status_code == 200 and "pos-1" in own.text and "rail-1" not in own.text
    row = re.search(r"<code>pos-1</code></td>\s*<td class=\"num\">(\d+)</td>", own.text)
    assert row and row.group(1) == "3"
    assert "600 a minute" in own.text
    assert theirs.status_code == 404


async def test_operators_reconcile_exchanges_needing_attention_and_staff_see_their_own(app, db):
    partner = await a_partner_with_terms(db)
    holder = await a_member_with_an_account(db, partner)
    app.state.directory.simulated(partner.id).inject(Fault.TIMEOUT)
    quote = await exchange.quote_exchange(db, Program(), member_id=holder.id,
                                          partner_id=partner.id, points=1000, now=NOW,
                                          visible=EVERYTHING)  # fmt: skip
    lost = await exchange.request_exchange(db, app.state.directory, quote_id=quote.id,
                                           idempotency_key="x-1", now=NOW,
                                           visible=EVERYTHING)  # fmt: skip
    rail = await a_partner(db, "rail-club")
    await a_person(db, "ops@example.com")
    await a_person(db, "clerk@sky.example", console.Role.PARTNER_STAFF, partner.id)
    await a_person(db, "clerk@rail.example", console.Role.PARTNER_STAFF, rail.id)
    async with signed_in(app, "ops@example.com") as http:
        before = await http.get("/console/exchanges")
        done = await http.post("/console/exchanges/reconcile", data={"csrf": csrf_of(before)})
        after = await http.get(done.headers["location"])
    async with signed_in(app, "clerk@sky.example") as http:
        own = await http.get("/console/exchanges")
    async with signed_in(app, "clerk@rail.example") as http:
        theirs = await http.get("/console/exchanges")

    assert lost.state == "UNKNOWN"
    assert f"<code>{lost.id}</code>" in before.text and "UNKNOWN" in before.text
    assert "Reconciled: checked 1:" in after.text and f"<code>{lost.id}</code>" not in after.text
    assert f"<code>{lost.id}</code>" in own.text
    assert f"<code>{lost.id}</code>" not in theirs.text and "No exchanges." in theirs.text


async def test_the_audit_log_filters_and_pages_by_cursor(app, db):
    await a_person(db, "ops@example.com")
    for n in range(PAGE + 5):
        await audit.record(db, OPERATOR, "client.create", target=f"client-{n}")
    async with signed_in(app, "ops@example.com") as http:
        first = await http.get("/console/audit?action=client.create")
        older = re.search(r'href="(/console/audit\?[^"]+)">Older entries', first.text)
        second = await http.get(older.group(1).replace("&amp;", "&"))
        sign_ins = await http.get("/console/audit?action=console.sign_in")

    shown = re.findall(r"<td>(client-\d+)</td>", first.text + second.text)
    assert shown == [f"client-{n}" for n in reversed(range(PAGE + 5))]
    assert "Older entries" not in second.text
    assert "ops@example.com" in sign_ins.text and "client-" not in sign_ins.text


async def test_an_operator_closes_a_finished_month(app, db):
    partner = await a_partner(db, "acme-coffee")
    await a_person(db, "ops@example.com")
    async with signed_in(app, "ops@example.com") as http:
        draft = await http.get(f"/console/partners/{partner.id}/statements/2026-01")
        page = await http.get(f"/console/partners/{partner.id}")
        closed = await http.post(f"/console/partners/{partner.id}/statements/2026-01/close",
                                 data={"csrf": csrf_of(page)})  # fmt: skip
        shown = await http.get(closed.headers["location"])

    assert "DRAFT statement of 2026-01" in draft.text and "Close the month" in page.text
    assert "CLOSED statement of 2026-01" in shown.text


async def test_a_second_factor_is_asked_after_the_password_and_each_code_is_good_once(app, db):
    await a_person(db, "ops@example.com")
    async with signed_in(app, "ops@example.com") as http:
        page = await http.get("/console/account")
        started = await http.post("/console/account/second-factor/start",
                                  data={"csrf": csrf_of(page)})  # fmt: skip
        secret = re.search(r'id="totp-secret" class="secret">([A-Z2-7]+)<', started.text)[1]
        wrong = await http.post("/console/account/second-factor", data={
            "csrf": csrf_of(page), "secret": secret, "code": "000000"})  # fmt: skip
        on = await http.post("/console/account/second-factor", data={
            "csrf": csrf_of(page), "secret": secret, "code": pyotp.TOTP(secret).now()})  # fmt: skip
        shown = await http.get("/console/account")

    assert "<svg" in started.text and "otpauth" not in started.text  # the QR, not a link
    assert wrong.status_code == 422 and on.status_code == 303 and "On: signing in" in shown.text

    async def password_then(code: str, pending: str | None = None) -> httpx.Response:
        async with browser_like(app) as http:
            form = await http.get("/console/sign-in")
            login = {"email": "ops@example.com", "password": PASSWORD, "csrf": csrf_of(form)}
            asked = await http.post("/console/sign-in", data=login)
            step = re.search(r'name="pending" value="([^"]+)"', asked.text)[1]
            return await http.post("/console/sign-in/code", data={
                "csrf": csrf_of(form), "pending": pending or step, "code": code})  # fmt: skip

    code = pyotp.TOTP(secret).now()
    bad = await password_then("123456" if code != "123456" else "654321")
    forged = await password_then(code, pending="1.forged.signature")
    good = await password_then(code)
    replayed = await password_then(code)

    assert bad.status_code == 401 and "code is not right" in bad.text
    assert forged.status_code == 303 and forged.headers["location"] == "/console/sign-in"
    assert good.status_code == 303 and good.headers["location"] == "/console"
    assert "pointgate_console=" in good.headers["set-cookie"]
    assert replayed.status_code == 401


async def test_a_second_factor_is_replaced_only_with_a_code_of_it_and_a_step_is_used_once(app, db):
    """Found from outside: a signed-in session replaced the factor without a code of the
    current one, and the second step's form value completed a sign-in again within 300 s."""
    await a_person(db, "ops@example.com")
    current = pyotp.random_base32()
    async with signed_in(app, "ops@example.com") as http:
        page = await http.get("/console/account")
        turned_on = await http.post("/console/account/second-factor", data={
            "csrf": csrf_of(page), "secret": current, "code": pyotp.TOTP(current).now(),
        })  # fmt: skip
        start = await http.post("/console/account/second-factor/start",
                                data={"csrf": csrf_of(page)})  # fmt: skip
        usurper = pyotp.random_base32()
        replaced = await http.post("/console/account/second-factor", data={
            "csrf": csrf_of(page), "secret": usurper, "code": pyotp.TOTP(usurper).now(),
        })  # fmt: skip
    async with db.read() as conn:
        kept = await conn.scalar(select(console_users.c.totp_secret))

    async with browser_like(app) as http:
        form = await http.get("/console/sign-in")
        asked = await http.post("/console/sign-in", data={
            "email": "ops@example.com", "password": PASSWORD, "csrf": csrf_of(form)})  # fmt: skip
        step = re.search(r'name="pending" value="([^"]+)"', asked.text)[1]
        totp = pyotp.TOTP(current)
        first = await http.post("/console/sign-in/code", data={
            "csrf": csrf_of(form), "pending": step, "code": totp.now()})  # fmt: skip
    async with browser_like(app) as elsewhere:  # the step's value, sent again from elsewhere
        form = await elsewhere.get("/console/sign-in")
        # with the next code (a fresh one, not a replay of the first)
        again = await elsewhere.post("/console/sign-in/code", data={
            "csrf": csrf_of(form), "pending": step,
            "code": totp.at(datetime.now(UTC) + timedelta(seconds=30))})  # fmt: skip

    assert turned_on.status_code == 303, turned_on.text
    assert start.status_code == 303, start.text
    assert start.headers["location"] == "/console/account"
    assert replaced.status_code == 422 and "turn it off" in replaced.text
    assert kept == current
    assert first.status_code == 303 and first.headers["location"] == "/console"
    assert again.status_code == 303 and again.headers["location"] == "/console/sign-in"


async def test_partner_staff_register_rotate_and_revoke_clients_within_the_allowed_scopes(
    app, client, db
):
    mine = await a_partner(db, "acme-coffee")
    other = await a_partner(db, "rail-club")
    await a_person(db, "ops@example.com")
    await a_person(db, "clerk@acme.example", console.Role.PARTNER_STAFF, mine.id)
    async with signed_in(app, "clerk@acme.example") as http:
        nothing_allowed = await http.get(f"/console/partners/{mine.id}/clients")
    async with signed_in(app, "ops@example.com") as http:
        page = await http.get(f"/console/partners/{mine.id}")
        await http.post(f"/console/partners/{mine.id}/client-scopes", data={
            "csrf": csrf_of(page), "scopes": ["purchases:write", "members:read"]})  # fmt: skip
    async with signed_in(app, "clerk@acme.example") as http:
        page = await http.get(f"/console/partners/{mine.id}/clients")
        too_much = await http.post(f"/console/partners/{mine.id}/clients", data={
            "csrf": csrf_of(page), "name": "till", "scopes": ["settlements:read"]})  # fmt: skip
        made = await http.post(f"/console/partners/{mine.id}/clients", data={
            "csrf": csrf_of(page), "name": "till", "scopes": ["purchases:write"]})  # fmt: skip
        client_id = re.search(r"Client <code>([^<]+)</code> is registered", made.text)[1]
        first = re.search(r'id="new-secret" class="secret">([^<]+)<', made.text)[1]
        rotated = await http.post(f"/console/partners/{mine.id}/clients/{client_id}/rotate",
                                  data={"csrf": csrf_of(page), "grace_hours": "1"})  # fmt: skip
        second = re.search(r'id="new-secret" class="secret">([^<]+)<', rotated.text)[1]
        theirs = await http.get(f"/console/partners/{other.id}/clients")
        old_works = await token_status(client, client_id, first)
        new_works = await token_status(client, client_id, second)
        revoked = await http.post(f"/console/partners/{mine.id}/clients/{client_id}/revoke",
                                  data={"csrf": csrf_of(page)})  # fmt: skip
        after = await token_status(client, client_id, second)

    assert "has not allowed any scopes" in nothing_allowed.text
    assert too_much.status_code == 422
    assert 'value="purchases:write"' in page.text and 'value="settlements:read"' not in page.text
    assert "keeps working for 1 hour." in " ".join(rotated.text.split()) and second != first
    assert (old_works, new_works, after) == (200, 200, 401)
    assert revoked.status_code == 303 and theirs.status_code == 404


async def token_status(http, client_id: str, secret: str) -> int:
    answer = await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                             auth=(client_id, secret))  # fmt: skip
    return answer.status_code


async def test_partner_staff_subscribe_see_deliveries_and_resend_one_of_their_own(app, db):
    mine = await a_partner(db, "acme-coffee")
    other = await a_partner(db, "rail-club")
    await a_person(db, "clerk@acme.example", console.Role.PARTNER_STAFF, mine.id)
    theirs, _ = await webhook.subscribe(db, partner_id=other.id, url="https://rail.example/h")
    async with signed_in(app, "clerk@acme.example") as http:
        page = await http.get(f"/console/partners/{mine.id}/webhooks")
        bad = await http.post(f"/console/partners/{mine.id}/webhooks", data={
            "csrf": csrf_of(page), "url": "http://127.0.0.1/hook"})  # fmt: skip
        made = await http.post(f"/console/partners/{mine.id}/webhooks", data={
            "csrf": csrf_of(page), "url": "https://hooks.acme.example/pointgate"})  # fmt: skip
        (subscription,) = await webhook.subscriptions_of(db, mine.id)
        subscription_id = subscription.id
        delivered = await _a_delivery(db, subscription_id, "DELIVERED")
        foreign = await _a_delivery(db, theirs.id, "FAILED")
        listed = await http.get(f"/console/partners/{mine.id}/webhooks")
        resent = await http.post(f"/console/partners/{mine.id}/webhooks/{delivered}/resend",
                                 data={"csrf": csrf_of(page)})  # fmt: skip
        not_mine = await http.post(f"/console/partners/{mine.id}/webhooks/{foreign}/resend",
                                   data={"csrf": csrf_of(page)})  # fmt: skip
        their_page = await http.get(f"/console/partners/{other.id}/webhooks")

    assert bad.status_code == 422 and "private, loopback" in bad.text
    assert made.status_code == 200 and 'id="new-secret"' in made.text
    assert "https://hooks.acme.example/pointgate" in listed.text and "DELIVERED" in listed.text
    assert "rail.example" not in listed.text
    assert resent.status_code == 303 and not_mine.status_code == 404
    assert their_page.status_code == 404
    async with db.read() as conn:
        states = dict(list(await conn.execute(
            select(webhook_deliveries.c.id, webhook_deliveries.c.status))))  # fmt: skip
    assert states == {delivered: "PENDING", foreign: "FAILED"}


async def _a_delivery(db, subscription_id: int, status: str) -> int:
    at = datetime.now(UTC)
    async with db.transaction() as conn:
        return await conn.scalar(insert(webhook_deliveries).values(
            subscription_id=subscription_id, event="exchange.state_changed", payload="{}",
            status=status, attempts=1, next_attempt_at=at, created_at=at,
        ).returning(webhook_deliveries.c.id))  # fmt: skip


async def test_an_operator_sets_a_partners_status_zone_currency_and_dated_exchange_terms(app, db):
    partner = await a_partner(db, "skyway-air")
    await a_person(db, "ops@example.com")
    terms = {"rate": "0.5", "min_points": "100", "max_points": "5000", "step_points": "100",
             "daily_cap_points": "10000", "fee_points": "0"}  # fmt: skip
    async with signed_in(app, "ops@example.com") as http:
        page = await http.get(f"/console/partners/{partner.id}")
        settings = await http.post(f"/console/partners/{partner.id}/settings", data={
            "csrf": csrf_of(page), "status": "SUSPENDED", "timezone": "Asia/Tokyo",
            "currency": "jpy"})  # fmt: skip
        bad_zone = await http.post(f"/console/partners/{partner.id}/settings", data={
            "csrf": csrf_of(page), "status": "ACTIVE", "timezone": "Mars/Olympus",
            "currency": "JPY"})  # fmt: skip
        now_terms = await http.post(f"/console/partners/{partner.id}/exchange-terms", data={
            "csrf": csrf_of(page), "direction": "OUTBOUND", **terms,
            "valid_from": "2024-01-01T00:00"})  # fmt: skip
        later = await http.post(f"/console/partners/{partner.id}/exchange-terms", data={
            "csrf": csrf_of(page), "direction": "OUTBOUND", **terms, "rate": "0.4",
            "valid_from": "2099-01-01T00:00"})  # fmt: skip
        broken = await http.post(f"/console/partners/{partner.id}/exchange-terms", data={
            "csrf": csrf_of(page), "direction": "OUTBOUND", **terms, "min_points": "0",
            "valid_from": "2024-01-01T00:00"})  # fmt: skip
        shown = await http.get(f"/console/partners/{partner.id}")

    found = await registry.find_partner(db, partner.id)
    assert settings.status_code == 303 and bad_zone.status_code == 422
    assert (found.status, found.timezone, found.settlement_currency) == (
        "SUSPENDED", "Asia/Tokyo", "JPY")  # fmt: skip
    assert now_terms.status_code == later.status_code == 303 and broken.status_code == 422
    text = " ".join(shown.text.split())
    assert "<strong>In force:</strong> rate 0.5," in text
    assert "<strong>Next:</strong> rate 0.4," in text
    async with db.read() as conn:
        in_force = await registry.terms_in_force(conn, partner.id, registry.Direction.OUTBOUND,
                                                 datetime.now(UTC))  # fmt: skip
    # entered in the partner's zone (Tokyo): midnight there is 15:00 UTC the day before
    assert in_force.valid_from == datetime(2023, 12, 31, 15, tzinfo=UTC)


async def test_operators_see_campaigns_and_coupon_templates_and_end_a_campaign(app, db):
    running = await campaign.create_campaign(db, MEMBER_DAY, visible=EVERYTHING)
    await a_person(db, "ops@example.com")
    async with signed_in(app, "ops@example.com") as http:
        listed = await http.get("/console/promotions")
        ended = await http.post(f"/console/promotions/campaigns/{running.id}/end",
                                data={"csrf": csrf_of(listed)})  # fmt: skip
        after = await http.get("/console/promotions")

    assert "<code>member-day</code>" in listed.text and "End: member-day" in listed.text
    assert ended.status_code == 303
    assert "ENDED" in after.text and "End: member-day" not in after.text


async def test_operators_see_every_delivery_and_subscribe_the_program_to_member_events(app, db):
    partner = await a_partner(db, "acme-coffee")
    await a_person(db, "ops@example.com")
    await a_person(db, "clerk@acme.example", console.Role.PARTNER_STAFF, partner.id)
    theirs, _ = await webhook.subscribe(db, partner_id=partner.id, url="https://acme.example/h")
    failed = await _a_delivery(db, theirs.id, "FAILED")
    async with signed_in(app, "ops@example.com") as http:
        page = await http.get("/console/webhooks")
        made = await http.post("/console/webhooks", data={
            "csrf": csrf_of(page), "url": "https://crm.example/pointgate"})  # fmt: skip
        resent = await http.post(f"/console/webhooks/{failed}/resend",
                                 data={"csrf": csrf_of(page)})  # fmt: skip
    async with signed_in(app, "clerk@acme.example") as http:
        refused = await http.get("/console/webhooks")

    assert "https://acme.example/h" in page.text and "FAILED" in page.text
    assert made.status_code == 200 and "https://crm.example/pointgate" in made.text
    assert [row.url for row in await webhook.subscriptions_of(db, None)] == [
        "https://crm.example/pointgate"
    ]
    assert resent.status_code == 303 and refused.status_code == 404


async def test_operators_invite_operators_and_disabling_a_person_ends_their_sessions(app, db):
    partner = await a_partner(db, "acme-coffee")
    me = await a_person(db, "ops@example.com")
    clerk = await a_person(db, "clerk@acme.example", console.Role.PARTNER_STAFF, partner.id)
    async with (
        signed_in(app, "clerk@acme.example") as clerk_http,
        signed_in(app, "ops@example.com") as http,
    ):
        page = await http.get("/console/people")
        invited = await http.post("/console/people", data={
            "csrf": csrf_of(page), "email": "second-ops@example.com"})  # fmt: skip
        cut = await http.post(f"/console/people/{clerk.id}/disable",
                              data={"csrf": csrf_of(page)})  # fmt: skip
        locked_out = await clerk_http.get("/console/")
        myself = await http.post(f"/console/people/{me.id}/disable",
                                 data={"csrf": csrf_of(page)})  # fmt: skip
        back = await http.post(f"/console/people/{clerk.id}/enable",
                               data={"csrf": csrf_of(page)})  # fmt: skip

    link = re.search(r'id="invitation-link" class="secret">([^<]+)<', invited.text)[1]
    assert "/console/invitations/" in link
    assert cut.status_code == 303
    assert locked_out.status_code == 303 and locked_out.headers["location"] == "/console/sign-in"
    assert myself.status_code == 409 and "cannot disable themselves" in myself.text
    assert back.status_code == 303
    async with signed_in(app, "clerk@acme.example") as http:  # enabled again
        assert (await http.get("/console/")).status_code == 303


async def test_console_answers_carry_security_headers_and_odd_input_is_no_500(app, db):
    """Found from outside: no security headers on console pages, and a non-ASCII CSRF token
    or NUL, over-long and non-UTF-8 sign-in values answered 500."""
    await a_person(db, "ops@example.com")
    async with browser_like(app) as http:
        page = await http.get("/console/sign-in")
        token = csrf_of(page)
        odd = [
            await http.post("/console/sign-in", data={"email": "ops@example.com",
                                                      "password": "x", "csrf": "ü" * 10}),
            await http.post("/console/sign-in", data={"email": "a\x00b", "password": "p\x00",
                                                      "csrf": token}),
            await http.post("/console/sign-in", data={"email": "e" * 100_000,
                                                      "password": "p" * 100_000, "csrf": token}),
            await http.post("/console/sign-in", content=b"email=%ff%fe&password=%c3&csrf=" +
                            token.encode(),
                            headers={"content-type": "application/x-www-form-urlencoded"}),
        ]  # fmt: skip
    async with signed_in(app, "ops@example.com") as http:
        shown = await http.get("/console/partners")

    for answer in (page, shown):
        headers = answer.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["strict-transport-security"].startswith("max-age=")
        assert headers["cache-control"] == "no-store"
    assert [answer.status_code for answer in odd] == [403, 401, 401, 401]


async def test_an_operator_reads_what_a_member_was_granted(app, db, program):
    """Found from outside: granted gifts existed only as webhook events."""
    ada = await a_member(db)
    await a_person(db, "ops@example.com")
    shop = await a_partner(db, "shop-p")
    await a_person(db, "clerk@shop.example", console.Role.PARTNER_STAFF, shop.id)
    for purpose in (ConsentPurpose.CONTACT, ConsentPurpose.BIRTH_DATE):
        await consent.grant(db, member_id=ada.id, partner_id=shop.id, purpose=purpose,
                            visible=EVERYTHING)  # fmt: skip
    await consent.withdraw(db, member_id=ada.id, partner_id=shop.id,
                           purpose=ConsentPurpose.BIRTH_DATE, visible=EVERYTHING)  # fmt: skip
    async with signed_in(app, "ops@example.com") as http:
        shown = await http.get("/console/members", params={"id": str(ada.id)})
        missing = await http.get("/console/members", params={"id": "987654"})
        odd = await http.get("/console/members", params={"id": "1e23"})
    async with signed_in(app, "clerk@shop.example") as http:
        refused = await http.get("/console/members", params={"id": str(ada.id)})

    assert shown.status_code == 200 and "New-member gift pack" in shown.text
    assert "What the member was granted" in shown.text and "once" in shown.text
    # operators see the consents with their history: one in force, one withdrawn
    consents = shown.text.split("What the member consented to", 1)[1]
    assert consents.count("<td>shop-p</td>") == 2 and consents.count("in force") == 1
    assert missing.status_code == odd.status_code == 404
    assert refused.status_code == 404
