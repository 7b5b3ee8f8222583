"""OAuth clients: who may ask for tokens, with which scopes, for which partner.

A secret is 256 random bits shown once; only its SHA-256 is stored, and it is compared in
constant time. Rotating keeps the old secret valid for a grace period, so a partner can roll
its deployment; revoking a client ends its live tokens at once (the resource side checks the
client's status on every request)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import insert, select, update

from auth.principal import ALL_SCOPES, PrincipalKind
from auth.revocations import notify_revoked
from infra.database import Database
from infra.models import client_secrets, oauth_clients, partners
from infra.partner_records import ClientRow

CLIENT_CREDENTIALS = "client_credentials"
AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class ClientError(ValueError):
    """A client operation that cannot be done as asked (unknown partner, scope, client)."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_client_id() -> str:
    return f"pg_{secrets.token_urlsafe(12)}"


@dataclass
class OAuthClient(ClientMixin):  # type: ignore[misc]
    """The registered client as Authlib sees it."""

    client_id: str
    name: str
    partner_id: int | None
    scopes: frozenset[str]
    grant_types: frozenset[str]
    status: str
    secret_hashes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> PrincipalKind:
        return PrincipalKind.OPERATOR if self.partner_id is None else PrincipalKind.PARTNER

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Requested scopes trimmed to the allowed ones; no request means all allowed ones."""
        if not scope:
            return " ".join(sorted(self.scopes))
        return " ".join(s for s in scope.split() if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        offered = hash_secret(client_secret)
        # Compare with every active hash, without stopping early.
        matches = [hmac.compare_digest(offered, stored) for stored in self.secret_hashes]
        return any(matches)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


def _scopes(values: Iterable[str]) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in values if s.strip())
    unknown = scopes - ALL_SCOPES
    if unknown:
        raise ClientError(f"unknown scopes: {', '.join(sorted(unknown))}")
    return scopes


@dataclass(frozen=True, slots=True)
class NewClient:
    client_id: str
    client_secret: str
    partner_id: int | None
    scopes: frozenset[str]


async def create_client(
    db: Database,
    *,
    name: str,
    scopes: Iterable[str],
    partner_code: str | None = None,
    partner_id: int | None = None,
    grant_types: Iterable[str] = (CLIENT_CREDENTIALS,),
    registration_token: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    now: datetime | None = None,
) -> NewClient:
    """Register a client for a partner (by code or id) or an internal one. The secret is in the
    answer and nowhere else."""
    allowed = _scopes(scopes)
    now = now or datetime.now(UTC)
    client_id = client_id or new_client_id()
    secret = client_secret or new_secret()
    async with db.transaction() as conn:
        if partner_code is not None:
            partner_id = await conn.scalar(
                select(partners.c.id).where(partners.c.code == partner_code)
            )
            if partner_id is None:
                raise ClientError(f"no partner has the code {partner_code!r}")
        if partner_id is not None and "admin" in allowed:
            raise ClientError("a partner's client cannot hold the admin scope")
        await conn.execute(
            insert(oauth_clients).values(
                client_id=client_id, name=name, partner_id=partner_id,
                scopes=" ".join(sorted(allowed)), grant_types=" ".join(sorted(grant_types)),
                status="ACTIVE",
                registration_token_hash=hash_secret(registration_token)
                if registration_token else None,
                created_at=now,
            )
        )  # fmt: skip
        await conn.execute(
            insert(client_secrets).values(
                client_id=client_id, secret_hash=hash_secret(secret), created_at=now
            )
        )
    return NewClient(client_id=client_id, client_secret=secret, partner_id=partner_id,
                     scopes=allowed)  # fmt: skip


async def find_client(
    db: Database, client_id: str, *, now: datetime | None = None
) -> OAuthClient | None:
    """The active client with its active secret hashes, or None."""
    now = now or datetime.now(UTC)
    async with db.read() as conn:
        row = await _active_row(conn, client_id)
        if row is None:
            return None
        hashes = list(
            await conn.scalars(
                select(client_secrets.c.secret_hash).where(
                    client_secrets.c.client_id == client_id,
                    client_secrets.c.expires_at.is_(None) | (client_secrets.c.expires_at > now),
                )
            )
        )
    return _to_client(row, hashes)


def _to_client(row: Any, hashes: list[str]) -> OAuthClient:
    return OAuthClient(
        client_id=row.client_id, name=row.name, partner_id=row.partner_id,
        scopes=frozenset(row.scopes.split()), grant_types=frozenset(row.grant_types.split()),
        status=row.status, secret_hashes=hashes,
    )  # fmt: skip


async def list_clients(db: Database, *, partner_id: int | None = None) -> list[ClientRow]:
    """Every client, or one partner's (`partner_id`), oldest first."""
    query = select(oauth_clients).order_by(oauth_clients.c.id)
    if partner_id is not None:
        query = query.where(oauth_clients.c.partner_id == partner_id)
    async with db.read() as conn:
        return list(await conn.execute(query))


