"""The OAuth 2.0 authorization server: Authlib's generic server, client-credentials grant,
RFC 9068 token generator and RFC 7662/7009/7591/7592 endpoints, behind Starlette.

Authlib's server code is synchronous, so each request runs it in a worker thread; the few
places where it needs the database (find a client, record a token, ...) hop back to the event
loop with `anyio.from_thread.run`. The adapters below are the small part Authlib leaves to a
framework integration: turning a Starlette request into its request objects and its
(status, body, headers) answers into Starlette responses."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
import orjson
from anyio import from_thread
from authlib.oauth2 import AuthorizationServer as AuthlibServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InsecureTransportError,
    JsonPayload,
    JsonRequest,
    OAuth2Payload,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import ClientMetadataClaims, ClientRegistrationEndpoint
from authlib.oauth2.rfc7592 import ClientConfigurationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth import audit, clients
from auth.principal import ALL_SCOPES, Principal, PrincipalKind, Scope
from auth.throttle import AuthenticationThrottle, client_id_of
from auth.tokens import (
    ALLOWED_ALGORITHMS,
    InvalidToken,
    KeyCache,
    TokenSettings,
    TokenVerifier,
    decode_segment,
)
from auth.tokens import record_issued as record_issued_token
from infra.database import Database
from infra.models import issued_tokens, oauth_clients

T = TypeVar("T")
AUTH_METHODS = list(clients.AUTH_METHODS)


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._data = dict(items)
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, request: Request, items: list[tuple[str, str]]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self.payload = FormPayload(items)
        self._query = request.query_params

    @property
    def args(self) -> Any:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data  # type: ignore[no-any-return]


class BodyPayload(JsonPayload):  # type: ignore[misc]
    def __init__(self, data: Any) -> None:
        self._data = data

    @property
    def data(self) -> Any:
        return self._data


class BodyRequest(JsonRequest):  # type: ignore[misc]
    def __init__(self, request: Request, data: Any) -> None:
        super().__init__(request.method, str(request.url), request.headers)
        self.payload = BodyPayload(data)
        self.path_params = request.path_params


@dataclass
class TokenRecord(TokenMixin):  # type: ignore[misc]
    jti: str
    client_id: str
    subject: str
    scope: str
    issued_at: datetime
    expires_at: datetime
    revoked: bool
    client_active: bool
    issuer: str
    audience: str

    def check_client(self, client: clients.OAuthClient) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.expires_at <= datetime.now(UTC)

    def is_revoked(self) -> bool:
        return self.revoked or not self.client_active


def client_principal(client: clients.OAuthClient) -> Principal:
    return Principal(
        kind=client.kind, subject=client.client_id, scopes=client.scopes,
        partner_id=client.partner_id, client_id=client.client_id,
    )  # fmt: skip


class Bridge:
    """Runs the database side of Authlib's synchronous calls on the event loop."""

    def __init__(self, db: Database, settings: TokenSettings, keys: KeyCache) -> None:
        self.db = db
        self.settings = settings
        self.keys = keys
        self.verifier = TokenVerifier(db, settings, keys)

    def run(self, function: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        return from_thread.run(function, *args)


class TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]
    def __init__(self, bridge: Bridge) -> None:
        lifetime = int(bridge.settings.lifetime.total_seconds())
        super().__init__(
            issuer=bridge.settings.issuer, alg="RS256",
            expires_generator=lambda client, grant_type: lifetime,
        )  # fmt: skip
        self.bridge = bridge

    def get_jwks(self) -> KeySet:
        # Only the current key: given several, the generator would sign with any of them.
        return KeySet([self.bridge.run(self.bridge.keys.get).current])

    def get_audiences(self, client: Any, user: Any, scope: Any) -> str:
        return self.bridge.settings.audience


class ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    # Authlib's default accepts client_secret_basic only.
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS


