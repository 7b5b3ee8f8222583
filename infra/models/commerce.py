"""Purchases and refunds, the reward catalog, and redemptions."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
    text,
)

from infra.models.base import KEY_LENGTH, ZERO, metadata
from infra.types import Id, Money, UtcDateTime

purchases = Table(
    "purchases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("source", String(100), nullable=False),
    Column("external_order_id", String(200), nullable=False),
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("points_earned", BigInteger, nullable=False),
    Column("refunded_amount", Money, nullable=False, server_default=ZERO),
    # Points the refunds so far were due to reverse (some may have been unrecoverable).
    Column("points_reversed", BigInteger, nullable=False, server_default=ZERO),
    # Of points_earned, the tier bonus; the tier in force when the purchase was recorded.
    Column("bonus_points", BigInteger, nullable=False, server_default=ZERO),
    Column("tier", String(16), nullable=True),
    Column("growth_value", BigInteger, nullable=False, server_default=ZERO),
    Column("growth_reversed", BigInteger, nullable=False, server_default=ZERO),
    # The referrer's share of this purchase, and how much of it refunds took back.
    Column("referrer_id", Id, ForeignKey("members.id"), nullable=True),
    Column("referral_points", BigInteger, nullable=False, server_default=ZERO),
    Column("referral_points_reversed", BigInteger, nullable=False, server_default=ZERO),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=True),
    Column("purchased_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("request_hash", String(64), nullable=False),
    # Whose order ids these are (auth.ownership.key_namespace): a partner cannot take, or
    # block, another partner's order ids.
    Column("namespace", String(24), nullable=False, server_default=text("''")),
    UniqueConstraint(
        "namespace", "source", "external_order_id", name="uq_purchases_namespace_source_order"
    ),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("refunded_amount <= amount", name="refund_within_amount"),
)

Index("ix_purchases_member_id_id", purchases.c.member_id, purchases.c.id)

Index("ix_purchases_member_id_purchased_at", purchases.c.member_id, purchases.c.purchased_at)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("purchase_id", Id, ForeignKey("purchases.id"), nullable=False, index=True),
    Column("idempotency_key", String(KEY_LENGTH), nullable=False, unique=True),
    Column("amount", Money, nullable=False),
    Column("points_reversed", BigInteger, nullable=False),
    Column("points_unrecovered", BigInteger, nullable=False),
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    Column("referral_points_reversed", BigInteger, nullable=False, server_default=ZERO),
    Column("request_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

rewards = Table(
    "rewards",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", String(2000), nullable=False, server_default=""),
    Column("point_cost", BigInteger, nullable=False),
    # NULL: unlimited. Decremented by a conditional UPDATE, so never below zero.
    Column("stock", BigInteger, nullable=True),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=True),
    Column("status", String(16), nullable=False, server_default="ACTIVE"),
    Column("request_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("point_cost > 0", name="point_cost_positive"),
    CheckConstraint("stock >= 0", name="stock_not_negative"),
)

redemptions = Table(
    "redemptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False, index=True),
    Column("idempotency_key", String(KEY_LENGTH), nullable=False, unique=True),
    Column("points", BigInteger, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=True),
    Column("reference", String(200), nullable=True),
    Column("status", String(16), nullable=False),
    Column("reward_id", Id, ForeignKey("rewards.id"), nullable=True),
    Column("quantity", BigInteger, nullable=False, server_default=text("1")),
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=False),
    Column("cancel_transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime, nullable=True),
)
