"""OAuth clients, their secrets, signing keys and issued tokens; the audit log; registered
(persisted) operations."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

from infra.models.base import chars, metadata, moment, ref, serial, whole
from infra.types import Encrypted, Id

# OAuth clients of the authorization server: a partner's, or internal (partner_id NULL).
oauth_clients = Table(
    "oauth_clients",
    metadata,
    serial(),
    chars("client_id", 64, unique=True),
    chars("name", 200),
    ref("partner_id", "partners", optional=True),
    # Space-separated, as OAuth writes them.
    chars("scopes", 500),
    chars("grant_types", 200),
    chars("status", 16, server_default="ACTIVE"),
    # RFC 7592: the hash of the registration access token that manages this registration.
    chars("registration_token_hash", 64, optional=True),
    moment("created_at"),
    moment("revoked_at", optional=True),
)

# Secrets are stored as SHA-256 hashes only (they are 256-bit random, so a slow hash adds
# nothing). Two may be active while a rotation is under way: the old one until `expires_at`.
client_secrets = Table(
    "client_secrets",
    metadata,
    serial(),
    Column("client_id", String(64), ForeignKey("oauth_clients.client_id"), nullable=False),
    chars("secret_hash", 64),
    moment("created_at"),
    moment("expires_at", optional=True),
)

Index("ix_client_secrets_client_id", client_secrets.c.client_id)

# Token signing keys. The newest unretired key signs; retired keys stay published in the JWKS
# until every token they signed has expired and caches have let go of them.
signing_keys = Table(
    "signing_keys",
    metadata,
    chars("kid", 64, primary_key=True),
    Column("private_jwk", Encrypted(8000, "signing_keys.private_jwk"), nullable=False),
    moment("created_at"),
    moment("retired_at", optional=True),
)

# Every access token the server issued, by its jti: introspection and revocation read it.
issued_tokens = Table(
    "issued_tokens",
    metadata,
    chars("jti", 64, primary_key=True),
    chars("client_id", 64, index=True),
    chars("subject", 200),
    chars("scope", 500),
    moment("issued_at"),
    moment("expires_at"),
    moment("revoked_at", optional=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    serial(),
    moment("at"),
    chars("principal_kind", 16),
    chars("subject", 200),
    chars("client_id", 64, optional=True),
    Column("partner_id", Id, nullable=True),
    # e.g. token.issue, client.create, client.revoke, mutation.recordPurchase
    chars("action", 64),
    chars("target", 200, optional=True),
    chars("outcome", 32),
    chars("trace_id", 32, optional=True),
)

Index("ix_audit_log_action_id", audit_log.c.action, audit_log.c.id)

# Allow-list mode: the operations clients may run, by the sha256 of their document.
registered_operations = Table(
    "registered_operations",
    metadata,
    Column("sha256", String(64), primary_key=True),
    chars("name", 200, optional=True),
    chars("document", 100_000),
    moment("created_at"),
)

# People who use the console (gateway/console): the program's operators and partners' staff.
# An operator invites them; the invitation link sets the password (argon2), and sign-ins open
# sessions. Only hashes of the invitation and session tokens are stored.
console_users = Table(
    "console_users",
    metadata,
    serial(),
    # Lower-cased.
    chars("email", 254, unique=True),
    # OPERATOR or PARTNER_STAFF (of partner_id).
    chars("role", 16),
    ref("partner_id", "partners", optional=True),
    chars("password_hash", 200, optional=True),
    chars("invitation_hash", 64, optional=True, unique=True),
    moment("invitation_expires_at", optional=True),
    chars("invited_by", 120),
    moment("created_at"),
    moment("activated_at", optional=True),
    moment("disabled_at", optional=True),
    # The optional second factor: a TOTP secret (RFC 6238), sealed, and the last time step a
    # code was accepted for (a code is good once).
    Column("totp_secret", Encrypted(400, "console_users.totp_secret"), nullable=True),
    whole("totp_last_step", optional=True),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    chars("token_hash", 64, primary_key=True),
    ref("user_id", "console_users", index=True),
    # Every form of the session carries it (CSRF).
    chars("csrf_token", 64),
    moment("created_at"),
    moment("expires_at"),
    # Signed out (or revoked by an operator): the cookie no longer opens anything.
    moment("revoked_at", optional=True),
)
