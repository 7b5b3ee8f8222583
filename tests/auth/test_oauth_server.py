"""The authorization server's contract (RFC 6749 client credentials, RFC 9068 tokens, RFC 7662
introspection, RFC 7009 revocation, RFC 8414 metadata, JWKS rotation)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from auth import clients, keys
from auth.tokens import mint
from tests.conftest import graphql, http_client
from tests.factories import a_partner

PARTNERS = "{ partners { code } }"


def claims_of(token: str) -> tuple[dict, dict]:
    header, claims, _ = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(header), decode(claims)


async def a_client(db, scopes="members:read purchases:write", partner="acme-coffee", **options):
    if partner:
        await a_partner(db, partner)
    return await clients.create_client(
        db, name="test client", scopes=scopes.split(), partner_code=partner, **options
    )


async def token_response(http, client, scope=None, how="basic", secret=None):
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    secret = secret or client.client_secret
    if how == "basic":
        return await http.post("/oauth/token", data=form, auth=(client.client_id, secret))
    form |= {"client_id": client.client_id, "client_secret": secret}
    return await http.post("/oauth/token", data=form)


async def test_a_partner_client_gets_an_rfc9068_jwt_by_basic_or_post(app, anonymous, db):
    partner_client = await a_client(db)

    by_basic = await token_response(anonymous, partner_client)
    by_post = await token_response(anonymous, partner_client, how="post")

    assert by_basic.status_code == by_post.status_code == 200
    body = by_basic.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
    header, claims = claims_of(body["access_token"])
    assert (header["typ"], header["alg"]) == ("at+jwt", "RS256") and header["kid"]
    assert claims["iss"] == app.state.settings.issuer
    assert claims["aud"] == "pointgate"
    assert claims["sub"] == claims["client_id"] == partner_client.client_id
    assert claims["scope"] == "members:read purchases:write"
    assert claims["exp"] - claims["iat"] == 900 and claims["jti"]
    assert by_basic.headers["cache-control"] == "no-store"


async def test_requested_scopes_are_trimmed_to_the_allowed_ones(anonymous, db):
    partner_client = await a_client(db)

    body = (await token_response(anonymous, partner_client, "members:read points:redeem")).json()

    assert claims_of(body["access_token"])[1]["scope"] == "members:read"


async def test_the_contract_errors(anonymous, db):
    partner_client = await a_client(db)
    not_for_tokens = await clients.create_client(
        db, name="introspector", scopes=["members:read"], grant_types=["urn:example:none"]
    )

    wrong_secret = await token_response(anonymous, partner_client, secret="wrong")
    unknown = await anonymous.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x")
    )
    unauthorized = await token_response(anonymous, not_for_tokens)
    bad_scope = await token_response(anonymous, partner_client, "members:read galaxy:rule")
    bad_grant = await anonymous.post(
        "/oauth/token", data={"grant_type": "password"},
        auth=(partner_client.client_id, partner_client.client_secret),
    )  # fmt: skip

    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")
    assert unauthorized.json()["error"] == "unauthorized_client"
    assert (bad_scope.status_code, bad_scope.json()["error"]) == (400, "invalid_scope")
    assert bad_grant.json()["error"] == "unsupported_grant_type"


async def test_introspection_of_active_expired_and_revoked_tokens(app, anonymous, db):
    partner_client = await a_client(db)
    auth = (partner_client.client_id, partner_client.client_secret)
    active = (await token_response(anonymous, partner_client)).json()["access_token"]
    revoked = (await token_response(anonymous, partner_client)).json()["access_token"]
    await anonymous.post("/oauth/revoke", data={"token": revoked}, auth=auth)
    settings = app.state.settings.token_settings()
    expired = await mint(
        db, settings, app.state.keys, subject=partner_client.client_id,
        client_id=partner_client.client_id, lifetime=timedelta(seconds=-60),
    )  # fmt: skip

    answers = [
        (await anonymous.post("/oauth/introspect", data={"token": t}, auth=auth)).json()
        for t in (active, expired, revoked, "not-a-token")
    ]

    assert answers[0]["active"] is True
    assert answers[0]["client_id"] == partner_client.client_id
    assert answers[0]["scope"] == "members:read purchases:write"
    assert [a["active"] for a in answers[1:]] == [False, False, False]


async def test_a_client_cannot_revoke_another_clients_token(app, anonymous, db):
    first = await a_client(db)
    second = await a_client(db, partner="skyway-air")
    token = (await token_response(anonymous, first)).json()["access_token"]

    refused = await anonymous.post(
        "/oauth/revoke", data={"token": token}, auth=(second.client_id, second.client_secret)
    )
    still = await graphql(http_client(app, {"Authorization": f"Bearer {token}"}), PARTNERS)

    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    assert still["data"]["partners"] == [{"code": "acme-coffee"}]


async def test_a_revoked_token_and_a_revoked_clients_tokens_fail_at_once(app, anonymous, db):
    partner_client = await a_client(db)
    auth = (partner_client.client_id, partner_client.client_secret)
    token = (await token_response(anonymous, partner_client)).json()["access_token"]
    other = (await token_response(anonymous, partner_client)).json()["access_token"]
    as_partner = http_client(app, {"Authorization": f"Bearer {token}"})
    assert "errors" not in await graphql(as_partner, PARTNERS)

    await anonymous.post("/oauth/revoke", data={"token": token}, auth=auth)
    after_revoke = await as_partner.post("/graphql", json={"query": PARTNERS})
    await clients.revoke_client(db, partner_client.client_id)
    after_client_revoke = await http_client(app, {"Authorization": f"Bearer {other}"}).post(
        "/graphql", json={"query": PARTNERS}
    )
    no_new_token = await token_response(anonymous, partner_client)

    assert after_revoke.status_code == after_client_revoke.status_code == 401
    assert after_revoke.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert no_new_token.json()["error"] == "invalid_client"


async def test_two_secrets_work_during_a_rotation_then_only_the_new_one(anonymous, db):
    partner_client = await a_client(db)
    new_secret = await clients.rotate_secret(db, partner_client.client_id, grace=timedelta(hours=1))

    old_during = await token_response(anonymous, partner_client)
    new_during = await token_response(anonymous, partner_client, secret=new_secret)
    # a second rotation with no grace ends the first secret at once
    newest = await clients.rotate_secret(db, partner_client.client_id, grace=timedelta(0))
    old_after = await token_response(anonymous, partner_client)
    newest_after = await token_response(anonymous, partner_client, secret=newest)

    assert old_during.status_code == new_during.status_code == 200
    assert old_after.status_code == 401
    assert newest_after.status_code == 200


async def test_key_rotation_keeps_old_keys_published_for_token_lifetime_plus_cache(
    app, anonymous, db
):
    partner_client = await a_client(db)
    before = (await token_response(anonymous, partner_client)).json()["access_token"]
    old_kid = claims_of(before)[0]["kid"]

    new_kid = await keys.rotate(db)
    app.state.keys._keys = None  # this replica notices at its next refresh; force it now
    after = (await token_response(anonymous, partner_client)).json()["access_token"]
    published = {
        key["kid"] for key in (await anonymous.get("/.well-known/jwks.json")).json()["keys"]
    }
    still = await http_client(app, {"Authorization": f"Bearer {before}"}).post(
        "/graphql", json={"query": PARTNERS}
    )

    assert claims_of(after)[0]["kid"] == new_kid != old_kid
    assert published == {old_kid, new_kid}
    assert still.status_code == 200
    # once token lifetime (15 min) and cache time (5 min) have passed, the old key is gone
    later = datetime.now(UTC) + timedelta(minutes=21)
    settings = app.state.settings.token_settings()
    gone = await keys.load(db, keep_retired_for=settings.lifetime + settings.jwks_cache, now=later)
    assert {key.kid for key in gone.published.keys} == {new_kid}
    assert "d" not in (await anonymous.get("/.well-known/jwks.json")).json()["keys"][0]


async def test_the_server_metadata_follows_rfc_8414(app, anonymous):
    body = (await anonymous.get("/.well-known/oauth-authorization-server")).json()

    issuer = app.state.settings.issuer
    assert body["issuer"] == issuer
    assert body["token_endpoint"] == f"{issuer}/oauth/token"
    assert body["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert "client_secret_post" in body["token_endpoint_auth_methods_supported"]
    AuthorizationServerMetadata(body).validate_issuer()


def from_address(app, host):
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


async def test_failed_authentications_are_throttled_per_client_and_address(app, client, db):
    target = await a_client(db)
    bystander = await a_client(db, partner=None, scopes="members:read")
    attacker = from_address(app, "127.0.0.7")

    answers = [(await token_response(attacker, target, secret=f"guess-{n}")).status_code
               for n in range(14)]  # fmt: skip
    right_secret_meanwhile = await token_response(attacker, target)
    # Found from outside: 12 wrong secrets from one address made the owner's right secret
    # from another address 429. The owner is slowed nowhere but where the guesses come from.
    same_client_elsewhere = await token_response(from_address(app, "127.0.0.8"), target)
    other_client_elsewhere = await token_response(from_address(app, "127.0.0.9"), bystander)
    log = (await graphql(client, '{ auditLog(first: 50, action: "token.denied") {'
                                 " nodes { subject outcome } } }"))["data"]["auditLog"]  # fmt: skip

    assert answers == [401] * 10 + [429] * 4
    assert right_secret_meanwhile.status_code == 429
    assert int(right_secret_meanwhile.headers["Retry-After"]) >= 1
    assert same_client_elsewhere.status_code == 200
    assert other_client_elsewhere.status_code == 200
    assert log["nodes"][0] == {"subject": "address:127.0.0.7", "outcome": "INVALID_CLIENT"}
    assert len(log["nodes"]) == 11  # ten failures, then the one that spent the budget


async def test_guesses_spread_over_addresses_slow_new_addresses_but_not_the_owners(app, db):
    """Per account, a larger budget slows guessing from many addresses; an address the client
    authenticated from before is never locked out by it (OWASP: a known-device allowance)."""
    target = await a_client(db)
    owner = from_address(app, "127.0.1.1")
    assert (await token_response(owner, target)).status_code == 200

    for host in range(2, 8):  # six addresses, nine guesses each: 54, past the account's 50
        guesser = from_address(app, f"127.0.1.{host}")
        for n in range(9):
            await token_response(guesser, target, secret=f"guess-{host}-{n}")
    stranger = await token_response(from_address(app, "127.0.1.200"), target)
    known = await token_response(owner, target)

    assert stranger.status_code == 429 and int(stranger.headers["Retry-After"]) >= 1
    assert known.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=client_credentials&client_id=a%00b&client_secret=x",
        b"grant_type=client_credentials&client_id=" + b"c" * 5000 + b"&client_secret=x",
        b"grant_type=client_credentials&client_id=%ff%fe&client_secret=%c3",
        b"grant_type=client_credentials&client_secret=%00",
    ],
)
async def test_a_token_request_with_values_no_client_has_is_invalid_not_a_500(anonymous, body):
    """Found from outside: NUL, over-long and non-UTF-8 values answered 500."""
    answer = await anonymous.post(
        "/oauth/token", content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )  # fmt: skip

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
