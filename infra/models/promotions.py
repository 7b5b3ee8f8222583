"""Promotions: coupon templates and the coupons issued from them; campaigns and their awards."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKeyConstraint, Index, Table, UniqueConstraint, false

from infra.models.base import (
    ZERO,
    chars,
    member_row,
    metadata,
    moment,
    money,
    rate,
    ref,
    serial,
    whole,
)
from infra.types import Id

# What a coupon gives and where it may be used; coupons are issued from a template.
coupon_templates = Table(
    "coupon_templates",
    metadata,
    serial(),
    chars("code", 64, unique=True),
    chars("name", 200),
    # AMOUNT_OFF (amount_off, from threshold), PERCENT_OFF (percent_off, up to max_discount) or
    # FREE_ITEM (the reward, taken without points).
    chars("kind", 16),
    ref("reward_id", "rewards", optional=True),
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
    *member_row("coupons"),
    # Unguessable: what a member shows at a till; unique across members through member_keys.
    chars("code", 24),
    ref("template_id", "coupon_templates"),
    # Why it was issued, once per template and member (enrolment, purchase:<id>, an operator's
    # idempotency key, ...).
    chars("issue_key", 200),
    chars("state", 16),
    moment("issued_at"),
    moment("valid_from"),
    moment("valid_until"),
    # (No foreign keys: a merge moves purchases and redemptions to another member, not coupons.)
    Column("purchase_id", Id, nullable=True),
    # The reward redemption a FREE_ITEM coupon was used for.
    Column("redemption_id", Id, nullable=True),
    money("discount", optional=True),
    moment("redeemed_at", optional=True),
    # When coupon.expiring was announced for it (once).
    moment("expiry_announced_at", optional=True),
    moment("updated_at"),
    UniqueConstraint(
        "template_id", "member_id", "issue_key", name="uq_coupons_template_id_member_issue_key"
    ),
    UniqueConstraint("member_id", "code", name="uq_coupons_member_id_code"),
)

Index("ix_coupons_code", coupons.c.code)
Index("ix_coupons_purchase_id", coupons.c.purchase_id)

# A time-boxed rule: when (dates, a monthly day in the program's time zone), for whom (tiers,
# channels, partners) and what (a multiplier on base points, bonus points, a coupon).
campaigns = Table(
    "campaigns",
    metadata,
    serial(),
    chars("code", 64, unique=True),
    chars("name", 200),
    # Higher first; an exclusive campaign applies alone, and only if it comes first.
    whole("priority", server_default=ZERO),
    Column("exclusive", Boolean, nullable=False, server_default=false()),
    moment("starts_at"),
    moment("ends_at"),
    # Only on this day of each month (1-31), in the program's time zone.
    whole("monthly_day", optional=True),
    # Comma-separated audiences (NULL: everyone): tiers, channels, partner ids.
    chars("tiers", 64, optional=True),
    chars("channels", 64, optional=True),
    chars("partner_ids", 255, optional=True),
    # Lifecycles (NEW, ACTIVE, DORMANT, AT_RISK) and spend and frequency bands (LOW, MID,
    # HIGH) of the member when it buys.
    chars("lifecycles", 64, optional=True),
    chars("spend_bands", 32, optional=True),
    chars("frequency_bands", 32, optional=True),
    # Base points x multiplier, plus bonus points per purchase; and a coupon of this template.
    # (No server default: a Rate is stored as 1e-8 units on SQLite.)
    rate("multiplier"),
    whole("bonus_points", server_default=ZERO),
    ref("coupon_template_id", "coupon_templates", optional=True),
    # The most points its awards may add up to; what they add up to so far.
    whole("points_budget", optional=True),
    whole("points_awarded", server_default=ZERO),
    # Coupon grants skipped (the template was exhausted or ended): a promotion never stops a
    # sale, so the purchase records without it and this counts it.
    whole("coupons_skipped", server_default=ZERO),
    # Who pays for its points: this partner, or the program (NULL).
    ref("funded_by_partner_id", "partners", optional=True),
    chars("status", 16),
    chars("request_hash", 64),
    moment("created_at"),
    moment("updated_at"),
)

# The points a campaign added to a purchase, and how many of them refunds took back.
campaign_awards = Table(
    "campaign_awards",
    metadata,
    *member_row("campaign_awards"),
    ref("campaign_id", "campaigns"),
    Column("purchase_id", Id, nullable=False),
    whole("points"),
    whole("points_reversed", server_default=ZERO),
    moment("created_at"),
    # Why the campaign's coupon was not granted with this purchase (TOTAL_LIMIT, ...), if not.
    chars("coupon_skipped", 32, optional=True),
    UniqueConstraint(
        "member_id", "campaign_id", "purchase_id", name="uq_campaign_awards_campaign_purchase"
    ),
    ForeignKeyConstraint(
        ["member_id", "purchase_id"],
        ["purchases.member_id", "purchases.id"],
        name="fk_campaign_awards_purchase_id_purchases",
    ),
)

Index("ix_campaign_awards_purchase_id", campaign_awards.c.purchase_id)

# A benefit given to a member once per period (a membership year, a calendar year, once).
benefit_grants = Table(
    "benefit_grants",
    metadata,
    *member_row("benefit_grants"),
    chars("benefit", 64),
    chars("period", 32),
    # The coupon a COUPON_GRANT benefit issued.
    Column("coupon_id", Id, nullable=True),
    moment("granted_at"),
    ForeignKeyConstraint(
        ["member_id", "coupon_id"],
        ["coupons.member_id", "coupons.id"],
        name="fk_benefit_grants_coupon_id_coupons",
    ),
    UniqueConstraint("member_id", "benefit", "period", name="uq_benefit_grants_member_benefit"),
)
