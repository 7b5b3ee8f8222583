"""The points ledger: accounts, transfers, expiry lots and their draws."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table

from infra.models.base import KEY_LENGTH, ZERO, chars, metadata, moment, ref, serial, whole

# Accounts are named as DESIGN.md writes them: member:<id>, program:issuance,
# partner:<id>:clearing. Only member accounts keep running totals (locked per row); program and
# partner totals are aggregated from transfers so no single row serialises every writer.
accounts = Table(
    "accounts",
    metadata,
    chars("id", 64, primary_key=True),
    ref("member_id", "members", optional=True, unique=True),
    ref("partner_id", "partners", optional=True),
    whole("posted_debits", server_default=ZERO),
    whole("posted_credits", server_default=ZERO),
    whole("pending_debits", server_default=ZERO),
    whole("pending_credits", server_default=ZERO),
)

transfers = Table(
    "transfers",
    metadata,
    serial(),
    chars("idempotency_key", KEY_LENGTH, unique=True),
    Column("debit_account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("credit_account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    whole("amount"),
    # SINGLE (posted at once), PENDING (held), POST or VOID (finishing the PENDING in pending_id).
    chars("phase", 8),
    # Unique: a pending transfer is posted or voided, never both and never twice.
    ref("pending_id", "transfers", optional=True, unique=True),
    chars("reason", 32),
    chars("reference", 200, optional=True),
    ref("partner_id", "partners", optional=True),
    chars("request_hash", 64),
    moment("created_at"),
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
    serial(),
    ref("member_id", "members"),
    # The credit that opened the lot (none for balances carried over by a migration).
    ref("transfer_id", "transfers", optional=True),
    whole("points"),
    whole("remaining"),
    moment("earned_at"),
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
    serial(),
    ref("lot_id", "point_lots"),
    ref("transfer_id", "transfers", index=True),
    whole("points"),
)

# The program's own accounts exist from the first migration on.
PROGRAM_ACCOUNTS = ("program:issuance", "program:redemption", "program:expired")
