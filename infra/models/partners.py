"""Partners, their exchange terms, quotes, exchanges and webhooks."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    text,
)

from infra.models.base import KEY_LENGTH, ZERO, metadata
from infra.types import Encrypted, Id, Money, UtcDateTime

partners = Table(
    "partners",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False, server_default="ACTIVE"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("settlement_currency", String(3), nullable=False, server_default="USD"),
    # How the gateway reaches the partner's program: SIMULATED (in process) or HTTP.
    Column("connector_kind", String(16), nullable=False, server_default="SIMULATED"),
    Column("connector_url", String(500), nullable=True),
    # The shared secret that signs requests to the partner (HMAC); it must be readable to sign.
    Column("connector_secret", Encrypted(400, "partners.connector_secret"), nullable=True),
    # Settlement periods are calendar months in this IANA time zone.
    Column("timezone", String(64), nullable=False, server_default="UTC"),
)

# Dated exchange terms per partner and direction; the terms in force at quote time apply.
exchange_terms = Table(
    "exchange_terms",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False),
    # OUTBOUND: our points to the partner's program; INBOUND: the partner's units to our points.
    Column("direction", String(8), nullable=False),
    # Program points per partner unit.
    Column("rate", Money, nullable=False),
    Column("min_points", BigInteger, nullable=False),
    Column("max_points", BigInteger, nullable=False),
    Column("step_points", BigInteger, nullable=False),
    Column("daily_cap_points", BigInteger, nullable=False),
    Column("fee_points", BigInteger, nullable=False, server_default=ZERO),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("rate > 0", name="rate_positive"),
    CheckConstraint("min_points > 0 AND max_points >= min_points", name="min_max"),
    CheckConstraint("step_points > 0", name="step_positive"),
)

Index("ix_exchange_terms_partner_direction", exchange_terms.c.partner_id,
      exchange_terms.c.direction, exchange_terms.c.valid_from)  # fmt: skip

quotes = Table(
    "quotes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False),
    Column("terms_id", Id, ForeignKey("exchange_terms.id"), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("rate", Money, nullable=False),
    Column("fee_points", BigInteger, nullable=False),
    Column("external_account", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # Who asked for the quote (auth.ownership.actor_key): only they may carry it out.
    Column("requested_by", String(120), nullable=True),
)

exchanges = Table(
    "exchanges",
    metadata,
    # Our exchange id: the idempotency key of every call to the partner.
    Column("id", String(40), primary_key=True),
    Column("idempotency_key", String(KEY_LENGTH), nullable=False, unique=True),
    # A quote is used by one exchange at most (inbound exchanges have none).
    Column("quote_id", String(40), ForeignKey("quotes.id"), nullable=True, unique=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("rate", Money, nullable=False),
    Column("fee_points", BigInteger, nullable=False),
    Column("external_account", String(255), nullable=False),
    # REQUESTED, RESERVED, POSTED, VOIDED or UNKNOWN.
    Column("state", String(16), nullable=False),
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    Column("fee_transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    Column("partner_reference", String(200), nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

Index("ix_exchanges_state_updated_at", exchanges.c.state, exchanges.c.updated_at)

Index("ix_exchanges_member_id_created_at", exchanges.c.member_id, exchanges.c.created_at)

exchange_events = Table(
    "exchange_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("exchange_id", String(40), ForeignKey("exchanges.id"), nullable=False, index=True),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False, index=True),
    Column("url", String(500), nullable=False),
    Column("secret", Encrypted(400, "webhook_subscriptions.secret"), nullable=False),
    Column("active", BigInteger, nullable=False, server_default=text("1")),
    Column("created_at", UtcDateTime, nullable=False),
)

# An outbox: deliveries are written in the transaction that changes the exchange, then sent.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscription_id", Id, ForeignKey("webhook_subscriptions.id"), nullable=False),
    Column("event", String(64), nullable=False),
    Column("payload", String(4000), nullable=False),
    # PENDING, DELIVERED or FAILED (gave up after the last attempt).
    Column("status", String(16), nullable=False),
    Column("attempts", BigInteger, nullable=False, server_default=ZERO),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_status", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
)

Index("ix_webhook_deliveries_status_next", webhook_deliveries.c.status,
      webhook_deliveries.c.next_attempt_at)  # fmt: skip
