"""Tables. Alembic migrations create them; a test checks the migrations match these definitions."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)

from infra.types import Encrypted, Id, Money, Rate, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ZERO = text("0")
# A caller's idempotency key (at most 200 characters) with its namespace and a prefix.
KEY_LENGTH = 240

partners = Table(
    "partners",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False, server_default="ACTIVE"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("settlement_currency", String(3), nullable=False, server_default="USD"),
    # How the gateway reaches the partner's program: SIMULATED (in process) or HTTP.
    Column("connector_kind", String(16), nullable=False, server_default="SIMULATED"),
    Column("connector_url", String(500), nullable=True),
    # The shared secret that signs requests to the partner (HMAC); it must be readable to sign.
    Column("connector_secret", Encrypted(400, "partners.connector_secret"), nullable=True),
    # Settlement periods are calendar months in this IANA time zone.
    Column("timezone", String(64), nullable=False, server_default="UTC"),
)

members = Table(
    "members",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("display_name", String(200), nullable=False),
    Column("tier", String(16), nullable=False, server_default="SILVER"),
    Column("status", String(16), nullable=False, server_default="ACTIVE"),
    Column("enrolled_at", UtcDateTime, nullable=False),
    # The enrollment's idempotency key and a hash of its input, to answer replays.
    Column("enrollment_key", String(KEY_LENGTH), nullable=True, unique=True),
    Column("request_hash", String(64), nullable=True),
    Column("referral_code", String(16), nullable=True, unique=True),
    Column("referred_by", Id, ForeignKey("members.id"), nullable=True, index=True),
    Column("referred_at", UtcDateTime, nullable=True),
    # The last membership anniversary at which the tier was re-evaluated.
    Column("tier_reviewed_at", UtcDateTime, nullable=True),
    # A merged member is a tombstone pointing at the member that absorbed it.
    Column("merged_into", Id, ForeignKey("members.id"), nullable=True),
    Column("merged_at", UtcDateTime, nullable=True),
)
Index("ix_members_tier_id", members.c.tier, members.c.id)

# Growth value from interactions (a review, a check-in, ...), once per idempotency key.
interactions = Table(
    "interactions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("idempotency_key", String(KEY_LENGTH), nullable=False, unique=True),
    Column("growth_value", BigInteger, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("request_hash", String(64), nullable=False),
)
Index("ix_interactions_member_id_occurred_at", interactions.c.member_id, interactions.c.occurred_at)

tier_changes = Table(
    "tier_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False, index=True),
    Column("from_tier", String(16), nullable=False),
    Column("to_tier", String(16), nullable=False),
    # UPGRADE (threshold reached), DOWNGRADE (anniversary review) or MERGE.
    Column("reason", String(16), nullable=False),
    Column("growth_value", BigInteger, nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("value", String(255), nullable=False),
    Column("linked_at", UtcDateTime, nullable=False),
    # For PARTNER_ACCOUNT identities: the partner whose program the account is in.
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=True),
    UniqueConstraint("kind", "value", name="uq_identities_kind_value"),
)
Index("ix_identities_partner_id_member_id", identities.c.partner_id, identities.c.member_id)

# A member's consent to be seen by a partner (besides holding an account in its program).
consents = Table(
    "consents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    UniqueConstraint("partner_id", "member_id", name="uq_consents_partner_id_member_id"),
)

# Accounts are named as DESIGN.md writes them: member:<id>, program:issuance,
# partner:<id>:clearing. Only member accounts keep running totals (locked per row); program and
# partner totals are aggregated from transfers so no single row serialises every writer.
accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=True, unique=True),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=True),
    Column("posted_debits", BigInteger, nullable=False, server_default=ZERO),
    Column("posted_credits", BigInteger, nullable=False, server_default=ZERO),
    Column("pending_debits", BigInteger, nullable=False, server_default=ZERO),
    Column("pending_credits", BigInteger, nullable=False, server_default=ZERO),
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(KEY_LENGTH), nullable=False, unique=True),
    Column("debit_account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("credit_account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    # SINGLE (posted at once), PENDING (held), POST or VOID (finishing the PENDING in pending_id).
    Column("phase", String(8), nullable=False),
    # Unique: a pending transfer is posted or voided, never both and never twice.
    Column("pending_id", Id, ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("reason", String(32), nullable=False),
    Column("reference", String(200), nullable=True),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
)
Index("ix_transfers_debit_account_id_id", transfers.c.debit_account_id, transfers.c.id)
Index("ix_transfers_credit_account_id_id", transfers.c.credit_account_id, transfers.c.id)
# Settlement reads a partner's transfers of a period.
Index("ix_transfers_partner_id_created_at", transfers.c.partner_id, transfers.c.created_at)

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

# Expiry lots: every posted credit to a member opens one; debits draw them down oldest first
# (recorded per lot in lot_draws, so voiding a held debit puts the points back in their lots).
point_lots = Table(
    "point_lots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    # The credit that opened the lot (none for balances carried over by a migration).
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    Column("points", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("earned_at", UtcDateTime, nullable=False),
    CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_within_points"),
)
Index(
    "ix_point_lots_member_id_earned_at",
    point_lots.c.member_id,
    point_lots.c.earned_at,
    point_lots.c.id,
)
Index("ix_point_lots_earned_at", point_lots.c.earned_at)

lot_draws = Table(
    "lot_draws",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("lot_id", Id, ForeignKey("point_lots.id"), nullable=False),
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=False, index=True),
    Column("points", BigInteger, nullable=False),
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

# OAuth clients of the authorization server: a partner's, or internal (partner_id NULL).
oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=True),
    # Space-separated, as OAuth writes them.
    Column("scopes", String(500), nullable=False),
    Column("grant_types", String(200), nullable=False),
    Column("status", String(16), nullable=False, server_default="ACTIVE"),
    # RFC 7592: the hash of the registration access token that manages this registration.
    Column("registration_token_hash", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

# Secrets are stored as SHA-256 hashes only (they are 256-bit random, so a slow hash adds
# nothing). Two may be active while a rotation is under way: the old one until `expires_at`.
client_secrets = Table(
    "client_secrets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("client_id", String(64), ForeignKey("oauth_clients.client_id"), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
)
Index("ix_client_secrets_client_id", client_secrets.c.client_id)

# Token signing keys. The newest unretired key signs; retired keys stay published in the JWKS
# until every token they signed has expired and caches have let go of them.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_jwk", Encrypted(8000, "signing_keys.private_jwk"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("retired_at", UtcDateTime, nullable=True),
)

# Every access token the server issued, by its jti: introspection and revocation read it.
issued_tokens = Table(
    "issued_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False, index=True),
    Column("subject", String(200), nullable=False),
    Column("scope", String(500), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("principal_kind", String(16), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("client_id", String(64), nullable=True),
    Column("partner_id", Id, nullable=True),
    # e.g. token.issue, client.create, client.revoke, mutation.recordPurchase
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("trace_id", String(32), nullable=True),
)
Index("ix_audit_log_action_id", audit_log.c.action, audit_log.c.id)

# Dated exchange terms per partner and direction; the terms in force at quote time apply.
exchange_terms = Table(
    "exchange_terms",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False),
    # OUTBOUND: our points to the partner's program; INBOUND: the partner's units to our points.
    Column("direction", String(8), nullable=False),
    # Program points per partner unit.
    Column("rate", Money, nullable=False),
    Column("min_points", BigInteger, nullable=False),
    Column("max_points", BigInteger, nullable=False),
    Column("step_points", BigInteger, nullable=False),
    Column("daily_cap_points", BigInteger, nullable=False),
    Column("fee_points", BigInteger, nullable=False, server_default=ZERO),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("rate > 0", name="rate_positive"),
    CheckConstraint("min_points > 0 AND max_points >= min_points", name="min_max"),
    CheckConstraint("step_points > 0", name="step_positive"),
)
Index("ix_exchange_terms_partner_direction", exchange_terms.c.partner_id,
      exchange_terms.c.direction, exchange_terms.c.valid_from)  # fmt: skip

quotes = Table(
    "quotes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False),
    Column("terms_id", Id, ForeignKey("exchange_terms.id"), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("rate", Money, nullable=False),
    Column("fee_points", BigInteger, nullable=False),
    Column("external_account", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # Who asked for the quote (auth.ownership.actor_key): only they may carry it out.
    Column("requested_by", String(120), nullable=True),
)

exchanges = Table(
    "exchanges",
    metadata,
    # Our exchange id: the idempotency key of every call to the partner.
    Column("id", String(40), primary_key=True),
    Column("idempotency_key", String(KEY_LENGTH), nullable=False, unique=True),
    # A quote is used by one exchange at most (inbound exchanges have none).
    Column("quote_id", String(40), ForeignKey("quotes.id"), nullable=True, unique=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("rate", Money, nullable=False),
    Column("fee_points", BigInteger, nullable=False),
    Column("external_account", String(255), nullable=False),
    # REQUESTED, RESERVED, POSTED, VOIDED or UNKNOWN.
    Column("state", String(16), nullable=False),
    Column("transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    Column("fee_transfer_id", Id, ForeignKey("transfers.id"), nullable=True),
    Column("partner_reference", String(200), nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_exchanges_state_updated_at", exchanges.c.state, exchanges.c.updated_at)
Index("ix_exchanges_member_id_created_at", exchanges.c.member_id, exchanges.c.created_at)

exchange_events = Table(
    "exchange_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("exchange_id", String(40), ForeignKey("exchanges.id"), nullable=False, index=True),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False, index=True),
    Column("url", String(500), nullable=False),
    Column("secret", Encrypted(400, "webhook_subscriptions.secret"), nullable=False),
    Column("active", BigInteger, nullable=False, server_default=text("1")),
    Column("created_at", UtcDateTime, nullable=False),
)

# An outbox: deliveries are written in the transaction that changes the exchange, then sent.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscription_id", Id, ForeignKey("webhook_subscriptions.id"), nullable=False),
    Column("event", String(64), nullable=False),
    Column("payload", String(4000), nullable=False),
    # PENDING, DELIVERED or FAILED (gave up after the last attempt).
    Column("status", String(16), nullable=False),
    Column("attempts", BigInteger, nullable=False, server_default=ZERO),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_status", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
)
Index("ix_webhook_deliveries_status_next", webhook_deliveries.c.status,
      webhook_deliveries.c.next_attempt_at)  # fmt: skip

# Dated commission and fee terms per partner (amounts in its settlement currency); each event is
# priced with the card in force on its date.
rate_cards = Table(
    "rate_cards",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False, index=True),
    Column("point_value", Rate, nullable=False),
    Column("issuance_cost_per_point", Rate, nullable=False),
    Column("redemption_commission_percent", Rate, nullable=False),
    Column("outbound_unit_price", Rate, nullable=False),
    Column("exchange_commission_percent", Rate, nullable=False),
    Column("platform_fee_monthly", Money, nullable=False),
    Column("api_transaction_fee", Rate, nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

# One row per GraphQL operation a partner's client makes: settlement bills them.
api_calls = Table(
    "api_calls",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False),
    Column("client_id", String(64), nullable=True),
    Column("at", UtcDateTime, nullable=False),
)
Index("ix_api_calls_partner_id_at", api_calls.c.partner_id, api_calls.c.at)

statements = Table(
    "statements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_id", Id, ForeignKey("partners.id"), nullable=False),
    # YYYY-MM in the partner's time zone.
    Column("period", String(7), nullable=False),
    Column("status", String(8), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payable_by_partner", Money, nullable=False),
    Column("payable_by_program", Money, nullable=False),
    Column("inputs_hash", String(64), nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    UniqueConstraint("partner_id", "period", name="uq_statements_partner_id_period"),
)

statement_lines = Table(
    "statement_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("statement_id", Id, ForeignKey("statements.id"), nullable=False, index=True),
    Column("position", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    # PARTNER or PROGRAM: who pays this line.
    Column("payer", String(8), nullable=False),
    Column("rate_card_id", Id, ForeignKey("rate_cards.id"), nullable=True),
    # The closed period a late event belongs to, for ADJUSTMENT lines.
    Column("adjusts_period", String(7), nullable=True),
    Column("quantity", Money, nullable=False),
    Column("unit_rate", Rate, nullable=False),
    Column("amount", Money, nullable=False),
    Column("transfer_count", BigInteger, nullable=False),
)

# The transfers behind each line of a CLOSED statement, frozen with it.
statement_transfers = Table(
    "statement_transfers",
    metadata,
    Column("line_id", Id, ForeignKey("statement_lines.id"), primary_key=True),
    Column("transfer_id", Id, ForeignKey("transfers.id"), primary_key=True),
    # Points, or partner units for outbound exchanges: always whole.
    Column("quantity", BigInteger, nullable=False),
)
Index("ix_statement_transfers_transfer_id", statement_transfers.c.transfer_id)

# Allow-list mode: the operations clients may run, by the sha256 of their document.
registered_operations = Table(
    "registered_operations",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("document", String(100_000), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# The program's own accounts exist from the first migration on.
PROGRAM_ACCOUNTS = ("program:issuance", "program:redemption", "program:expired")
