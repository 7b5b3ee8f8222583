"""Dynamic client registration (RFC 7591) and client configuration (RFC 7592): a client may
rename itself and narrow its scopes; widening them is an operator's act."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
)
from authlib.oauth2.rfc7591 import ClientMetadataClaims, ClientRegistrationEndpoint
from authlib.oauth2.rfc7592 import ClientConfigurationEndpoint
from sqlalchemy import select

from auth import audit, clients, ownership
from auth.principal import Principal
from auth.server.adapters import BodyRequest, Bridge
from auth.server.discovery import AUTH_METHODS, metadata
from auth.server.grants import client_principal
from auth.tokens import (
    InvalidToken,
)
from infra.models import oauth_clients


class PointgateClientClaims(ClientMetadataClaims):  # type: ignore[misc]
    """RFC 7591 metadata plus the partner the client belongs to (by its code)."""

    REGISTERED_CLAIMS = [*ClientMetadataClaims.REGISTERED_CLAIMS, "partner_code"]


class RegistrationMixin:
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


class Registration(RegistrationMixin, ClientRegistrationEndpoint):  # type: ignore[misc]
    """RFC 7591: only with an initial access token, which is an admin access token."""

    def authenticate_token(self, request: BodyRequest) -> Principal | None:
        bearer = bearer_of(request.headers)
        if bearer is None:
            return None
        try:
            principal = self.bridge.run(self.bridge.verifier.principal, bearer)
        except InvalidToken:
            return None
        return principal if ownership.may_manage_clients(principal) else None

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


class Configuration(RegistrationMixin, ClientConfigurationEndpoint):  # type: ignore[misc]
    """RFC 7592: read, update and delete a registration with its registration access token.

    With that token a client may rename itself and narrow its scopes and grant types, never
    widen them or change its partner; an operator's admin access token may also widen (an
    operator action, audited like the CLI's)."""

    def authenticate_token(self, request: BodyRequest) -> Any:
        bearer = bearer_of(request.headers)
        if bearer is None:
            return None
        row = self.bridge.run(self._client_row, clients.hash_secret(bearer))
        if row is not None:
            return RegistrationToken(row.client_id)
        try:
            principal = self.bridge.run(self.bridge.verifier.principal, bearer)
        except InvalidToken:
            return None
        return OperatorCredential(principal) if ownership.may_manage_clients(principal) else None

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
        actor = actor_of(request, client)
        self.bridge.run(
            lambda: audit.record(self.bridge.db, actor, "client.delete", target=client.client_id)
        )

    def update_client(
        self, client: clients.OAuthClient, metadata: dict[str, Any], request: Any
    ) -> clients.OAuthClient:
        widen = isinstance(request.credential, OperatorCredential)
        actor = actor_of(request, client)
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
class RegistrationToken:
    client_id: str

    def check_client(self, client: Any) -> bool:
        return bool(client.client_id == self.client_id)


@dataclass(frozen=True)
class OperatorCredential:
    """An admin access token at the RFC 7592 endpoint: an operator managing any client."""

    principal: Principal

    def check_client(self, client: Any) -> bool:
        return True


def actor_of(request: Any, client: clients.OAuthClient) -> Principal:
    credential = request.credential
    if isinstance(credential, OperatorCredential):
        return credential.principal
    return client_principal(client)


def bearer_of(headers: Any) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