class _TokenLookup:
    bridge: Bridge
    server: Any

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return self.bridge.run(self._query, token_string)

    async def _query(self, token_string: str) -> TokenRecord | None:
        """Only our own tokens, checked by signature (not by expiry: introspection answers for
        expired tokens too, with active=false)."""
        published = await self.bridge.keys.key_set()
        try:
            claims = jwt.decode(token_string, published, algorithms=ALLOWED_ALGORITHMS).claims
        except (JoseError, ValueError):
            return None
        async with self.bridge.db.read() as conn:
            row = (
                await conn.execute(
                    select(issued_tokens, oauth_clients.c.status)
                    .select_from(
                        issued_tokens.outerjoin(
                            oauth_clients, oauth_clients.c.client_id == issued_tokens.c.client_id
                        )
                    )
                    .where(issued_tokens.c.jti == claims.get("jti"))
                )
            ).first()
        if row is None:
            return None
        return TokenRecord(
            jti=row.jti, client_id=row.client_id, subject=row.subject, scope=row.scope,
            issued_at=row.issued_at, expires_at=row.expires_at,
            revoked=row.revoked_at is not None, client_active=row.status in (None, "ACTIVE"),
            issuer=self.bridge.settings.issuer, audience=self.bridge.settings.audience,
        )  # fmt: skip


