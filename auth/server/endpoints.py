"""The authorization server and its HTTP endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import orjson
from authlib.oauth2 import AuthorizationServer as AuthlibServer
from authlib.oauth2.rfc6749 import (
    InsecureTransportError,
    OAuth2Request,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth import audit, clients
from auth.principal import ALL_SCOPES, Principal, PrincipalKind
from auth.server.adapters import BodyRequest, Bridge, FormRequest, call_endpoint, respond
from auth.server.discovery import metadata
from auth.server.grants import (
    ClientCredentials,
    Introspection,
    Revocation,
    TokenGenerator,
    client_principal,
)
from auth.server.registration import Configuration, PointgateClientClaims, Registration
from auth.throttle import AuthenticationThrottle, client_id_of
from auth.tokens import (
    KeyCache,
    TokenSettings,
    decode_segment,
)
from auth.tokens import record_issued as record_issued_token
from infra.database import Database


class AuthorizationServer(AuthlibServer):  # type: ignore[misc]
    def __init__(self, bridge: Bridge) -> None:
        super().__init__(scopes_supported=sorted(ALL_SCOPES))
        self.bridge = bridge
        self.register_grant(ClientCredentials)
        self.register_token_generator("default", TokenGenerator(bridge))
        for endpoint_class in (Introspection, Revocation):
            endpoint = endpoint_class(self)
            endpoint.bridge = bridge
            self.register_endpoint(endpoint)
        self.registration = Registration(self, claims_classes=[PointgateClientClaims])
        self.configuration = Configuration(self, claims_classes=[PointgateClientClaims])
        self.registration.bridge = self.configuration.bridge = bridge

    def query_client(self, client_id: str) -> clients.OAuthClient | None:
        return self.bridge.run(clients.find_client, self.bridge.db, client_id)  # type: ignore[no-any-return]

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        # Our own JWT, just made: its claims are read back without re-verifying.
        claims = decode_segment(token["access_token"].split(".")[1])
        self.bridge.run(record_issued_token, self.bridge.db, claims)
        self.bridge.run(
            audit.record, self.bridge.db, client_principal(request.client), "token.issue",
        )  # fmt: skip

    def create_oauth2_request(self, request: Any) -> Any:
        return request

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Audit rows are written where the changes happen; no signals needed."""


class Endpoints:
    """The HTTP side of the server: each method answers one route."""

    def __init__(
        self,
        db: Database,
        settings: TokenSettings,
        keys: KeyCache,
        throttle: AuthenticationThrottle,
    ) -> None:
        self.db, self.settings, self.keys, self.throttle = db, settings, keys, throttle
        self.server = AuthorizationServer(Bridge(db, settings, keys))

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/introspect", self.introspect, methods=["POST"]),
            Route("/oauth/revoke", self.revoke, methods=["POST"]),
            Route("/oauth/register", self.register, methods=["POST"]),
            Route("/oauth/register/{client_id}", self.configure, methods=["GET", "PUT", "DELETE"]),
            Route("/.well-known/jwks.json", self.jwks),
            Route("/.well-known/oauth-authorization-server", self.server_metadata),
        ]

    async def token(self, request: Request) -> Response:
        """Tokens for clients that authenticate; too many failures slow a client down (429)."""
        try:
            items = await _form_items(request)
        except InvalidForm:
            return _invalid_form()
        client_id = client_id_of(request.headers.get("authorization"), dict(items))
        address = request.client.host if request.client else None
        refused = await self.throttle.blocked(client_id, address)
        if refused is None:
            response = await _run(
                lambda: self.server.create_token_response(FormRequest(request, items))
            )
            if response.status_code != 401:
                if response.status_code == 200:
                    await self.throttle.succeeded(client_id, address)
                return response
            refused = await self.throttle.failed(client_id, address)
            await audit.record(self.db, _caller(address), "token.denied", target=client_id,
                               outcome="INVALID_CLIENT")  # fmt: skip
            if refused is None:
                return response
        return JSONResponse(
            {"error": "slow_down", "error_description": "too many failed authentications"},
            status_code=429, headers={"Retry-After": str(refused.retry_after)},
        )  # fmt: skip

    async def introspect(self, request: Request) -> Response:
        return await self._form_endpoint("introspection", request)

    async def revoke(self, request: Request) -> Response:
        return await self._form_endpoint("revocation", request)

    async def _form_endpoint(self, name: str, request: Request) -> Response:
        try:
            wrapped = FormRequest(request, await _form_items(request))
        except InvalidForm:
            return _invalid_form()
        return await _run(lambda: self.server.create_endpoint_response(name, wrapped))

    async def register(self, request: Request) -> Response:
        return await self._json_endpoint(self.server.registration, request, await _json(request))

    async def configure(self, request: Request) -> Response:
        body = await _json(request) if request.method == "PUT" else {}
        return await self._json_endpoint(self.server.configuration, request, body)

    async def _json_endpoint(self, endpoint: Any, request: Request, body: Any) -> Response:
        if not isinstance(body, dict):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        wrapped = BodyRequest(request, body)
        return await _run(lambda: call_endpoint(self.server, endpoint, wrapped))

    async def jwks(self, _: Request) -> Response:
        published = await self.keys.get()
        max_age = int(self.settings.jwks_cache.total_seconds())
        return JSONResponse(published.jwks(), headers={"Cache-Control": f"max-age={max_age}"})

    async def server_metadata(self, _: Request) -> Response:
        return JSONResponse(metadata(self.settings))


def routes(
    db: Database, settings: TokenSettings, keys: KeyCache, throttle: AuthenticationThrottle
) -> list[Route]:
    return Endpoints(db, settings, keys, throttle).routes()


async def _run(work: Callable[[], tuple[int, Any, Any]]) -> Response:
    """Authlib's synchronous work in a worker thread, its answer as a response."""
    try:
        return respond(*await anyio.to_thread.run_sync(work))
    except InsecureTransportError:
        return JSONResponse({"error": "insecure_transport"}, status_code=400)


class InvalidForm(Exception):
    """A form no OAuth request can be: a value with control characters (NUL), over-long, or
    not text. Answered `invalid_request` before anything reads the database."""


FORM_VALUE_LIMIT = 2000
_CONTROL = frozenset(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127])


async def _form_items(request: Request) -> list[tuple[str, str]]:
    try:
        form = await request.form()
    except (ValueError, UnicodeDecodeError, AssertionError) as error:  # a body form parsing refuses
        raise InvalidForm(str(error)) from None
    items = [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
    for key, value in items:
        text = key + value
        if (
            len(value) > FORM_VALUE_LIMIT
            or len(key) > 100
            or not _CONTROL.isdisjoint(text)
            or "\ufffd" in text
        ):
            raise InvalidForm(key[:100])
    return items


def _invalid_form() -> Response:
    return JSONResponse(
        {"error": "invalid_request", "error_description": "a form value is not valid"},
        status_code=400,
    )


async def _json(request: Request) -> Any:
    """The JSON body, {} when empty, None when it is not JSON."""
    raw = await request.body()
    try:
        return orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return None


def _caller(address: str | None) -> Principal:
    return Principal(kind=PrincipalKind.ANONYMOUS, subject=f"address:{address or 'unknown'}")
