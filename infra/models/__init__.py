"""Tables, one module per domain. Alembic migrations create them; a test checks the migrations
match these definitions."""

from enum import StrEnum

from infra.models.access import (
    audit_log,
    client_secrets,
    console_sessions,
    console_users,
    issued_tokens,
    oauth_clients,
    registered_operations,
    signing_keys,
)
from infra.models.base import KEY_LENGTH, metadata
from infra.models.commerce import purchases, redemptions, refunds, rewards
from infra.models.ledger import (
    PROGRAM_ACCOUNTS,
    accounts,
    ledger_accounts,
    live_events,
    lot_draws,
    point_lots,
    transfers,
)
from infra.models.members import (
    consents,
    data_consents,
    growth_buckets,
    identities,
    interactions,
    member_keys,
    members,
    partner_reads,
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


class Role(StrEnum):
    """Where a table lives when Pointgate runs sharded by member (Citus; docs/scaling.md)."""

    # Spread by member_id (members: by id), each member's rows together: every key and unique
    # constraint includes member_id, every foreign key to another such table too.
    DISTRIBUTED = "distributed"
    # Spread by their own key: what must be unique across members (member_keys).
    LOOKUP = "lookup"
    # The program's and partners' own rows, small, copied to every node.
    REFERENCE = "reference"
    # Kept on the coordinator only: logs and counters no member's row refers to.
    LOCAL = "local"


ROLES: dict[str, Role] = {
    **dict.fromkeys(
        ("members", "accounts", "identities", "consents", "data_consents", "interactions",
         "growth_buckets", "tier_changes", "purchases", "refunds", "redemptions", "transfers",
         "point_lots", "lot_draws", "quotes", "exchanges", "exchange_events", "coupons",
         "campaign_awards", "benefit_grants", "statement_transfers", "partner_reads"),
        Role.DISTRIBUTED,
    ),
    "member_keys": Role.LOOKUP,
    **dict.fromkeys(
        ("partners", "ledger_accounts", "exchange_terms", "rate_cards", "rewards",
         "coupon_templates", "campaigns", "oauth_clients", "client_secrets",
         "webhook_subscriptions", "statements", "statement_lines", "registered_operations",
         "signing_keys"),
        Role.REFERENCE,
    ),
    **dict.fromkeys(
        ("audit_log", "issued_tokens", "api_usage", "webhook_deliveries", "console_users",
         "console_sessions", "live_events"),
        Role.LOCAL,
    ),
}  # fmt: skip

__all__ = [
    "KEY_LENGTH",
    "PROGRAM_ACCOUNTS",
    "ROLES",
    "Role",
    "accounts",
    "api_usage",
    "audit_log",
    "benefit_grants",
    "campaign_awards",
    "campaigns",
    "client_secrets",
    "consents",
    "console_sessions",
    "console_users",
    "coupon_templates",
    "coupons",
    "data_consents",
    "exchange_events",
    "exchange_terms",
    "exchanges",
    "growth_buckets",
    "identities",
    "interactions",
    "issued_tokens",
    "ledger_accounts",
    "live_events",
    "lot_draws",
    "member_keys",
    "members",
    "metadata",
    "oauth_clients",
    "partner_reads",
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
