"""Tables, one module per domain. Alembic migrations create them; a test checks the migrations
match these definitions."""

from infra.models.access import (
    audit_log,
    client_secrets,
    issued_tokens,
    oauth_clients,
    registered_operations,
    signing_keys,
)
from infra.models.base import KEY_LENGTH, metadata
from infra.models.commerce import purchases, redemptions, refunds, rewards
from infra.models.ledger import PROGRAM_ACCOUNTS, accounts, lot_draws, point_lots, transfers
from infra.models.members import (
    consents,
    growth_buckets,
    identities,
    interactions,
    members,
    tier_changes,
)
from infra.models.partners import (
    exchange_events,
    exchange_terms,
    exchanges,
    partners,
    quotes,
    webhook_deliveries,
    webhook_subscriptions,
)
from infra.models.promotions import (
    benefit_grants,
    campaign_awards,
    campaigns,
    coupon_templates,
    coupons,
)
from infra.models.settlement import (
    api_usage,
    rate_cards,
    statement_lines,
    statement_transfers,
    statements,
)

__all__ = [
    "KEY_LENGTH",
    "PROGRAM_ACCOUNTS",
    "accounts",
    "api_usage",
    "audit_log",
    "benefit_grants",
    "campaign_awards",
    "campaigns",
    "client_secrets",
    "consents",
    "coupon_templates",
    "coupons",
    "exchange_events",
    "exchange_terms",
    "exchanges",
    "growth_buckets",
    "identities",
    "interactions",
    "issued_tokens",
    "lot_draws",
    "members",
    "metadata",
    "oauth_clients",
    "partners",
    "point_lots",
    "purchases",
    "quotes",
    "rate_cards",
    "redemptions",
    "refunds",
    "registered_operations",
    "rewards",
    "signing_keys",
    "statement_lines",
    "statement_transfers",
    "statements",
    "tier_changes",
    "transfers",
    "webhook_deliveries",
    "webhook_subscriptions",
]
