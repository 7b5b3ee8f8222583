"""Production mode under attack: every abusive request is refused with its own code before any
resolver runs, introspection and suggestions stay hidden, and unexpected errors are masked."""

from __future__ import annotations

import gc
import hashlib
import os
import time
from dataclasses import replace

import pytest

from gateway.app import create_app
from partners import registry
from schema import validation
from tests.conftest import bearer, error_codes, http_client

PROGRAM = "{ program { currency } }"
REDIS_URL = os.environ.get("POINTGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def production(db, settings):
    """An operator's client of a gateway in production mode."""
    app = create_app(replace(settings, environment="production"), db)
    async with http_client(app, await bearer(app, "operator:tests", "admin")) as http:
        yield http


async def post(http, query, variables=None, **options):
    return (await http.post("/graphql", json={"query": query, "variables": variables or {}},
                            **options)).json()  # fmt: skip


def refused(body, code):
    return body.get("data") is None and code in error_codes(body)


def aliases(count):
    return "{ " + " ".join(f"a{n}: program {{ currency }}" for n in range(count)) + " }"


async def test_deep_nesting(production):
    chain = "referredBy { " * 11 + "id" + " }" * 11
    assert refused(
        await post(production, f"{{ members(first: 1) {{ nodes {{ {chain} }} }} }}"),
        "QUERY_TOO_DEEP",
    )


async def test_alias_overloading_15_pass_16_fail_also_through_fragments(production):
    fragment = ("query { ...many } fragment many on Query { "
                + " ".join(f"a{n}: program {{ currency }}" for n in range(16)) + " }")  # fmt: skip

    assert "errors" not in await post(production, aliases(15))
    assert refused(await post(production, aliases(16)), "TOO_MANY_ALIASES")
    assert refused(await post(production, fragment), "TOO_MANY_ALIASES")


async def test_field_duplication_and_token_flood(production):
    assert refused(
        await post(production, "{ " + "program { currency } " * 600 + "}"), "TOO_MANY_TOKENS"
    )


async def test_directive_overloading(production):
    directives = " ".join(["@include(if: true)"] * 50)
    assert refused(
        await post(production, f"{{ program {directives} {{ currency }} }}"),
        "GRAPHQL_VALIDATION_FAILED",
    )


async def test_circular_fragments(production):
    query = (
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A program { currency } }"
    )
    assert refused(await post(production, query), "GRAPHQL_VALIDATION_FAILED")


async def test_an_over_budget_query_is_refused_before_it_runs(production):
    query = ("{ members(first: 100) { nodes { referrals(first: 100) { nodes { member {"
             " referrals(first: 100) { nodes { displayName } } } } } } } }")  # fmt: skip
    body = await post(production, query)
    assert refused(body, "QUERY_TOO_COMPLEX")
    assert body["errors"][0]["extensions"]["cost"] > 1_000_000


async def test_input_lists_are_capped(production):
    identities = ", ".join(['{kind: EMAIL, value: "a@b.c"}'] * 101)
    literal = f'mutation {{ enrollMember(input: {{displayName: "X", idempotencyKey: "k", identities: [{identities}]}}) {{ id }} }}'  # noqa: E501
    variable = (await production.post("/graphql", json={
        "query": "mutation E($input: EnrollMemberInput!) { enrollMember(input: $input) { id } }",
        "variables": {"input": {"displayName": "X", "idempotencyKey": "k",
                                "identities": [{"kind": "EMAIL", "value": "a@b.c"}] * 101}},
    }))  # fmt: skip

    assert refused(await post(production, literal), "INPUT_TOO_LARGE")
    # GraphQL over HTTP: a request error is 200 for application/json (docs/errors.md)
    assert variable.status_code == 200 and error_codes(variable.json()) == ["INPUT_TOO_LARGE"]


async def test_batching_get_mutations_and_csrf_prone_bodies_are_refused(production):
    batch = await production.post("/graphql", json=[{"query": PROGRAM}, {"query": PROGRAM}])
    get_query = await production.get("/graphql", params={"query": PROGRAM})
    form = await production.post("/graphql", data={"query": PROGRAM})
    plain = await production.post(
        "/graphql", content=PROGRAM, headers={"content-type": "text/plain"}
    )
    multipart = await production.post("/graphql", files={"query": ("q", PROGRAM)})

    assert batch.status_code == 400
    assert get_query.status_code == 405
    assert form.status_code == plain.status_code == multipart.status_code == 400
    mutation = 'mutation { createPartner(input: {code: "x-1", name: "X"}) { id } }'
    digest = hashlib.sha256(mutation.encode()).hexdigest()
    extension = f'{{"persistedQuery": {{"version": 1, "sha256Hash": "{digest}"}}}}'
    get_mutation = await production.get(
        "/graphql", params={"query": mutation, "extensions": extension}
    )
    assert get_mutation.status_code in (400, 405)


