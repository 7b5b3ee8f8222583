"""Purchases and refunds, the reward catalog, and redemptions."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Index, Table, UniqueConstraint, text

from infra.models.base import KEY_LENGTH, ZERO, chars, metadata, moment, money, ref, serial, whole

purchases = Table(
    "purchases",
    metadata,
    serial(),
    ref("member_id", "members"),
    chars("channel", 16),
    chars("source", 100),
    chars("external_order_id", 200),
    # What the member paid: what it earns on, and what refunds refund.
    money("amount"),
    # Before coupons took their discounts off (NULL: no coupon was applied).
    money("gross_amount", optional=True),
    chars("currency", 3),
    whole("points_earned"),
    money("refunded_amount", server_default=ZERO),
    # Points the refunds so far were due to reverse (some may have been unrecoverable).
    whole("points_reversed", server_default=ZERO),
    # Of points_earned, the tier bonus; the tier in force when the purchase was recorded.
    whole("bonus_points", server_default=ZERO),
    # Of points_earned, what campaigns added (campaign_awards, each with its own transfer).
    whole("campaign_points", server_default=ZERO),
    chars("tier", 16, optional=True),
    whole("growth_value", server_default=ZERO),
    whole("growth_reversed", server_default=ZERO),
    # The referrer's share of this purchase, and how much of it refunds took back.
    ref("referrer_id", "members", optional=True),
    whole("referral_points", server_default=ZERO),
    whole("referral_points_reversed", server_default=ZERO),
    ref("partner_id", "partners", optional=True),
    moment("purchased_at"),
    moment("recorded_at"),
    chars("request_hash", 64),
    # Whose order ids these are (auth.ownership.key_namespace): a partner cannot take, or
    # block, another partner's order ids.
    chars("namespace", 24, server_default=text("''")),
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
    serial(),
    ref("purchase_id", "purchases", index=True),
    chars("idempotency_key", KEY_LENGTH, unique=True),
    money("amount"),
    whole("points_reversed"),
    whole("points_unrecovered"),
    ref("transfer_id", "transfers", optional=True),
    whole("referral_points_reversed", server_default=ZERO),
    chars("request_hash", 64),
    moment("created_at"),
)

rewards = Table(
    "rewards",
    metadata,
    serial(),
    chars("code", 64, unique=True),
    chars("name", 200),
    chars("description", 2000, server_default=""),
    whole("point_cost"),
    # NULL: unlimited. Decremented by a conditional UPDATE, so never below zero.
    whole("stock", optional=True),
    ref("partner_id", "partners", optional=True),
    chars("status", 16, server_default="ACTIVE"),
    chars("request_hash", 64),
    moment("created_at"),
    moment("updated_at"),
    CheckConstraint("point_cost > 0", name="point_cost_positive"),
    CheckConstraint("stock >= 0", name="stock_not_negative"),
)

redemptions = Table(
    "redemptions",
    metadata,
    serial(),
    ref("member_id", "members", index=True),
    chars("idempotency_key", KEY_LENGTH, unique=True),
    whole("points"),
    chars("channel", 16),
    ref("partner_id", "partners", optional=True),
    chars("reference", 200, optional=True),
    chars("status", 16),
    ref("reward_id", "rewards", optional=True),
    whole("quantity", server_default=text("1")),
    # NULL for a reward taken with a free-item coupon: no points moved.
    ref("transfer_id", "transfers", optional=True),
    ref("cancel_transfer_id", "transfers", optional=True),
    chars("request_hash", 64),
    moment("created_at"),
    moment("cancelled_at", optional=True),
)
