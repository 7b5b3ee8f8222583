"""OAuth clients, their secrets, signing keys and issued tokens; the audit log; registered
(persisted) operations."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    String,
    Table,
)

from infra.models.base import metadata
from infra.types import Encrypted, Id, UtcDateTime

# OAuth clients of the authorization server: a partner's, or internal (partner_id NULL).
oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=True),
    # Space-separated, as OAuth writes them.
    Column("scopes", String(500), nullable=False),
    Column("grant_types", String(200), nullable=False),
    Column("status", String(16), nullable=False, server_default="ACTIVE"),
    # RFC 7592: the hash of the registration access token that manages this registration.
    Column("registration_token_hash", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

# Secrets are stored as SHA-256 hashes only (they are 256-bit random, so a slow hash adds
# nothing). Two may be active while a rotation is under way: the old one until `expires_at`.
client_secrets = Table(
    "client_secrets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("client_id", String(64), ForeignKey("oauth_clients.client_id"), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
)

Index("ix_client_secrets_client_id", client_secrets.c.client_id)

# Token signing keys. The newest unretired key signs; retired keys stay published in the JWKS
# until every token they signed has expired and caches have let go of them.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_jwk", Encrypted(8000, "signing_keys.private_jwk"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("retired_at", UtcDateTime, nullable=True),
)

# Every access token the server issued, by its jti: introspection and revocation read it.
issued_tokens = Table(
    "issued_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False, index=True),
    Column("subject", String(200), nullable=False),
    Column("scope", String(500), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("principal_kind", String(16), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("client_id", String(64), nullable=True),
    Column("partner_id", Id, nullable=True),
    # e.g. token.issue, client.create, client.revoke, mutation.recordPurchase
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("trace_id", String(32), nullable=True),
)

Index("ix_audit_log_action_id", audit_log.c.action, audit_log.c.id)

# Allow-list mode: the operations clients may run, by the sha256 of their document.
registered_operations = Table(
    "registered_operations",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("document", String(100_000), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
