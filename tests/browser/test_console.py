"""The console in Chromium, against the demo as the README starts it, with every request outside
127.0.0.1 refused: an operator onboards a partner, its till records a purchase with the secret
the console showed once, and the partner's clerk finds it in the month's statement and its
download; staff cannot reach another partner's pages; a signed-out session stays out; every
page fits a phone's width. Screenshots of each page go to artifacts/screenshots/console-*."""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway.seed import DEMO_OPERATOR, DEMO_PARTNER_STAFF
from tests.browser.conftest import OfflinePage, serious_violations
from tests.test_readme_commands import running_demo

PASSWORD = "clerk's own password"
RECORD = """
mutation R($partner: ID!) {
  recordPurchase(input: {member: {identity: {kind: LOYALTY_CARD, value: "CARD-00000001"}},
                         channel: PARTNER, partnerId: $partner, source: "till",
                         externalOrderId: "browser-1", amount: "120.00"}) { id pointsEarned }
}"""
ENROL = """
mutation { enrollMember(input: {displayName: "Browser Bea", idempotencyKey: "browser-bea"}) {
  id } }"""
STATEMENT = """
query S($partner: ID!, $period: String!) {
  settlementStatement(partnerId: $partner, period: $period) { net }
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    with running_demo(tmp_path_factory.mktemp("console-demo")) as (port, operator_header):
        yield f"http://127.0.0.1:{port}", operator_header


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/console/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/console/(partners|partners/\d+/statements/.*)$"))


@pytest.fixture
def shoot(screenshots, axe_script):
    """Save a screenshot of the page, and check it with axe-core: no serious or critical
    accessibility violations."""

    def check(page, name: str) -> None:
        page.screenshot(path=screenshots / f"console-{name}.png", full_page=True)
        assert serious_violations(page, axe_script) == [], name

    return check


def test_an_operator_onboards_a_partner_whose_purchase_its_clerk_finds(
    browser, demo, shoot, tmp_path
):
    base, operator_header = demo
    operator = OfflinePage(browser)
    operator.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = operator.page
    sign_in(page, base, *DEMO_OPERATOR)
    shoot(page, "operator-partners")
    page.get_by_label("Code").fill("tea-house")
    page.get_by_label("Name", exact=True).fill("Tea House")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Settlement currency").fill("EUR")
    page.get_by_role("button", name="Create the partner").click()
    page.wait_for_url(re.compile(r".*/console/partners/\d+$"))
    partner_id = int(page.url.rsplit("/", 1)[1])
    cards = page.get_by_role("region", name="Rate cards")
    cards.get_by_label("In force from").fill("2024-01-01T00:00")
    cards.get_by_label("platform fee monthly").fill("30")
    cards.get_by_role("button", name="Add the rate card").click()
    page.get_by_label("purchases:write").check()  # what its staff may give their clients
    page.get_by_role("button", name="Save the staff's scopes").click()
    page.get_by_role("link", name="The partner's clients").click()
    page.get_by_label("Name", exact=True).fill("till")
    page.get_by_label("purchases:write").check()
    page.get_by_role("button", name="Create the client").click()
    page.get_by_role("button", name="Copy the secret").click()
    page.get_by_role("button", name="Copied").wait_for()  # the clipboard is written
    secret = page.evaluate("navigator.clipboard.readText()")
    assert secret == page.locator("#new-secret").inner_text()
    client_id = page.locator(".notice code").first.inner_text()
    shoot(page, "operator-client-secret")
    page.goto(f"{base}/console/partners/{partner_id}")
    page.get_by_label("Invite by e-mail address").fill("clerk@tea.example")
    page.get_by_role("button", name="Invite").click()
    link = page.locator("#invitation-link").inner_text()
    shoot(page, "operator-partner-staff-invited")
    operator.context.close()

    # the till gets a token with the copied secret and records a purchase
    granted = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(client_id, secret))  # fmt: skip
    assert granted.status_code == 200, granted.text
    token = granted.json()["access_token"]
    till = {"Authorization": f"Bearer {token}"}
    recorded = httpx.post(f"{base}/graphql", headers=till, json={
        "query": RECORD, "variables": {"partner": str(partner_id)}}).json()  # fmt: skip
    assert "errors" not in recorded, recorded

    clerk = OfflinePage(browser)
    page = clerk.page
    page.goto(link)
    shoot(page, "invitation")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Set my password").click()
    page.get_by_text("Your password is set").wait_for()
    sign_in(page, base, "clerk@tea.example", PASSWORD)
    period = datetime.now(ZoneInfo("Europe/Berlin")).strftime("%Y-%m")
    assert page.url.endswith(f"/console/partners/{partner_id}/statements/{period}")
    shown_net = page.locator('[data-total="net"]').inner_text()
    issuance = page.get_by_role("row").filter(has_text="ISSUANCE")
    assert issuance.count() == 1
    assert page.locator("figure svg").count() >= 1  # the day chart of the purchase
    shoot(page, "staff-statement")
    with page.expect_download() as download:
        page.get_by_role("link", name="lines (CSV)").click()
    saved = tmp_path / "lines.csv"
    download.value.save_as(saved)
    # and the till's operations in the month's API usage (counted within a second)
    page.get_by_role("link", name="API usage of the month").click()
    till_row = page.get_by_role("row").filter(has_text=client_id)
    till_row.wait_for()
    shoot(page, "staff-usage")
    operations = int(till_row.locator("td").nth(2).inner_text().replace(",", ""))
    assert operations >= 1
    assert clerk.blocked == []

    with saved.open() as handle:
        totals = {row[2]: row[8] for row in csv.reader(handle) if row[1] == "TOTAL"}
    graph = httpx.post(f"{base}/graphql", json={"query": STATEMENT, "variables": {
        "partner": str(partner_id), "period": period}}, headers=operator_header).json()  # fmt: skip
    net = graph["data"]["settlementStatement"]["net"]
    assert totals["net"] == net and net != "0.00"
    assert shown_net == f"{float(net):,.2f} EUR"


def test_partner_staff_cannot_reach_another_partners_pages(browser, demo, shoot):
    base, _ = demo
    clerk = OfflinePage(browser)
    page = clerk.page
    sign_in(page, base, *DEMO_PARTNER_STAFF)
    own = page.url
    period = datetime.now(UTC).strftime("%Y-%m")
    answers, bodies = {}, {}
    for name, path in (
        ("other-statement", f"/console/partners/2/statements/{period}"),
        ("other-download", f"/console/partners/2/statements/{period}/lines.csv"),
        ("missing-statement", f"/console/partners/999999/statements/{period}"),
        ("other-clients", "/console/partners/2/clients"),
        ("other-webhooks", "/console/partners/2/webhooks"),
        ("operator-partners", "/console/partners"),
        ("own-partner-page", "/console/partners/1"),
    ):
        answers[name] = page.goto(f"{base}{path}")
        bodies[name] = answers[name].text()
        if name == "other-statement":
            shoot(page, "staff-other-partner-404")

    assert re.search(r"/console/partners/1/statements/\d{4}-\d{2}$", own)
    assert {name: answer.status for name, answer in answers.items()} == dict.fromkeys(answers, 404)
    assert bodies["other-statement"] == bodies["missing-statement"]
    assert clerk.blocked == []


def test_a_signed_out_session_stays_out_and_forms_need_their_token(browser, demo, shoot):
    base, _ = demo
    operator = OfflinePage(browser)
    page = operator.page
    sign_in(page, base, *DEMO_OPERATOR)
    cookies = operator.context.cookies()
    forged = page.evaluate(
        """async (url) => (await fetch(url, {method: "POST",
        headers: {"content-type": "application/x-www-form-urlencoded"},
        body: "code=forged&name=Forged"})).status""",
        f"{base}/console/partners",
    )
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/console/sign-in$"))

    replay = OfflinePage(browser)
    replay.context.add_cookies(cookies)
    replay.page.goto(f"{base}/console/partners")
    shoot(replay.page, "replayed-session")

    assert forged == 403
    assert replay.page.url.endswith("/console/sign-in")
    assert "Forged" not in page.content()


def test_the_kpi_dashboard_charts_the_demo_against_its_targets(browser, demo, shoot):
    base, _ = demo
    operator = OfflinePage(browser)
    page = operator.page
    sign_in(page, base, *DEMO_OPERATOR)
    page.get_by_role("link", name="KPIs").click()
    page.wait_for_url(re.compile(r".*/console/kpis$"))
    shoot(page, "operator-kpis")
    charts = page.locator("figure.chart")
    activation = page.locator("figure.chart", has_text="Activation")

    # seven rates, the repurchase lift, lifetime value, the tier mix
    assert charts.count() == 10
    assert all(charts.nth(i).locator("svg line.target").count() >= 1 for i in range(10))
    # the demo lived its year (gateway.demo_year): every chart has measured values, none
    # says it is empty, and activation has a value every month
    measured = [charts.nth(i).locator("svg .measured").count() for i in range(10)]
    assert all(count >= 1 for count in measured), measured
    assert page.locator(".chart .empty").count() == 0
    assert activation.locator("svg circle.measured").count() >= 11
    tiers = page.locator("figure.chart", has_text="Tier mix").locator("svg rect.measured")
    assert tiers.count() == 3  # DIAMOND, GOLD and SILVER members
    assert operator.blocked == [] and operator.errors == []

    # on a phone the charts' ticks stay legible (the drawing shrinks, its text less so)
    page.set_viewport_size({"width": 375, "height": 740})
    shoot(page, "375-operator-kpis-ticks")
    tick = page.locator("figure.chart svg text.tick").first.bounding_box()
    assert tick is not None and tick["height"] >= 9, tick
    # and none is cut off at the drawing's left edge ("100%" was drawn as "00%")
    for index in range(charts.count()):
        drawing = charts.nth(index).locator("svg")
        left = drawing.bounding_box()["x"]
        ticks = drawing.locator("text.tick[text-anchor='end']")
        assert all(ticks.nth(n).bounding_box()["x"] >= left for n in range(ticks.count()))


def test_an_operator_reads_a_members_grants_under_the_security_headers(browser, demo, shoot):
    """The member page shows what a member enrolled now was granted (the new-member gift
    pack); no page of the visit breaks the Content-Security-Policy (the browser would log a
    refusal)."""
    base, operator_header = demo
    enrolled = httpx.post(f"{base}/graphql", headers=operator_header, json={"query": ENROL})
    member_id = enrolled.json()["data"]["enrollMember"]["id"]
    operator = OfflinePage(browser)
    page = operator.page
    sign_in(page, base, *DEMO_OPERATOR)
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Member id").fill(member_id)
    page.get_by_role("button", name="Show the member").click()
    page.wait_for_url(re.compile(rf".*/console/members\?id={member_id}$"))
    shoot(page, "operator-member")
    grants = page.locator("table", has_text="What the member was granted")

    assert grants.locator("tbody tr").count() >= 1
    assert "gift pack" in grants.inner_text().lower()
    assert operator.blocked == [] and operator.errors == []


def test_the_console_fits_a_phone(browser, demo, shoot):
    base, _ = demo
    period = datetime.now(UTC).strftime("%Y-%m")
    widths = {}
    for who, login, paths in (
        ("operator", DEMO_OPERATOR, ["/console/partners", "/console/partners/1",
                                     f"/console/partners/1/statements/{period}",
                                     "/console/kpis", "/console/exchanges", "/console/audit",
                                     "/console/promotions", "/console/webhooks",
                                     "/console/people"]),
        ("staff", DEMO_PARTNER_STAFF, [f"/console/partners/1/statements/{period}",
                                       f"/console/partners/1/usage/{period}",
                                       "/console/exchanges", "/console/partners/1/clients",
                                       "/console/partners/1/webhooks", "/console/account"]),
    ):  # fmt: skip
        phone = OfflinePage(browser)
        phone.page.set_viewport_size({"width": 375, "height": 740})
        phone.page.goto(f"{base}/console/sign-in")
        widths["sign-in"] = phone.page.evaluate("document.documentElement.scrollWidth")
        sign_in(phone.page, base, *login)
        for path in paths:
            phone.page.goto(f"{base}{path}")
            name = f"{who}-{path.strip('/').replace('/', '-')}"
            widths[name] = phone.page.evaluate("document.documentElement.scrollWidth")
            shoot(phone.page, f"375-{name}")
        phone.context.close()

    assert len(widths) == 16  # the sign-in page and 15 others
    assert {name: width for name, width in widths.items() if width > 375} == {}


def _luminance(color: str) -> float:
    red, green, blue = (int(part) / 255 for part in re.findall(r"\d+", color)[:3])
    linear = [
        c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    lighter, darker = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_partner_code_field_refuses_bad_codes_and_focus_stands_out(browser, demo, shoot):
    base, _ = demo
    visitor = OfflinePage(browser)
    page = visitor.page
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)  # fmt: skip
    sign_in(page, base, *DEMO_OPERATOR)
    code = page.get_by_label("Code")
    code.fill("Bad Code!")
    assert code.evaluate("field => field.checkValidity()") is False
    code.fill("tea-house-2")
    assert code.evaluate("field => field.checkValidity()") is True
    assert errors == []  # Chromium compiles `pattern` with the v flag: it must be valid there
    # WCAG 2.2: a focus indicator 3:1 against what surrounds it, on the page and on the dark bar
    page.keyboard.press("Tab")
    ring, halo = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineColor, s.boxShadow]; }"
    )
    bar = page.evaluate("() => getComputedStyle(document.querySelector('.bar')).backgroundColor")
    assert contrast(ring, "rgb(255, 255, 255)") >= 3 and contrast(ring, "rgb(246, 248, 250)") >= 3
    assert contrast(halo, bar) >= 3
    shoot(page, "focus-ring")
    visitor.context.close()


def test_an_operator_creates_edits_pauses_and_retires_promotions(browser, demo, shoot):
    base, _ = demo
    operator = OfflinePage(browser)
    page = operator.page
    sign_in(page, base, *DEMO_OPERATOR)
    page.get_by_role("link", name="Promotions").click()
    page.get_by_role("link", name="New coupon template").click()
    page.get_by_label("Code").fill("browser-ten-off")
    page.get_by_label("Name").fill("10 off 80")
    page.get_by_label("Amount off").fill("10.00")
    page.get_by_label("Minimum basket").fill("80")
    page.get_by_role("button", name="Create the template").click()  # no validity: refused
    assert "a template needs validHours or validUntil" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Code").input_value() == "browser-ten-off"  # what was typed stays
    page.get_by_label("Valid for hours after issue").fill("168")
    shoot(page, "operator-new-template")
    page.get_by_role("button", name="Create the template").click()
    page.wait_for_url(re.compile(r".*/console/promotions$"))
    assert page.locator("td", has_text="browser-ten-off").count() == 1

    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Code").fill("browser-gold-days")
    page.get_by_label("Name").fill("Gold days")
    page.get_by_label("Starts (UTC)").fill("2031-01-01T00:00")
    page.get_by_label("Ends (UTC)").fill("2031-01-08T00:00")
    page.get_by_label("Points multiplier").fill("1.5")
    page.get_by_label("GOLD").check()
    page.get_by_label("Coupon with every purchase").select_option(
        label="browser-ten-off: 10 off 80"
    )
    page.get_by_role("button", name="Preview the audience").click()
    audience = page.locator("section", has_text="Who it would reach now")
    shoot(page, "operator-campaign-preview")
    # the demo's year made GOLD members: the preview counts them, and only them
    assert audience.locator("tbody tr").count() >= 1
    assert set(audience.locator("tbody td:first-child").all_inner_texts()) == {"GOLD"}
    assert page.get_by_label("GOLD").is_checked()  # the form kept what was typed
    page.get_by_role("button", name="Create the campaign").click()
    page.wait_for_url(re.compile(r".*/console/promotions$"))
    row = page.locator("tr", has_text="browser-gold-days")
    assert row.count() == 1 and "\u00d71.5" in row.inner_text()  # times 1.5

    # edited: the form holds it as it stands, refuses what creation refuses, then saves
    page.get_by_role("link", name="Edit: browser-gold-days").click()
    assert page.get_by_label("Points multiplier").input_value() == "1.5"
    page.get_by_label("Points multiplier").fill("12")
    page.get_by_role("button", name="Save the changes").click()
    assert "a multiplier is 1 to 10" in page.get_by_role("alert").inner_text()
    page.get_by_label("Points multiplier").fill("2")
    shoot(page, "operator-edit-campaign")
    page.get_by_role("button", name="Save the changes").click()
    page.wait_for_url(re.compile(r".*/console/promotions$"))
    assert "\u00d72," in row.inner_text() and "SCHEDULED" in row.inner_text()
    # paused and resumed; the template retired (it issues no more)
    page.get_by_role("button", name="Pause: browser-gold-days").click()
    assert "PAUSED" in row.inner_text()
    page.get_by_role("button", name="Resume: browser-gold-days").click()
    assert "SCHEDULED" in row.inner_text()
    page.get_by_role("button", name="Retire: browser-ten-off").click()
    assert "RETIRED" in page.locator("tr", has_text="browser-ten-off").inner_text()
    shoot(page, "operator-promotions-changed")
    # (the browser logs the refused form's 422; nothing else went wrong)
    assert operator.blocked == [] and [e for e in operator.errors if "422" not in e] == []


SUBSCRIPTION = """subscription {
  liveUpdates(kinds: [POINTS]) { __typename eventId ... on PointsMoved { points } }
}"""


def purchase_at(base: str, operator_header: dict[str, str], partner_id: str, order: str) -> None:
    query = RECORD.replace('"browser-1"', f'"{order}"')
    answer = httpx.post(f"{base}/graphql", headers=operator_header, json={
        "query": query, "variables": {"partner": partner_id}}).json()  # fmt: skip
    assert "errors" not in answer, answer


def test_the_statement_page_and_graphiql_show_a_purchase_as_it_commits(
    browser, demo, shoot, screenshots
):
    base, operator_header = demo
    clerk = OfflinePage(browser)
    page = clerk.page
    sign_in(page, base, *DEMO_PARTNER_STAFF)  # lands on the partner's statement of the month
    partner_id = page.url.split("/partners/", 1)[1].split("/", 1)[0]
    total = page.locator('[data-total="net"]')
    before = total.inner_text()
    chart_before = page.locator("figure").first.inner_text()
    page.evaluate("window.notReloaded = true")
    purchase_at(base, operator_header, partner_id, "live-statement-1")
    page.wait_for_function(
        "([shown]) => document.querySelector('[data-total=\"net\"]')"
        ".textContent !== shown", arg=[before], timeout=10_000,
    )  # fmt: skip
    assert page.evaluate("window.notReloaded") is True  # updated in place
    assert page.locator("figure").first.inner_text() != chart_before  # the day chart too
    shoot(page, "staff-statement-live")
    assert clerk.errors == [] and clerk.blocked == [], clerk.errors
    clerk.context.close()

    ide = OfflinePage(browser)
    page = ide.page
    link = urlencode({"q": SUBSCRIPTION, "headers": json.dumps(operator_header)})
    page.goto(f"{base}/graphql?{link}")
    page.locator(".graphiql-execute-button").click()
    time.sleep(1)  # the subscription is open
    purchase_at(base, operator_header, partner_id, "live-graphiql-1")
    page.locator(".result-window").get_by_text('"PointsMoved"').first.wait_for(timeout=10_000)
    page.screenshot(path=screenshots / "graphiql-subscription.png")
    assert ide.blocked == []
    ide.context.close()