async def rotate_secret(
    db: Database, client_id: str, *, grace: timedelta, now: datetime | None = None
) -> str:
    """A new secret; the current ones stay valid for `grace`, then stop working."""
    now = now or datetime.now(UTC)
    secret = new_secret()
    async with db.transaction() as conn:
        await _active(conn, client_id)
        await conn.execute(
            update(client_secrets)
            .where(
                client_secrets.c.client_id == client_id,
                client_secrets.c.expires_at.is_(None) | (client_secrets.c.expires_at > now + grace),
            )
            .values(expires_at=now + grace)
        )
        await conn.execute(
            insert(client_secrets).values(
                client_id=client_id, secret_hash=hash_secret(secret), created_at=now
            )
        )
    return secret


async def revoke_client(db: Database, client_id: str, *, now: datetime | None = None) -> None:
    """The client can no longer get tokens, and the tokens it holds stop working at once."""
    async with db.transaction() as conn:
        await _active(conn, client_id)
        await conn.execute(
            update(oauth_clients)
            .where(oauth_clients.c.client_id == client_id)
            .values(status="REVOKED", revoked_at=now or datetime.now(UTC))
        )
        await notify_revoked(conn, client_id=client_id)


class ScopeWidening(ClientError):
    """A change that would give a client more than it has: an operator's decision, never the
    client's own (RFC 7592 updates may only narrow)."""


async def update_client(
    db: Database,
    client_id: str,
    *,
    name: str | None = None,
    scopes: Iterable[str] | None = None,
    grant_types: Iterable[str] | None = None,
    widen: bool = False,
) -> None:
    """Rename a client or change its scopes and grant types. Without `widen` (a client managing
    its own registration) the new scopes and grant types must be a subset of the current ones;
    with it (an operator) any known scope, but never `admin` for a partner's client. The partner
    and kind of a client never change."""
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    async with db.transaction() as conn:
        row = await _active(conn, client_id)
        if scopes is not None:
            wanted = _scopes(scopes)
            if not widen and not wanted <= frozenset(row.scopes.split()):
                added = " ".join(sorted(wanted - frozenset(row.scopes.split())))
                raise ScopeWidening(f"a client cannot give itself scopes it lacks: {added}")
            if row.partner_id is not None and "admin" in wanted:
                raise ClientError("a partner's client cannot hold the admin scope")
            values["scopes"] = " ".join(sorted(wanted))
        if grant_types is not None:
            wanted_grants = frozenset(grant_types)
            if not wanted_grants <= {CLIENT_CREDENTIALS} or (
                not widen and not wanted_grants <= frozenset(row.grant_types.split())
            ):
                raise ScopeWidening("a client cannot give itself other grant types")
            values["grant_types"] = " ".join(sorted(wanted_grants))
        if values:
            await conn.execute(
                update(oauth_clients).where(oauth_clients.c.client_id == client_id).values(values)
            )


async def _active_row(conn: Any, client_id: str) -> Any:
    query = select(oauth_clients).where(
        oauth_clients.c.client_id == client_id, oauth_clients.c.status == "ACTIVE"
    )
    return (await conn.execute(query)).first()


async def _active(conn: Any, client_id: str) -> Any:
    row = await _active_row(conn, client_id)
    if row is None:
        raise ClientError(f"no active client {client_id!r}")
    return row