async def test_introspection_and_suggestions_are_off_but_the_sdl_is_served(production):
    introspection = await post(production, "{ __schema { types { name } } }")
    typo = await post(production, "{ progrm { currency } }")
    sdl = await post(production, "{ _service { sdl } }")

    assert refused(introspection, "INTROSPECTION_DISABLED")
    assert "Did you mean" not in str(typo) and refused(typo, "GRAPHQL_VALIDATION_FAILED")
    assert 'type Member @key(fields: "id")' in sdl["data"]["_service"]["sdl"]
    assert (await production.get("/graphql", headers={"accept": "text/html"})).status_code != 200


# `program` has no plan: the operation takes the general path, which lists the partners.
GENERAL_PARTNERS = "{ partners { code } program { currency } }"


async def test_an_unexpected_error_never_reaches_the_client(production, monkeypatch, caplog):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("CANARY-7f3a secret connection string")

    monkeypatch.setattr(registry, "list_partners", broken)
    response = await production.post("/graphql", json={"query": GENERAL_PARTNERS})

    assert "CANARY" not in response.text
    assert error_codes(response.json()) == ["INTERNAL_SERVER_ERROR"]
    assert "traceId" in response.json()["errors"][0]["extensions"]
    assert response.json()["errors"][0]["message"] == "Internal server error"
    assert "CANARY-7f3a" in caplog.text  # logged for the operators, with the exception


async def test_a_body_over_the_limit_is_refused(db, settings):
    app = create_app(replace(settings, max_body_bytes=1000), db)
    async with http_client(app) as http:
        big = await http.post("/graphql", json={"query": PROGRAM, "variables": {"x": "y" * 2000}})
    assert big.status_code == 413 and error_codes(big.json()) == ["BODY_TOO_LARGE"]


async def test_cors_allows_only_listed_origins(db, settings):
    app = create_app(replace(settings, cors_origins=("https://app.example",)), db)
    async with http_client(app) as http:

        def preflight(origin):
            return http.options("/graphql", headers={
                "origin": origin, "access-control-request-method": "POST"})  # fmt: skip

        allowed, other = (
            await preflight("https://app.example"),
            await preflight("https://evil.example"),
        )
    assert allowed.headers.get("access-control-allow-origin") == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


async def test_development_mode_shows_the_unexpected_error_to_the_developer(client, monkeypatch):
    async def broken(*_args, **_kwargs):
        raise RuntimeError("a bug to fix")

    monkeypatch.setattr(registry, "list_partners", broken)
    body = (await client.post("/graphql", json={"query": GENERAL_PARTNERS})).json()

    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert "a bug to fix" in body["errors"][0]["message"]


def fragment_bomb(levels: int) -> str:
    """F1 spreads F0 twice, F2 spreads F1 twice, ...: 2^levels expansions of F0."""
    fragments = ["fragment F0 on Query { program { currency } }"]
    fragments += [f"fragment F{n} on Query {{ ...F{n - 1} ...F{n - 1} }}"
                  for n in range(1, levels + 1)]  # fmt: skip
    return f"{{ ...F{levels} }} " + " ".join(fragments)


async def test_a_30_level_fragment_bomb_is_refused_in_well_under_100_ms(production):
    query = fragment_bomb(30)
    await post(production, fragment_bomb(3))  # warm up the app, not this document's caches
    gc.collect()  # what is timed is the refusal, not a collection of earlier tests' garbage

    started = time.perf_counter()
    body = await post(production, query)
    elapsed = time.perf_counter() - started

    assert refused(body, "QUERY_TOO_COMPLEX") and refused(body, "TOO_MANY_FRAGMENTS")
    assert elapsed < 0.1, f"took {elapsed * 1000:.0f} ms"


async def test_aliases_and_depth_are_counted_through_fragments_once_each(production):
    aliased = ("{ ...F4 } fragment F0 on Query { a: program { currency } } "
               + " ".join(f"fragment F{n} on Query {{ ...F{n - 1} ...F{n - 1} }}"
                          for n in range(1, 5)))  # fmt: skip
    deep = "{ ...D } fragment D on Query { members(first: 1) { nodes { " + (
        "referredBy { " * 11 + "id" + " }" * 11) + " } } }"  # fmt: skip

    assert refused(await post(production, aliased), "TOO_MANY_ALIASES")  # 16 through spreads
    assert refused(await post(production, deep), "QUERY_TOO_DEEP")


async def test_directives_are_limited_per_document(production):
    many = " ".join(f"p{n}: program @skip(if: false) {{ currency }}" for n in range(14))
    unknown = "{ program { currency " + "@aa " * 40 + "} }"

    assert "errors" not in await post(production, "{ " + many + " }")
    assert refused(await post(production, unknown), "TOO_MANY_DIRECTIVES")


