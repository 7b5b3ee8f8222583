"""Partners, their exchange terms, quotes, exchanges and webhooks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    UniqueConstraint,
    text,
)

from infra.models.base import (
    KEY_LENGTH,
    ZERO,
    chars,
    member_row,
    metadata,
    moment,
    money,
    ref,
    serial,
    whole,
)
from infra.types import Encrypted, Id

partners = Table(
    "partners",
    metadata,
    serial(),
    chars("code", 64, unique=True),
    chars("name", 200),
    chars("status", 16, server_default="ACTIVE"),
    moment("created_at"),
    chars("settlement_currency", 3, server_default="USD"),
    # How the gateway reaches the partner's program: SIMULATED (in process) or HTTP.
    chars("connector_kind", 16, server_default="SIMULATED"),
    chars("connector_url", 500, optional=True),
    # The shared secret that signs requests to the partner (HMAC); it must be readable to sign.
    Column("connector_secret", Encrypted(400, "partners.connector_secret"), nullable=True),
    # Settlement periods are calendar months in this IANA time zone.
    chars("timezone", 64, server_default="UTC"),
    # The scopes the partner's own staff may give the clients they register in the console
    # (space-separated; an operator sets them).
    chars("client_scopes", 500, server_default=""),
    # What the partner may fund (an operator sets them; loyalty.promotions.funding): the points
    # its running campaigns may award, and the money its running coupon templates may give.
    whole("campaign_points_limit", server_default=ZERO),
    money("coupon_budget_limit", server_default=ZERO),
)

# Dated exchange terms per partner and direction; the terms in force at quote time apply.
exchange_terms = Table(
    "exchange_terms",
    metadata,
    serial(),
    ref("partner_id", "partners"),
    # OUTBOUND: our points to the partner's program; INBOUND: the partner's units to our points.
    chars("direction", 8),
    # Program points per partner unit.
    money("rate"),
    whole("min_points"),
    whole("max_points"),
    whole("step_points"),
    whole("daily_cap_points"),
    whole("fee_points", server_default=ZERO),
    moment("valid_from"),
    moment("valid_to", optional=True),
    moment("created_at"),
    CheckConstraint("rate > 0", name="rate_positive"),
    CheckConstraint("min_points > 0 AND max_points >= min_points", name="min_max"),
    CheckConstraint("step_points > 0", name="step_positive"),
)

Index("ix_exchange_terms_partner_direction", exchange_terms.c.partner_id,
      exchange_terms.c.direction, exchange_terms.c.valid_from)  # fmt: skip


def exchanged() -> list[Any]:
    """What a quote locks and its exchange carries out: the direction, the points, the partner
    units at the rate, the fee and the member's account in the partner's program."""
    return [
        chars("direction", 8),
        whole("points"),
        whole("units"),
        money("rate"),
        whole("fee_points"),
        chars("external_account", 255),
    ]


quotes = Table(
    "quotes",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True, autoincrement=False),
    chars("id", 40, primary_key=True),
    ref("partner_id", "partners"),
    ref("terms_id", "exchange_terms"),
    *exchanged(),
    moment("created_at"),
    moment("expires_at"),
    # Who asked for the quote (auth.ownership.actor_key): only they may carry it out.
    chars("requested_by", 120, optional=True),
)

exchanges = Table(
    "exchanges",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True, autoincrement=False),
    # Our exchange id: the idempotency key of every call to the partner.
    chars("id", 40, primary_key=True),
    chars("idempotency_key", KEY_LENGTH),
    # A quote is used by one exchange at most (inbound exchanges have none).
    Column("quote_id", String(40), nullable=True),
    ref("partner_id", "partners"),
    *exchanged(),
    # REQUESTED, RESERVED, POSTED, VOIDED or UNKNOWN.
    chars("state", 16),
    Column("transfer_id", Id, nullable=True),
    Column("fee_transfer_id", Id, nullable=True),
    chars("partner_reference", 200, optional=True),
    chars("request_hash", 64),
    moment("created_at"),
    moment("updated_at"),
    UniqueConstraint("member_id", "idempotency_key", name="uq_exchanges_member_id_key"),
    UniqueConstraint("member_id", "quote_id", name="uq_exchanges_member_id_quote_id"),
    ForeignKeyConstraint(
        ["member_id", "quote_id"],
        ["quotes.member_id", "quotes.id"],
        name="fk_exchanges_quote_id_quotes",
    ),
    ForeignKeyConstraint(
        ["member_id", "transfer_id"],
        ["transfers.member_id", "transfers.id"],
        name="fk_exchanges_transfer_id_transfers",
    ),
    ForeignKeyConstraint(
        ["member_id", "fee_transfer_id"],
        ["transfers.member_id", "transfers.id"],
        name="fk_exchanges_fee_transfer_id_transfers",
    ),
)

Index("ix_exchanges_id", exchanges.c.id)
Index("ix_exchanges_idempotency_key", exchanges.c.idempotency_key)

Index("ix_exchanges_state_updated_at", exchanges.c.state, exchanges.c.updated_at)

Index("ix_exchanges_member_id_created_at", exchanges.c.member_id, exchanges.c.created_at)

exchange_events = Table(
    "exchange_events",
    metadata,
    *member_row("exchange_events", found_by_id=False),
    Column("exchange_id", String(40), nullable=False, index=True),
    chars("from_state", 16, optional=True),
    chars("to_state", 16),
    chars("reason", 200),
    moment("at"),
    ForeignKeyConstraint(
        ["member_id", "exchange_id"],
        ["exchanges.member_id", "exchanges.id"],
        name="fk_exchange_events_exchange_id_exchanges",
    ),
)

Index("ix_quotes_id", quotes.c.id)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    serial(),
    # The partner whose exchanges it hears; NULL: the program's own (member events for a CRM
    # or an app's push service, subscribed by an operator).
    ref("partner_id", "partners", index=True, optional=True),
    # Comma-separated events it wants (NULL: all of its kind).
    chars("events", 255, optional=True),
    chars("url", 500),
    Column("secret", Encrypted(400, "webhook_subscriptions.secret"), nullable=False),
    whole("active", server_default=text("1")),
    moment("created_at"),
)

# An outbox: deliveries are written in the transaction that changes the exchange, then sent.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    serial(),
    ref("subscription_id", "webhook_subscriptions"),
    chars("event", 64),
    chars("payload", 4000),
    # PENDING, DELIVERED or FAILED (gave up after the last attempt).
    chars("status", 16),
    whole("attempts", server_default=ZERO),
    moment("next_attempt_at"),
    chars("last_status", 64, optional=True),
    moment("created_at"),
    moment("delivered_at", optional=True),
)

Index("ix_webhook_deliveries_status_next", webhook_deliveries.c.status,
      webhook_deliveries.c.next_attempt_at)  # fmt: skip
