"""The points ledger: accounts, transfers, expiry lots and their draws."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    UniqueConstraint,
)

from infra.models.base import KEY_LENGTH, ZERO, chars, member_row, metadata, moment, ref, whole
from infra.types import Id

# Accounts are named as DESIGN.md writes them: member:<id>, program:issuance,
# partner:<id>:clearing. Only member accounts keep running totals (locked per row, one row per
# member); program and partner totals are aggregated from transfers so no single row
# serialises every writer, and their accounts are listed in ledger_accounts.
accounts = Table(
    "accounts",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True, autoincrement=False),
    chars("id", 64),
    whole("posted_debits", server_default=ZERO),
    whole("posted_credits", server_default=ZERO),
    whole("pending_debits", server_default=ZERO),
    whole("pending_credits", server_default=ZERO),
    CheckConstraint("id = 'member:' || member_id", name="named_for_member"),
)

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    chars("id", 64, primary_key=True),
    ref("partner_id", "partners", optional=True),
)

# Every transfer moves a member's points and lives with that member (member_id): one side is
# the member's account, the other a program or partner account (or, for a merge, the account
# of the member it merges). The accounts are named, not referenced: their rows live in two
# tables (accounts, ledger_accounts), and loyalty.ledger.verify checks the names.
transfers = Table(
    "transfers",
    metadata,
    *member_row("transfers"),
    chars("idempotency_key", KEY_LENGTH),
    chars("debit_account_id", 64),
    chars("credit_account_id", 64),
    whole("amount"),
    # SINGLE (posted at once), PENDING (held), POST or VOID (finishing the PENDING in pending_id).
    chars("phase", 8),
    # Unique: a pending transfer is posted or voided, never both and never twice.
    Column("pending_id", Id, nullable=True),
    chars("reason", 32),
    chars("reference", 200, optional=True),
    ref("partner_id", "partners", optional=True),
    chars("request_hash", 64),
    moment("created_at"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
    CheckConstraint(
        "debit_account_id = 'member:' || member_id OR credit_account_id = 'member:' || member_id",
        name="moves_its_member",
    ),
    UniqueConstraint("member_id", "idempotency_key", name="uq_transfers_member_id_key"),
    UniqueConstraint("member_id", "pending_id", name="uq_transfers_member_id_pending_id"),
    ForeignKeyConstraint(
        ["member_id", "pending_id"],
        ["transfers.member_id", "transfers.id"],
        name="fk_transfers_pending_id_transfers",
    ),
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
    *member_row("point_lots", found_by_id=False),
    # The credit that opened the lot (none for balances carried over by a migration); no
    # foreign key: a merge moves the lot to another member, not the transfer.
    Column("transfer_id", Id, nullable=True),
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
    *member_row("lot_draws", found_by_id=False),
    Column("lot_id", Id, nullable=False),
    # (No foreign key: a merge moves the lot and its draws, not the transfers that drew it.)
    Column("transfer_id", Id, nullable=False, index=True),
    whole("points"),
    ForeignKeyConstraint(
        ["member_id", "lot_id"],
        ["point_lots.member_id", "point_lots.id"],
        name="fk_lot_draws_lot_id_point_lots",
    ),
)

# The program's own accounts exist from the first migration on.
PROGRAM_ACCOUNTS = ("program:issuance", "program:redemption", "program:expired")

# What apps and partners may follow live (loyalty.live): written by the transaction that makes
# the change (inside the ledger's own statements where it can), heard by every process (a
# trigger NOTIFYs the row on PostgreSQL; SQLite processes poll by id), and kept a few minutes
# for subscribers that reconnect. No foreign keys: an outbox, pruned, that no row refers to.
live_events = Table(
    "live_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    moment("at"),
    chars("kind", 16),
    Column("member_id", Id, nullable=True),
    Column("partner_id", Id, nullable=True),
    # What changed: a transfer's or exchange's id, a statement's period, a coupon's id.
    chars("subject", 64, optional=True),
    # Its new state: a transfer's reason, an exchange's state, a tier, a benefit's code.
    chars("state", 64, optional=True),
    # A transfer's points from the member's side (negative when they leave its account), and
    # the member's available balance after it.
    whole("points", optional=True),
    whole("balance", optional=True),
    # The rest, as JSON text.
    Column("body", String(2000), nullable=True),
)

Index("ix_live_events_at", live_events.c.at)
