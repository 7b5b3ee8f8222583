"""Rate cards, API usage and settlement statements."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
)

from infra.models.base import metadata
from infra.types import Id, Money, Rate, UtcDateTime

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
