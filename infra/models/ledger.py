"""The points ledger: accounts, transfers, expiry lots and their draws."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
)

from infra.models.base import KEY_LENGTH, ZERO, metadata
from infra.types import Id, UtcDateTime

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

# The program's own accounts exist from the first migration on.
PROGRAM_ACCOUNTS = ("program:issuance", "program:redemption", "program:expired")
