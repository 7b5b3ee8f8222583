"""What a row of a table holds, for type checking: the domain's public reads and commands return
these records (SQLAlchemy's `Row`, read by attribute) instead of `Any`. One Protocol per table
a domain function returns, an attribute per column with the column's Python type (None when
nullable); tests/infra/test_records.py holds each to its table in infra.models, so a column
added or changed there fails until it is declared here too."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Protocol


class AccountRow(Protocol):
    """A row of `accounts`."""

    member_id: int
    id: str
    posted_debits: int
    posted_credits: int
    pending_debits: int
    pending_credits: int


class AwardRow(Protocol):
    """A row of `campaign_awards`."""

    member_id: int
    id: int
    campaign_id: int
    purchase_id: int
    points: int
    points_reversed: int
    created_at: datetime
    coupon_skipped: str | None


class CampaignRow(Protocol):
    """A row of `campaigns`."""

    id: int
    code: str
    name: str
    priority: int
    exclusive: bool
    starts_at: datetime
    ends_at: datetime
    monthly_day: int | None
    tiers: str | None
    channels: str | None
    partner_ids: str | None
    lifecycles: str | None
    spend_bands: str | None
    frequency_bands: str | None
    multiplier: Decimal
    bonus_points: int
    coupon_template_id: int | None
    points_budget: int | None
    points_awarded: int
    coupons_skipped: int
    funded_by_partner_id: int | None
    status: str
    request_hash: str
    created_at: datetime
    updated_at: datetime


class CouponRow(Protocol):
    """A row of `coupons`."""

    member_id: int
    id: int
    code: str
    template_id: int
    issue_key: str
    state: str
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    purchase_id: int | None
    redemption_id: int | None
    discount: Decimal | None
    redeemed_at: datetime | None
    expiry_announced_at: datetime | None
    updated_at: datetime


class CouponTemplateRow(Protocol):
    """A row of `coupon_templates`."""

    id: int
    code: str
    name: str
    kind: str
    reward_id: int | None
    amount_off: Decimal | None
    percent_off: Decimal | None
    max_discount: Decimal | None
    threshold: Decimal
    valid_from: datetime | None
    valid_until: datetime | None
    valid_hours: int | None
    channels: str | None
    partner_id: int | None
    funded_by_partner_id: int | None
    per_member_limit: int | None
    total_limit: int | None
    budget: Decimal | None
    issued_count: int
    redeemed_count: int
    discount_total: Decimal
    status: str
    request_hash: str
    created_at: datetime


class GrantRow(Protocol):
    """A row of `benefit_grants`."""

    member_id: int
    id: int
    benefit: str
    period: str
    coupon_id: int | None
    granted_at: datetime


class IdentityRow(Protocol):
    """A row of `identities`."""

    member_id: int
    id: int
    kind: str
    # E-mail and phone: a keyed hash; the value is in `sealed` (loyalty.sealing.shown).
    value: str
    sealed: str | None
    linked_at: datetime
    partner_id: int | None


class InteractionRow(Protocol):
    """A row of `interactions`."""

    member_id: int
    id: int
    kind: str
    idempotency_key: str
    growth_value: int
    occurred_at: datetime
    request_hash: str


class MemberRow(Protocol):
    """A row of `members`."""

    id: int
    display_name: str
    tier: str
    status: str
    enrolled_at: datetime
    enrollment_key: str | None
    request_hash: str | None
    referral_code: str | None
    referred_by: int | None
    referred_at: datetime | None
    tier_reviewed_at: datetime | None
    merged_into: int | None
    merged_at: datetime | None
    birth_date: date | None
    announced_lifecycle: str | None


class PurchaseRow(Protocol):
    """A row of `purchases`."""

    member_id: int
    id: int
    channel: str
    source: str
    external_order_id: str
    amount: Decimal
    gross_amount: Decimal | None
    currency: str
    points_earned: int
    refunded_amount: Decimal
    points_reversed: int
    bonus_points: int
    campaign_points: int
    tier: str | None
    growth_value: int
    growth_reversed: int
    referrer_id: int | None
    referral_points: int
    referral_points_reversed: int
    referral_paid: int
    referral_reclaimed: int
    referral_pending: bool
    partner_id: int | None
    purchased_at: datetime
    recorded_at: datetime
    request_hash: str
    namespace: str


class RedemptionRow(Protocol):
    """A row of `redemptions`."""

    member_id: int
    id: int
    idempotency_key: str
    points: int
    channel: str
    partner_id: int | None
    reference: str | None
    status: str
    reward_id: int | None
    quantity: int
    transfer_id: int | None
    cancel_transfer_id: int | None
    request_hash: str
    created_at: datetime
    cancelled_at: datetime | None


class RefundRow(Protocol):
    """A row of `refunds`."""

    member_id: int
    id: int
    purchase_id: int
    idempotency_key: str
    amount: Decimal
    points_reversed: int
    points_unrecovered: int
    transfer_id: int | None
    referral_points_reversed: int
    request_hash: str
    created_at: datetime


class RewardRow(Protocol):
    """A row of `rewards`."""

    id: int
    code: str
    name: str
    description: str
    point_cost: int
    stock: int | None
    partner_id: int | None
    status: str
    request_hash: str
    created_at: datetime
    updated_at: datetime


class TransferRow(Protocol):
    """A row of `transfers`."""

    member_id: int
    id: int
    idempotency_key: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    phase: str
    pending_id: int | None
    reason: str
    reference: str | None
    partner_id: int | None
    request_hash: str
    created_at: datetime
