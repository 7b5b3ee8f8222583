"""Operators sign in to the console through an OpenID Connect provider: a small one served here
over HTTP (discovery, authorize, token with a signed ID token, JWKS), as a company's would be."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from auth import console
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import TEST_DATA_KEY
from tests.gateway.test_console import OPERATOR, PASSWORD, browser_like

CLIENT_ID, CLIENT_SECRET = "pointgate-console", "provider-secret"


class Provider:
    """Who the provider says signs in next, and the codes it gave out."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.email, self.verified = "ops@example.com", True
        self.codes: dict[str, str] = {}  # code -> nonce
        self.base = ""

    def app(self) -> Starlette:
        async def discovery(_: Request) -> JSONResponse:
            return JSONResponse({
                "issuer": self.base, "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token", "jwks_uri": f"{self.base}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            })  # fmt: skip

        async def authorize(request: Request) -> RedirectResponse:
            asked = request.query_params
            assert asked["client_id"] == CLIENT_ID and "openid" in asked["scope"]
            code = f"code-{len(self.codes)}"
            self.codes[code] = asked["nonce"]
            back = urlencode({"code": code, "state": asked["state"]})
            return RedirectResponse(f"{asked['redirect_uri']}?{back}", status_code=302)

        async def token(request: Request) -> JSONResponse:
            form = await request.form()
            nonce = self.codes.pop(str(form["code"]))
            now = int(time.time())
            claims = {"iss": self.base, "aud": CLIENT_ID, "sub": "u-1", "email": self.email,
                      "email_verified": self.verified, "nonce": nonce, "iat": now,
                      "exp": now + 300}  # fmt: skip
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
            return JSONResponse({"access_token": "at", "token_type": "Bearer",
                                 "expires_in": 300, "id_token": id_token})  # fmt: skip

        async def jwks(_: Request) -> JSONResponse:
            return JSONResponse({"keys": [self.key.as_dict(private=False)]})

        return Starlette(routes=[
            Route("/.well-known/openid-configuration", discovery), Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]), Route("/jwks", jwks),
        ])  # fmt: skip


@pytest.fixture
def provider() -> Iterator[Provider]:
    found = Provider()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    found.base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(found.app(), host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield found
    server.should_exit = True
    thread.join(timeout=10)


async def signing_in_through(provider: Provider, app) -> tuple[httpx.Response, set[str]]:
    """The browser's round trip: the console sends it to the provider, the provider back."""
    async with browser_like(app) as http:
        sent = await http.get("/console/sign-in/company")
        assert sent.status_code == 302, sent.text
        async with httpx.AsyncClient() as outside:
            came_back = await outside.get(sent.headers["location"])
        back = urlsplit(came_back.headers["location"])
        assert back.path == "/console/sign-in/company/callback"
        answer = await http.get(f"{back.path}?{back.query}")
        return answer, set(http.cookies)


async def test_an_operator_signs_in_with_the_company_account(database, db, provider):
    settings = Settings(
        database_url=database.url, environment="development", data_keys=(TEST_DATA_KEY,),
        console_oidc_metadata_url=f"{provider.base}/.well-known/openid-configuration",
        console_oidc_client_id=CLIENT_ID, console_oidc_client_secret=CLIENT_SECRET,
    )  # fmt: skip
    app = create_app(settings, db)
    await console.ensure_person(db, OPERATOR, email="ops@example.com", password=PASSWORD,
                                role=console.Role.OPERATOR)  # fmt: skip
    async with browser_like(app) as http:
        offered = await http.get("/console/sign-in")

    accepted, cookies = await signing_in_through(provider, app)
    provider.email = "stranger@example.com"
    stranger, _ = await signing_in_through(provider, app)
    provider.email, provider.verified = "ops@example.com", False
    unverified, _ = await signing_in_through(provider, app)
    # found from outside: a string claim counted as verified
    spelled = []
    for claim in ("false", "0", "true", 1):
        provider.verified = claim
        spelled.append((await signing_in_through(provider, app))[0].status_code)

    assert "sign in with your company account" in offered.text
    assert accepted.status_code == 303 and accepted.headers["location"] == "/console"
    assert "pointgate_console" in cookies
    assert stranger.status_code == unverified.status_code == 401
    assert spelled == [401, 401, 401, 401]
    assert "not an operator" in stranger.text
    assert provider.codes == {}
