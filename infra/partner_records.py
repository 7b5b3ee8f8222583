"""What a row of a partners', access or settlement table holds (infra.records: members,
points and promotions), for type checking."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol


class AuditEntryRow(Protocol):
    """A row of `audit_log`."""

    id: int
    at: datetime
    principal_kind: str
    subject: str
    client_id: str | None
    partner_id: int | None
    action: str
    target: str | None
    outcome: str
    trace_id: str | None


class ClientRow(Protocol):
    """A row of `oauth_clients`."""

    id: int
    client_id: str
    name: str
    partner_id: int | None
    scopes: str
    grant_types: str
    status: str
    registration_token_hash: str | None
    created_at: datetime
    revoked_at: datetime | None


class ConsoleUserRow(Protocol):
    """A row of `console_users`."""

    id: int
    email: str
    role: str
    partner_id: int | None
    password_hash: str | None
    invitation_hash: str | None
    invitation_expires_at: datetime | None
    invited_by: str
    created_at: datetime
    activated_at: datetime | None
    disabled_at: datetime | None
    totp_secret: str | None
    totp_last_step: int | None


class DeliveryRow(Protocol):
    """A row of `webhook_deliveries`."""

    id: int
    subscription_id: int
    event: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: str | None
    created_at: datetime
    delivered_at: datetime | None


class ExchangeRow(Protocol):
    """A row of `exchanges`."""

    member_id: int
    id: str
    idempotency_key: str
    quote_id: str | None
    partner_id: int
    direction: str
    points: int
    units: int
    rate: Decimal
    fee_points: int
    external_account: str
    state: str
    transfer_id: int | None
    fee_transfer_id: int | None
    partner_reference: str | None
    request_hash: str
    created_at: datetime
    updated_at: datetime


class ExchangeTermsRow(Protocol):
    """A row of `exchange_terms`."""

    id: int
    partner_id: int
    direction: str
    rate: Decimal
    min_points: int
    max_points: int
    step_points: int
    daily_cap_points: int
    fee_points: int
    valid_from: datetime
    valid_to: datetime | None
    created_at: datetime


class PartnerRow(Protocol):
    """A row of `partners`."""

    id: int
    code: str
    name: str
    status: str
    created_at: datetime
    settlement_currency: str
    connector_kind: str
    connector_url: str | None
    connector_secret: str | None
    timezone: str
    client_scopes: str
    campaign_points_limit: int
    coupon_budget_limit: Decimal


class QuoteRow(Protocol):
    """A row of `quotes`."""

    member_id: int
    id: str
    partner_id: int
    terms_id: int
    direction: str
    points: int
    units: int
    rate: Decimal
    fee_points: int
    external_account: str
    created_at: datetime
    expires_at: datetime
    requested_by: str | None


class RateCardRow(Protocol):
    """A row of `rate_cards`."""

    id: int
    partner_id: int
    point_value: Decimal
    issuance_cost_per_point: Decimal
    redemption_commission_percent: Decimal
    outbound_unit_price: Decimal
    exchange_commission_percent: Decimal
    platform_fee_monthly: Decimal
    api_transaction_fee: Decimal
    valid_from: datetime
    valid_to: datetime | None
    created_at: datetime


class StatementRow(Protocol):
    """A row of `statements`."""

    id: int
    partner_id: int
    period: str
    status: str
    currency: str
    payable_by_partner: Decimal
    payable_by_program: Decimal
    inputs_hash: str
    computed_at: datetime
    closed_at: datetime | None


class SubscriptionRow(Protocol):
    """A row of `webhook_subscriptions`."""

    id: int
    partner_id: int | None
    events: str | None
    url: str
    secret: str
    active: int
    created_at: datetime
