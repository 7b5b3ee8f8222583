"""Purchases and refunds, the reward catalog, and redemptions."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Table,
    UniqueConstraint,
    false,
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
from infra.types import Id

purchases = Table(
    "purchases",
    metadata,
    *member_row("purchases"),
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
    # The referrer's share of this purchase, and how much of it refunds took back. The
    # referrer is another member: its account is credited (and debited back) after the
    # purchase's (refund's) transaction, by loyalty.referral.settle_shares, which keeps what it
    # did in referral_paid (the share credited) and referral_reclaimed (of
    # referral_points_reversed, what it has taken back, or tried to); referral_pending marks a
    # purchase it has yet to see.
    Column("referrer_id", Id, nullable=True),
    whole("referral_points", server_default=ZERO),
    whole("referral_points_reversed", server_default=ZERO),
    whole("referral_paid", server_default=ZERO),
    whole("referral_reclaimed", server_default=ZERO),
    Column("referral_pending", Boolean, nullable=False, server_default=false()),
    ref("partner_id", "partners", optional=True),
    moment("purchased_at"),
    moment("recorded_at"),
    chars("request_hash", 64),
    # Whose order ids these are (auth.ownership.key_namespace): a partner cannot take, or
    # block, another partner's order ids.
    chars("namespace", 24, server_default=text("''")),
    # Unique across members too, through member_keys ("order:<namespace>/<source>/<id>").
    UniqueConstraint(
        "member_id",
        "namespace",
        "source",
        "external_order_id",
        name="uq_purchases_member_id_order",
    ),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("refunded_amount <= amount", name="refund_within_amount"),
)

Index(
    "ix_purchases_referral_pending",
    purchases.c.referral_pending,
    postgresql_where=purchases.c.referral_pending,
    sqlite_where=purchases.c.referral_pending,
)

Index("ix_purchases_member_id_purchased_at", purchases.c.member_id, purchases.c.purchased_at)

refunds = Table(
    "refunds",
    metadata,
    *member_row("refunds"),
    Column("purchase_id", Id, nullable=False, index=True),
    chars("idempotency_key", KEY_LENGTH),
    money("amount"),
    whole("points_reversed"),
    whole("points_unrecovered"),
    Column("transfer_id", Id, nullable=True),
    # The referrer's share this refund is due to take back (loyalty.referral.settle_shares
    # takes it, down to the program's negative balance limit).
    whole("referral_points_reversed", server_default=ZERO),
    chars("request_hash", 64),
    moment("created_at"),
    UniqueConstraint("member_id", "idempotency_key", name="uq_refunds_member_id_key"),
    ForeignKeyConstraint(
        ["member_id", "purchase_id"],
        ["purchases.member_id", "purchases.id"],
        name="fk_refunds_purchase_id_purchases",
    ),
)

Index("ix_refunds_idempotency_key", refunds.c.idempotency_key)

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
    *member_row("redemptions"),
    chars("idempotency_key", KEY_LENGTH),
    whole("points"),
    chars("channel", 16),
    ref("partner_id", "partners", optional=True),
    chars("reference", 200, optional=True),
    chars("status", 16),
    ref("reward_id", "rewards", optional=True),
    whole("quantity", server_default=text("1")),
    # NULL for a reward taken with a free-item coupon: no points moved. (No foreign keys: a
    # merge moves the redemption to another member, not its transfers.)
    Column("transfer_id", Id, nullable=True),
    Column("cancel_transfer_id", Id, nullable=True),
    chars("request_hash", 64),
    moment("created_at"),
    moment("cancelled_at", optional=True),
    UniqueConstraint("member_id", "idempotency_key", name="uq_redemptions_member_id_key"),
)

Index("ix_redemptions_idempotency_key", redemptions.c.idempotency_key)
