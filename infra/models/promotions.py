"""Promotions: coupon templates and the coupons issued from them."""

from __future__ import annotations

from sqlalchemy import Index, Table, UniqueConstraint

from infra.models.base import ZERO, chars, metadata, moment, money, rate, ref, serial, whole

# What a coupon gives and where it may be used; coupons are issued from a template.
coupon_templates = Table(
    "coupon_templates",
    metadata,
    serial(),
    chars("code", 64, unique=True),
    chars("name", 200),
    # AMOUNT_OFF (amount_off, from threshold) or PERCENT_OFF (percent_off, up to max_discount).
    chars("kind", 16),
    money("amount_off", optional=True),
    rate("percent_off", optional=True),
    money("max_discount", optional=True),
    money("threshold", server_default=ZERO),
    # Validity: fixed dates, or valid_hours from the moment a coupon is issued.
    moment("valid_from", optional=True),
    moment("valid_until", optional=True),
    whole("valid_hours", optional=True),
    # Comma-separated channels where it applies (NULL: every channel).
    chars("channels", 64, optional=True),
    # Valid only at this partner's purchases (NULL: anywhere).
    ref("partner_id", "partners", optional=True),
    # Who pays for the discount: this partner, or the program (NULL).
    ref("funded_by_partner_id", "partners", optional=True),
    whole("per_member_limit", optional=True),
    whole("total_limit", optional=True),
    # The most discount money all its coupons may give together.
    money("budget", optional=True),
    whole("issued_count", server_default=ZERO),
    whole("redeemed_count", server_default=ZERO),
    money("discount_total", server_default=ZERO),
    chars("status", 16),
    chars("request_hash", 64),
    moment("created_at"),
)

# One coupon of one member: ISSUED, then REDEEMED (by a purchase), EXPIRED or VOIDED.
coupons = Table(
    "coupons",
    metadata,
    serial(),
    # Unguessable: what a member shows at a till.
    chars("code", 24, unique=True),
    ref("template_id", "coupon_templates"),
    ref("member_id", "members"),
    # Why it was issued, once per template and member (enrolment, purchase:<id>, an operator's
    # idempotency key, ...).
    chars("issue_key", 200),
    chars("state", 16),
    moment("issued_at"),
    moment("valid_from"),
    moment("valid_until"),
    ref("purchase_id", "purchases", optional=True),
    money("discount", optional=True),
    moment("redeemed_at", optional=True),
    moment("updated_at"),
    UniqueConstraint(
        "template_id", "member_id", "issue_key", name="uq_coupons_template_id_member_issue_key"
    ),
)

Index("ix_coupons_member_id_id", coupons.c.member_id, coupons.c.id)
Index("ix_coupons_purchase_id", coupons.c.purchase_id)