async def test_huge_decimals_and_deeply_nested_variables_are_client_errors(production, db):
    partner = await registry.create_partner(db, code="deci", name="Deci")
    purchase = (
        'mutation P($a: Decimal!) { recordPurchase(input: {member: {id: "1"},'
        ' channel: ONLINE, source: "s", externalOrderId: "o", amount: $a}) { id } }'
    )
    terms = ("mutation { setExchangeTerms(input: {partnerId: \"" + str(partner.id) + "\","
             " direction: OUTBOUND, rate: \"1e999999\", minPoints: 1, maxPoints: 2,"
             " stepPoints: 1, dailyCapPoints: 2,"
             " validFrom: \"2026-01-01T00:00:00Z\"}) { id } }")  # fmt: skip
    nested = ('{"query": "' + PROGRAM + '", "variables": {"v": ' + "[" * 1000 + '"x"'
              + "]" * 1000 + "}}")  # fmt: skip

    codes = []
    for amount in ("1e999999", "NaN", "-Infinity", "0.000000001", "1" * 40):
        codes += error_codes(await post(production, purchase, {"a": amount}))
    codes += error_codes(await post(production, terms))
    deep = await production.post(
        "/graphql", content=nested, headers={"content-type": "application/json"}
    )

    assert codes and "INTERNAL_SERVER_ERROR" not in codes
    assert set(codes) <= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}
    assert deep.status_code == 200 and error_codes(deep.json()) == ["INPUT_TOO_LARGE"]


async def test_nul_bytes_and_oversized_keys_are_validation_errors_not_database_errors(production):
    enroll = "mutation E($name: String!, $key: String!) { enrollMember(input: {displayName: $name, idempotencyKey: $key}) { id } }"  # noqa: E501
    literal = (
        'mutation { enrollMember(input: {displayName: "a\\u0000b", idempotencyKey: "k"}) { id } }'
    )

    nul_literal = await post(production, literal)
    nul_variable = await production.post("/graphql", json={
        "query": enroll, "variables": {"name": "a\x00b", "key": "k"}})  # fmt: skip
    long_key = await post(production, enroll, {"name": "Ada", "key": "k" * 201})
    blank_key = await post(production, enroll, {"name": "Ada", "key": "  "})
    fine = await post(production, enroll, {"name": "Ada", "key": "k" * 200})

    assert refused(nul_literal, "VALIDATION")
    assert nul_variable.status_code == 200 and error_codes(nul_variable.json()) == ["VALIDATION"]
    assert error_codes(long_key) == error_codes(blank_key) == ["VALIDATION"]
    assert fine["data"]["enrollMember"]["id"]


async def test_a_wide_document_is_refused_cheaply_and_comments_do_not_defeat_the_cache(
    production, monkeypatch
):
    """Found from outside: `{program{currency x1990}}` cost ~250 ms in the overlapping-fields
    rule, and a trailing comment made every request validate again."""
    wide = "{ program {" + " currency" * 1990 + " } }"
    refused_wide = await post(production, wide)
    validated = []
    real = validation.validate_document
    monkeypatch.setattr(validation, "validate_document",
                        lambda *a: validated.append(1) or real(*a))  # fmt: skip
    for n in range(5):
        answer = await post(production, f"{{ program {{ currency }} }} # {n}")
        assert answer["data"] == {"program": {"currency": "USD"}}

    assert refused(refused_wide, "TOO_MANY_FIELDS")
    assert refused_wide["errors"][0]["extensions"]["fields"] == 1990
    assert len(validated) <= 1  # once (or not at all: an earlier test validated it)


async def test_a_huge_first_literal_is_too_complex_not_a_500(production):
    """Found from outside: `first: 99999999999999999999` made a cost no JSON encoder takes."""
    for query in (
        "{ members(first: 99999999999999999999) { nodes { id } } }",
        "{ me { ledger(first: 99999999999999999999999) { nodes { points } } } }",
    ):
        body = await post(production, query)
        assert refused(body, "QUERY_TOO_COMPLEX")
        assert body["errors"][0]["extensions"]["cost"] <= 10**15


async def test_a_non_ascii_router_header_is_no_credential_and_no_500(db, settings):
    """Found from outside: a non-ASCII X-Pointgate-Router answered 500."""
    app = create_app(replace(settings, environment="production", router_token="r" * 32), db)
    async with http_client(app) as anonymous:
        answers = [
            await anonymous.post("/graphql", json={"query": "{ _service { sdl } }"},
                                 headers=[(b"x-pointgate-router", token)])
            for token in ("routér".encode("latin-1"), b"r" * 32)
        ]  # fmt: skip

    assert [answer.status_code for answer in answers] == [200, 200]
    assert error_codes(answers[0].json()) == ["UNAUTHENTICATED"]
    assert "type _Service" in answers[1].json()["data"]["_service"]["sdl"]