class Introspection(_TokenLookup, IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def check_permission(self, token: TokenRecord, client: Any, request: Any) -> bool:
        # A client may introspect its own tokens; an internal admin client (a resource
        # server) any token.
        return token.check_client(client) or (
            client.partner_id is None and Scope.ADMIN.value in client.scopes
        )

    def introspect_token(self, token: TokenRecord) -> dict[str, Any]:
        return {
            "active": True, "client_id": token.client_id, "token_type": "Bearer",
            "scope": token.scope, "sub": token.subject, "aud": token.audience,
            "iss": token.issuer, "exp": int(token.expires_at.timestamp()),
            "iat": int(token.issued_at.timestamp()), "jti": token.jti,
        }  # fmt: skip


class Revocation(_TokenLookup, RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def revoke_token(self, token: TokenRecord, request: Any) -> None:
        self.bridge.run(self._revoke, token.jti, request.client)

    async def _revoke(self, jti: str, client: clients.OAuthClient) -> None:
        async with self.bridge.db.transaction() as conn:
            await conn.execute(
                update(issued_tokens)
                .where(issued_tokens.c.jti == jti, issued_tokens.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        await audit.record(self.bridge.db, client_principal(client), "token.revoke", target=jti)


class PointgateClientClaims(ClientMetadataClaims):  # type: ignore[misc]
    """RFC 7591 metadata plus the partner the client belongs to (by its code)."""

    REGISTERED_CLAIMS = [*ClientMetadataClaims.REGISTERED_CLAIMS, "partner_code"]


class _RegistrationMixin:
    bridge: Bridge

    def get_server_metadata(self) -> dict[str, Any]:
        return metadata(self.bridge.settings)

    def registration_info(self, client_id: str, token: str | None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "registration_client_uri": f"{self.bridge.settings.issuer}/oauth/register/{client_id}"
        }
        if token is not None:
            info["registration_access_token"] = token
        return info


class Registration(_RegistrationMixin, ClientRegistrationEndpoint):  # type: ignore[misc]
    """RFC 7591: only with an initial access token, which is an admin access token."""

    def authenticate_token(self, request: BodyRequest) -> Principal | None:
        bearer = _bearer(request.headers)
        if bearer is None:
            return None
        try:
            principal = self.bridge.run(self.bridge.verifier.principal, bearer)
        except InvalidToken:
            return None
        return principal if principal.is_admin else None

    def save_client(self, client_info: dict[str, Any], metadata: dict[str, Any], request: Any):  # type: ignore[no-untyped-def]
        registration_token = secrets.token_urlsafe(32)
        scopes = str(metadata.get("scope") or "").split()
        try:
            created = self.bridge.run(
                lambda: clients.create_client(
                    self.bridge.db, name=metadata.get("client_name") or "registered client",
                    scopes=scopes, partner_code=metadata.get("partner_code"),
                    grant_types=metadata.get("grant_types") or [clients.CLIENT_CREDENTIALS],
                    registration_token=registration_token,
                    client_id=client_info["client_id"], client_secret=client_info["client_secret"],
                )
            )  # fmt: skip
        except clients.ClientError as error:
            raise InvalidClientMetadata(str(error)) from None
        self.bridge.run(
            audit.record,
            self.bridge.db,
            request.credential,
            "client.register",
        )
        # Per request (endpoints are shared between threads): read back just below.
        request.registration_token = registration_token
        return created

    def generate_client_id(self, request: Any) -> str:
        return clients.new_client_id()

    def generate_client_secret(self, request: Any) -> str:
        return clients.new_secret()

    def generate_client_registration_info(self, client: Any, request: Any) -> dict[str, Any]:
        return self.registration_info(client.client_id, request.registration_token)


class InvalidClientMetadata(AccessDeniedError):  # type: ignore[misc]
    error = "invalid_client_metadata"
    status_code = 400


# What an RFC 7592 update may carry; anything else (redirect URIs, keys, the partner) is refused
# rather than silently ignored, so a client never believes it changed what it cannot change.
UPDATABLE_METADATA = frozenset(
    {"client_id", "client_name", "scope", "grant_types", "token_endpoint_auth_method"}
)


class Configuration(_RegistrationMixin, ClientConfigurationEndpoint):  # type: ignore[misc]
    """RFC 7592: read, update and delete a registration with its registration access token.

    With that token a client may rename itself and narrow its scopes and grant types, never
    widen them or change its partner; an operator's admin access token may also widen (an
    operator action, audited like the CLI's)."""

    def authenticate_token(self, request: BodyRequest) -> Any:
        bearer = _bearer(request.headers)
        if bearer is None:
            return None
        row = self.bridge.run(self._client_row, clients.hash_secret(bearer))
        if row is not None:
            return _RegistrationToken(row.client_id)
        try:
            principal = self.bridge.run(self.bridge.verifier.principal, bearer)
        except InvalidToken:
            return None
        return _OperatorCredential(principal) if principal.is_admin else None

    async def _client_row(self, token_hash: str) -> Any:
        async with self.bridge.db.read() as conn:
            return (
                await conn.execute(
                    select(oauth_clients).where(
                        oauth_clients.c.registration_token_hash == token_hash,
                        oauth_clients.c.status == "ACTIVE",
                    )
                )
            ).first()

    def authenticate_client(self, request: BodyRequest) -> Any:
        return self.bridge.run(
            clients.find_client, self.bridge.db, request.path_params.get("client_id", "")
        )

    def revoke_access_token(self, *args: Any) -> None:
        """Registration tokens are not rotated on read; nothing to do."""

    def check_permission(self, client: Any, request: Any) -> bool:
        # The credential was matched to this very client (or is an operator's) just before.
        return True

    def delete_client(self, client: clients.OAuthClient, request: Any) -> None:
        self.bridge.run(clients.revoke_client, self.bridge.db, client.client_id)
        actor = _actor(request, client)
        self.bridge.run(
            lambda: audit.record(self.bridge.db, actor, "client.delete", target=client.client_id)
        )

    def update_client(
        self, client: clients.OAuthClient, metadata: dict[str, Any], request: Any
    ) -> clients.OAuthClient:
        widen = isinstance(request.credential, _OperatorCredential)
        actor = _actor(request, client)
        try:
            unknown = sorted(set(metadata) - UPDATABLE_METADATA)
            if unknown:
                raise clients.ClientError(f"these cannot be changed here: {', '.join(unknown)}")
            method = metadata.get("token_endpoint_auth_method")
            if method is not None and method not in AUTH_METHODS:
                raise clients.ClientError(f"unsupported token_endpoint_auth_method {method!r}")
            self.bridge.run(
                lambda: clients.update_client(
                    self.bridge.db, client.client_id, name=metadata.get("client_name"),
                    scopes=str(metadata["scope"]).split() if "scope" in metadata else None,
                    grant_types=metadata.get("grant_types"), widen=widen,
                )
            )  # fmt: skip
        except clients.ClientError as error:
            self.bridge.run(
                lambda: audit.record(self.bridge.db, actor, "client.update",
                                     target=client.client_id, outcome="REFUSED")
            )  # fmt: skip
            raise InvalidClientMetadata(str(error)) from None
        self.bridge.run(
            lambda: audit.record(self.bridge.db, actor, "client.update", target=client.client_id)
        )
        updated = self.bridge.run(clients.find_client, self.bridge.db, client.client_id)
        assert updated is not None
        return updated  # type: ignore[no-any-return]

    def introspect_client(self, client: clients.OAuthClient) -> dict[str, Any]:
        return {
            "client_id": client.client_id, "client_name": client.name,
            "scope": " ".join(sorted(client.scopes)),
            "grant_types": sorted(client.grant_types),
            "token_endpoint_auth_method": "client_secret_basic",
        }  # fmt: skip

    def generate_client_registration_info(self, client: Any, request: Any) -> dict[str, Any]:
        return self.registration_info(client.client_id, None)


@dataclass(frozen=True)
class _RegistrationToken:
    client_id: str

    def check_client(self, client: Any) -> bool:
        return bool(client.client_id == self.client_id)


@dataclass(frozen=True)
class _OperatorCredential:
    """An admin access token at the RFC 7592 endpoint: an operator managing any client."""

    principal: Principal

    def check_client(self, client: Any) -> bool:
        return True


def _actor(request: Any, client: clients.OAuthClient) -> Principal:
    credential = request.credential
    if isinstance(credential, _OperatorCredential):
        return credential.principal
    return client_principal(client)


def _bearer(headers: Any) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


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


def metadata(settings: TokenSettings) -> dict[str, Any]:
    """RFC 8414 authorization server metadata."""
    issuer = settings.issuer
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "registration_endpoint": f"{issuer}/oauth/register",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "scopes_supported": sorted(ALL_SCOPES),
        "response_types_supported": [],
        "grant_types_supported": [clients.CLIENT_CREDENTIALS],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
    }


def _respond(status: int, body: Any, headers: Any) -> Response:
    headers = dict(headers or [])
    headers.pop("Content-Type", None)
    if status == 204 or body in ("", None):
        return Response(status_code=status, headers=headers)
    content = body if isinstance(body, str | bytes) else orjson.dumps(body)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def routes(
    db: Database, settings: TokenSettings, keys: KeyCache, throttle: AuthenticationThrottle
) -> list[Route]:
    bridge = Bridge(db, settings, keys)
    server = AuthorizationServer(bridge)

    async def run(work: Callable[[], tuple[int, Any, Any]]) -> Response:
        try:
            return _respond(*await anyio.to_thread.run_sync(work))
        except InsecureTransportError:
            return JSONResponse({"error": "insecure_transport"}, status_code=400)

    async def form_items(request: Request) -> list[tuple[str, str]]:
        form = await request.form()
        return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]

    async def token(request: Request) -> Response:
        items = await form_items(request)
        client_id = client_id_of(request.headers.get("authorization"), dict(items))
        address = request.client.host if request.client else None
        refused = await throttle.blocked(client_id, address)
        if refused is None:
            response = await run(lambda: server.create_token_response(FormRequest(request, items)))
            if response.status_code != 401:
                return response
            refused = await throttle.failed(client_id, address)
            await audit.record(db, _caller(address), "token.denied", target=client_id,
                               outcome="INVALID_CLIENT")  # fmt: skip
            if refused is None:
                return response
        return JSONResponse(
            {"error": "slow_down", "error_description": "too many failed authentications"},
            status_code=429, headers={"Retry-After": str(refused.retry_after)},
        )  # fmt: skip

    async def introspect(request: Request) -> Response:
        items = await form_items(request)
        return await run(
            lambda: server.create_endpoint_response("introspection", FormRequest(request, items))
        )

    async def revoke(request: Request) -> Response:
        items = await form_items(request)
        return await run(
            lambda: server.create_endpoint_response("revocation", FormRequest(request, items))
        )

    async def json_body(request: Request) -> Any:
        raw = await request.body()
        try:
            return orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            return None

    async def register(request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        wrapped = BodyRequest(request, body)
        return await run(lambda: _endpoint(server, server.registration, wrapped))

    async def configure(request: Request) -> Response:
        body = await json_body(request) if request.method == "PUT" else {}
        if not isinstance(body, dict):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        wrapped = BodyRequest(request, body)
        return await run(lambda: _endpoint(server, server.configuration, wrapped))

    async def jwks(_: Request) -> Response:
        published = await keys.get()
        return JSONResponse(
            published.jwks(),
            headers={"Cache-Control": f"max-age={int(settings.jwks_cache.total_seconds())}"},
        )

    async def server_metadata(_: Request) -> Response:
        return JSONResponse(metadata(settings))

    return [
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/introspect", introspect, methods=["POST"]),
        Route("/oauth/revoke", revoke, methods=["POST"]),
        Route("/oauth/register", register, methods=["POST"]),
        Route("/oauth/register/{client_id}", configure, methods=["GET", "PUT", "DELETE"]),
        Route("/.well-known/jwks.json", jwks),
        Route("/.well-known/oauth-authorization-server", server_metadata),
    ]


def _caller(address: str | None) -> Principal:
    return Principal(kind=PrincipalKind.ANONYMOUS, subject=f"address:{address or 'unknown'}")


def _endpoint(server: AuthorizationServer, endpoint: Any, request: Any) -> tuple[int, Any, Any]:
    try:
        return endpoint(request)  # type: ignore[no-any-return]
    except OAuth2Error as error:
        return error.status_code, dict(error.get_body()), error.get_headers()
