"""Issuing and checking tokens: the client-credentials grant, the RFC 9068 token generator,
and RFC 7662 introspection and RFC 7009 revocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import (
    TokenMixin,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from auth import audit, clients
from auth.principal import Principal, Scope
from auth.revocations import notify_revoked
from auth.server.adapters import Bridge
from auth.server.discovery import AUTH_METHODS
from auth.tokens import (
    ALLOWED_ALGORITHMS,
)
from infra.models import issued_tokens, oauth_clients


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


class TokenLookup:
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


class Introspection(TokenLookup, IntrospectionEndpoint):  # type: ignore[misc]
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


class Revocation(TokenLookup, RevocationEndpoint):  # type: ignore[misc]
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
            await notify_revoked(conn, jti=jti)
        await audit.record(self.bridge.db, client_principal(client), "token.revoke", target=jti)
