"""The resource side refuses every bearer token it should not trust."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import replace
from datetime import timedelta

import httpx
import orjson
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from auth.principal import PrincipalKind
from auth.tokens import RemoteKeys, TokenVerifier, mint
from gateway.app import create_app
from loyalty import member
from loyalty.member import IdentityKind
from loyalty.visibility import EVERYTHING
from tests.conftest import bearer, graphql, http_client
from tests.factories import a_member

ME = "{ me { id } }"


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


async def claims_for(app, **changes) -> dict:
    now = int(time.time())
    claims = {
        "iss": app.state.settings.issuer, "aud": "pointgate", "sub": "member:1",
        "client_id": "pointgate", "scope": "", "jti": "j-1", "iat": now, "exp": now + 600,
    }  # fmt: skip
    return {**claims, **changes}


async def refused(app, token: str) -> int:
    response = await http_client(app, {"Authorization": f"Bearer {token}"}).post(
        "/graphql", json={"query": ME}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    return response.status_code


async def test_a_genuine_member_token_reaches_me(app, db):
    ada = await a_member(db)

    body = await graphql(http_client(app, await bearer(app, f"member:{ada.id}")), ME)

    assert body["data"]["me"]["id"] == str(ada.id)


async def test_forged_and_foreign_tokens_are_refused(app, db):
    await a_member(db)
    signing = await app.state.keys.get()
    public_pem = signing.current.as_pem(private=False)
    claims = await claims_for(app)

    alg_none = f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(claims)}."
    # the classic confusion: an HMAC whose secret is our (public) RSA key
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': signing.current.kid})}."
    signing_input += b64(claims)
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    hs256_with_public_key = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    stranger = RSAKey.generate_key(2048, parameters={"kid": "unknown-kid"})
    unknown_kid = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "unknown-kid"}, claims,
                             stranger)  # fmt: skip
    our_key = {"alg": "RS256", "typ": "at+jwt", "kid": signing.current.kid}
    other_issuer = jwt.encode(our_key, {**claims, "iss": "https://evil.example"}, signing.current)
    other_audience = jwt.encode(our_key, {**claims, "aud": "someone-else"}, signing.current)
    not_on_record = jwt.encode(our_key, claims, signing.current)

    for token in (alg_none, hs256_with_public_key, unknown_kid, other_issuer, other_audience,
                  not_on_record, "garbage"):  # fmt: skip
        assert await refused(app, token) == 401, token


async def test_an_expired_token_is_refused(app, db):
    ada = await a_member(db)
    settings = app.state.settings.token_settings()
    expired = await mint(db, settings, app.state.keys, subject=f"member:{ada.id}",
                         lifetime=timedelta(minutes=-5))  # fmt: skip

    assert await refused(app, expired) == 401


async def test_a_member_token_from_the_identity_provider_maps_to_the_member(db, settings):
    # given an identity provider with its own key, serving its JWKS
    provider_key = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
    jwks = KeySet([RSAKey.import_key(provider_key.as_dict(private=False))]).as_dict()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=jwks))
    configured = replace(
        settings, member_issuer="https://id.example", member_jwks_url="https://id.example/jwks",
        member_audience="pointgate-app",
    )  # fmt: skip
    app = create_app(configured, db)
    provider_keys = RemoteKeys("https://id.example/jwks", timedelta(minutes=5), transport)
    verifier = TokenVerifier(db, configured.token_settings(), app.state.keys, provider_keys)
    ada = await a_member(db)
    await member.link_identity(db, member_id=ada.id, kind=IdentityKind.ONLINE_ACCOUNT,
                               value="auth0|ada", visible=EVERYTHING)  # fmt: skip
    now = int(time.time())
    claims = {"iss": "https://id.example", "aud": "pointgate-app", "sub": "auth0|ada",
              "iat": now, "exp": now + 300}  # fmt: skip
    token = jwt.encode({"alg": "RS256", "kid": "idp-1"}, claims, provider_key)

    principal = await verifier.principal(token)

    assert (principal.kind, principal.member_id) == (PrincipalKind.MEMBER, ada.id)


ODD_VALUES = [None, 7, ["at+jwt"], {"a": 1}, True]


async def test_tokens_with_odd_header_and_claim_types_are_401_not_500(app, db):
    claims = await claims_for(app)
    tokens = []
    for odd in ODD_VALUES:
        tokens.append(f"{b64({'alg': 'RS256', 'typ': odd, 'kid': 'k'})}.{b64(claims)}.c2ln")
        tokens.append(f"{b64({'alg': odd, 'typ': 'at+jwt'})}.{b64(claims)}.c2ln")
        tokens.append(f"{b64({'alg': 'RS256', 'typ': 'at+jwt', 'kid': odd})}.{b64(claims)}.c2ln")
        tokens.append(f"{b64({'alg': 'RS256', 'typ': 'at+jwt'})}.{b64({**claims, 'iss': odd})}.x")
    statuses = []
    for token in tokens:
        response = await http_client(app, {"Authorization": f"Bearer {token}"}).post(
            "/graphql", json={"query": ME}
        )
        statuses.append(response.status_code)

    assert statuses == [401] * len(tokens)


async def test_a_token_verified_before_is_refused_once_it_expires(app, db, monkeypatch):
    """The signature of a token seen before is not checked again, its expiry (with the same
    30 s leeway) is; so is its revocation (tests/auth/test_revocations.py)."""
    ada = await a_member(db)
    settings = app.state.settings.token_settings()
    token = await mint(db, settings, app.state.keys, subject=f"member:{ada.id}",
                       lifetime=timedelta(minutes=1))  # fmt: skip
    http = http_client(app, {"Authorization": f"Bearer {token}"})
    assert (await graphql(http, ME))["data"]["me"]["id"] == str(ada.id)
    assert (await graphql(http, ME))["data"]["me"]["id"] == str(ada.id)  # remembered

    later = time.time() + 60 + 31
    monkeypatch.setattr("auth.tokens.time.time", lambda: later)

    assert await refused(app, token) == 401
