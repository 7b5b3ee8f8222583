"""HTTP fuzzing outside GraphQL: every console route (with the methods it takes, signed in as an
operator, with path, query and form values drawn from what the pages read and from hostile
text) and the OAuth token endpoint. Whatever comes in, no answer is HTTP 500.

Found from outside: NUL, over-long and non-UTF-8 values at /oauth/token and the console's
sign-in, non-ASCII CSRF tokens, and `offset=1e23` in console addresses answered 500."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount, Route

from auth import clients, console
from auth.principal import Principal, PrincipalKind, Scope
from gateway.app import create_app
from partners.rate_card import RateCardTerms
from partners.registry import Terms
from tests.factories import a_member, a_partner

EXAMPLES = 2000
OPERATOR = Principal(kind=PrincipalKind.OPERATOR, subject="fuzz", scopes=frozenset({Scope.ADMIN}))
PASSWORD = "a long enough password"
FORM_FIELDS = sorted({
    "code", "currency", "direction", "email", "name", "password", "pending", "repeat", "secret",
    "status", "timezone", "url", "valid_from", "grace_hours", "scopes", "role", "events",
    *RateCardTerms.__dataclass_fields__, *Terms.__dataclass_fields__,
})  # fmt: skip
QUERY_FIELDS = ["action", "before", "subject", "offset", "month", "period", "report", "from"]

hostile = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["1", "2", "3", "0", "-1", "1e23", "9" * 30, "²", "١٢", "NaN", "Infinity",
                     "UTC", "Europe", "x" * 5000, "a\x00b", "ü" * 10, "2026-01", "2026-13",
                     "%ff%fe", "../../etc", "http://127.0.0.1/x", "USD", "OUTBOUND",
                     "2026-01-01T00:00", "'; drop table members; --"]),
)  # fmt: skip


def console_routes(app) -> list[tuple[str, str]]:
    """(path template, method) of every console route, read from the app."""
    found = []
    for route in app.routes:
        if isinstance(route, Mount) and route.path == "/console":
            for inner in route.routes:
                if isinstance(inner, Route):
                    for method in sorted(inner.methods or {"GET"}):
                        if method != "HEAD":
                            found.append((f"/console{inner.path}", method))
    return found


@st.composite
def console_requests(draw: st.DrawFn, routes: list[tuple[str, str]]) -> dict:
    path, method = draw(st.sampled_from(routes))
    for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
        path = path.replace("{" + name + "}", quote(draw(hostile), safe="") or "1", 1)
    params = draw(st.dictionaries(st.sampled_from(QUERY_FIELDS), hostile, max_size=3))
    form = draw(st.dictionaries(st.sampled_from(FORM_FIELDS), hostile, max_size=6))
    return {"path": path, "method": method, "params": params, "form": form,
            "forged_csrf": draw(st.sampled_from([False] * 9 + [True]))}  # fmt: skip


def csrf_of(text: str) -> str:
    marker = 'name="csrf" value="'
    return text.split(marker, 1)[1].split('"', 1)[0] if marker in text else ""


@pytest.fixture
async def operator_session(db, settings):
    app = create_app(replace(settings, rate_limit_burst=10**9, rate_limit_per_minute=10**9), db)
    partner = await a_partner(db, "fuzz-p")
    await a_member(db, card="FUZZ-1")
    await clients.create_client(db, name="fuzz", scopes=["members:read"], partner_code="fuzz-p")
    await console.ensure_person(db, OPERATOR, email="ops@example.com", role=console.Role.OPERATOR,
                                password=PASSWORD)  # fmt: skip
    await console.ensure_person(db, OPERATOR, email="clerk@example.com", password=PASSWORD,
                                role=console.Role.PARTNER_STAFF, partner_id=partner.id)  # fmt: skip
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://localhost")
    form = await http.get("/console/sign-in")
    signed = await http.post("/console/sign-in", data={
        "email": "ops@example.com", "password": PASSWORD, "csrf": csrf_of(form.text)})  # fmt: skip
    assert signed.status_code == 303
    token = csrf_of((await http.get("/console/partners")).text)
    statuses: Counter[int] = Counter()
    yield app, http, token, statuses
    await http.aclose()
    assert sum(statuses.values()) >= EXAMPLES and 500 not in statuses, statuses


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])  # fmt: skip
@given(data=st.data())
async def test_no_console_request_is_a_500(operator_session, data):
    app, http, token, statuses = operator_session
    request = data.draw(console_requests(console_routes(app)))
    if request["method"] == "POST":
        form = {**request["form"], "csrf": "forged" if request["forged_csrf"] else token}
        if request["path"] == "/console/sign-out":
            form["csrf"] = "forged"  # stay signed in
        answer = await http.post(request["path"], params=request["params"], data=form)
    else:
        answer = await http.get(request["path"], params=request["params"])
    statuses[answer.status_code] += 1
    assert answer.status_code != 500, (request, answer.text[:500])


token_forms = st.dictionaries(
    st.sampled_from(["grant_type", "client_id", "client_secret", "scope", "audience", "x"]),
    st.one_of(hostile, st.sampled_from(["client_credentials", "password", "members:read"])),
    max_size=5,
)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])  # fmt: skip
@given(form=token_forms, basic=st.one_of(st.none(), st.tuples(hostile, hostile)),
       raw=st.one_of(st.none(), st.binary(max_size=200)),
       address=st.integers(1, 250))  # fmt: skip
async def test_no_token_request_is_a_500(operator_session, form, basic, raw, address):
    app, _, _, statuses = operator_session
    transport = httpx.ASGITransport(app=app, client=(f"127.0.9.{address}", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        if raw is not None:
            answer = await http.post("/oauth/token", content=raw, headers={
                "content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        else:
            auth = None if basic is None else httpx.BasicAuth(*basic)
            answer = await http.post("/oauth/token", data=form, auth=auth)
    statuses[answer.status_code] += 1
    assert answer.status_code != 500, (form, basic, raw, answer.text[:500])
