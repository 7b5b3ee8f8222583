"""Rate cards, API usage and settlement statements."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)

from infra.models.base import chars, metadata, moment, money, rate, ref, serial, whole
from infra.types import Id

# Dated commission and fee terms per partner (amounts in its settlement currency); each event is
# priced with the card in force on its date.
rate_cards = Table(
    "rate_cards",
    metadata,
    serial(),
    ref("partner_id", "partners", index=True),
    rate("point_value"),
    rate("issuance_cost_per_point"),
    rate("redemption_commission_percent"),
    rate("outbound_unit_price"),
    rate("exchange_commission_percent"),
    money("platform_fee_monthly"),
    rate("api_transaction_fee"),
    moment("valid_from"),
    moment("valid_to", optional=True),
    moment("created_at"),
)

# The GraphQL operations a partner's clients made, counted per client and minute: settlement
# bills them (partners.settlement.usage keeps the counts in memory and adds them every second).
api_usage = Table(
    "api_usage",
    metadata,
    ref("partner_id", "partners"),
    # '' for a partner principal without a client id
    chars("client_id", 64),
    moment("minute"),
    whole("calls"),
    PrimaryKeyConstraint("partner_id", "client_id", "minute", name="pk_api_usage"),
)

statements = Table(
    "statements",
    metadata,
    serial(),
    ref("partner_id", "partners"),
    # YYYY-MM in the partner's time zone.
    chars("period", 7),
    chars("status", 8),
    chars("currency", 3),
    money("payable_by_partner"),
    money("payable_by_program"),
    chars("inputs_hash", 64),
    moment("computed_at"),
    moment("closed_at", optional=True),
    UniqueConstraint("partner_id", "period", name="uq_statements_partner_id_period"),
)

statement_lines = Table(
    "statement_lines",
    metadata,
    serial(),
    ref("statement_id", "statements", index=True),
    whole("position"),
    chars("kind", 32),
    # PARTNER or PROGRAM: who pays this line.
    chars("payer", 8),
    ref("rate_card_id", "rate_cards", optional=True),
    # The closed period a late event belongs to, for ADJUSTMENT lines.
    chars("adjusts_period", 7, optional=True),
    money("quantity"),
    rate("unit_rate"),
    money("amount"),
    whole("transfer_count"),
    # The rate card's percentage behind a commission line (its unit rate is per point).
    rate("commission_percent", optional=True),
)

# The transfers behind each line of a CLOSED statement, frozen with it.
statement_transfers = Table(
    "statement_transfers",
    metadata,
    # The transfer's member: the link lives with the transfer.
    Column("member_id", Id, primary_key=True, autoincrement=False),
    Column("line_id", Id, ForeignKey("statement_lines.id"), primary_key=True),
    Column("transfer_id", Id, primary_key=True, autoincrement=False),
    # Points, or partner units for outbound exchanges: always whole.
    whole("quantity"),
    ForeignKeyConstraint(
        ["member_id", "transfer_id"],
        ["transfers.member_id", "transfers.id"],
        name="fk_statement_transfers_transfer_id_transfers",
    ),
)

Index("ix_statement_transfers_transfer_id", statement_transfers.c.transfer_id)
