"""How the ledger's commonest transfers are written on PostgreSQL, with statements built once.
A member earning (a SINGLE credit from a program or partner account) is one statement: the
transfer unless its key exists, the account's totals, and the lot it opens (data-modifying
CTEs). A member spending (a SINGLE or PENDING debit to one) is two: the transfer with the
account's totals, then the draws on the lots. loyalty.ledger.transfer does the same one step at
a time on SQLite. Finishing a member's held debits (an exchange's points and fee, posted or
voided) is one statement too (`finish_debits`, for loyalty.pending). Parameters of the first
two: the transfer's columns prefixed `new_` (apart from the accounts' columns, which an UPDATE
would otherwise set from same-named parameters) and `overdraft`."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from infra.models import accounts, lot_draws, point_lots, transfers
from loyalty import live

AVAILABLE = accounts.c.posted_credits - accounts.c.posted_debits - accounts.c.pending_debits


def _added_transfer() -> Any:
    """The transfer's INSERT as a CTE (no row: its key exists), for the one-statement paths."""
    return (
        pg_insert(transfers)
        .values({column: bindparam(f"new_{column}", type_=transfers.c[column].type) for column in (
            "member_id", "idempotency_key", "debit_account_id", "credit_account_id", "amount",
            "phase", "reason", "reference", "partner_id", "request_hash", "created_at")})
        .on_conflict_do_nothing()
        .returning(*transfers.c)
        .cte("added")
    )  # fmt: skip


@functools.cache
def debit_member(column: str) -> Any:
    """A SINGLE (`column` posted_debits) or PENDING (pending_debits) transfer out of a member's
    account: the transfer, and the account's totals if they cover the amount (plus
    `overdraft`). `account_member` NULL: refused (no account, or not enough points); no row: a
    replay. The lots are drawn by the next statement (`draw_lots`): this one may wait for the
    account's row lock, and its snapshot of the lots would be older than the lock."""
    added = _added_transfer()
    debited = (
        update(accounts)
        .where(accounts.c.member_id == added.c.member_id,
               AVAILABLE + bindparam("overdraft", type_=BigInteger) >= added.c.amount)
        .values({column: accounts.c[column] + added.c.amount})
        .returning(accounts.c.member_id, AVAILABLE.label("available"))
        .cte("debited")
    )  # fmt: skip
    heard = live.transfer_events(added, debited, debited.c.member_id, -added.c.amount,
                                 debited.c.available)  # fmt: skip
    return (
        select(*added.c, debited.c.member_id.label("account_member"))
        .select_from(added.outerjoin(debited, true()))
        .add_cte(heard)
    )


@functools.cache
def draw_lots() -> Any:
    """Draw `wanted` points for transfer `for_transfer` from member `owner`'s oldest open lots
    (as loyalty.lot.draw does), in one statement; run it under the account's row lock. (The
    parameters are named apart from the columns of the tables it writes.)"""
    order = (point_lots.c.earned_at, point_lots.c.id)
    open_lots = (
        select(point_lots.c.id, point_lots.c.remaining,
               (func.sum(point_lots.c.remaining).over(order_by=order)
                - point_lots.c.remaining).label("before"))
        .where(point_lots.c.member_id == bindparam("owner"), point_lots.c.remaining > 0)
        .cte("open_lots")
    )  # fmt: skip
    points = bindparam("wanted", type_=BigInteger)
    taken = (
        select(open_lots.c.id, func.least(open_lots.c.remaining, points - open_lots.c.before)
               .label("drawn"))
        .where(open_lots.c.before < points)
        .cte("taken")
    )  # fmt: skip
    drawn = (
        update(point_lots)
        .where(point_lots.c.member_id == bindparam("owner"), point_lots.c.id == taken.c.id)
        .values(remaining=point_lots.c.remaining - taken.c.drawn)
        .cte("drawn")
    )
    return (
        insert(lot_draws)
        .from_select(["member_id", "lot_id", "transfer_id", "points"],
                     select(bindparam("owner", type_=BigInteger), taken.c.id,
                            bindparam("for_transfer", type_=BigInteger), taken.c.drawn))
        .add_cte(drawn)
    )  # fmt: skip


@functools.cache
def credit_member() -> Any:
    """A SINGLE transfer into a member's account: the transfer, the account's totals, and the
    lot the credit opens (what does not only pay back a negative balance). `account_member`
    NULL: no such account; no row: a replay."""
    added = _added_transfer()
    credited = (
        update(accounts)
        .where(accounts.c.member_id == added.c.member_id)
        .values(posted_credits=accounts.c.posted_credits + added.c.amount)
        .returning(accounts.c.member_id, AVAILABLE.label("available"))
        .cte("credited")
    )
    opened = func.least(added.c.amount, func.greatest(0, credited.c.available))
    lot_opened = (
        insert(point_lots)
        .from_select(
            ["member_id", "transfer_id", "points", "remaining", "earned_at"],
            select(credited.c.member_id, added.c.id, opened, opened, added.c.created_at)
            .select_from(credited.join(added, true()))
            .where(opened > 0),
        )
        .cte("lot_opened")
    )  # fmt: skip
    heard = live.transfer_events(added, credited, credited.c.member_id, added.c.amount,
                                 credited.c.available)  # fmt: skip
    return (
        select(*added.c, credited.c.member_id.label("account_member"))
        .select_from(added.outerjoin(credited, true()))
        .add_cte(lot_opened, heard)
    )


@functools.cache
def finish_debits(phase: str) -> Any:
    """POST or VOID (`phase`) the PENDING transfers out of member `owner`'s account among
    `held` (ids; with `keys` and `hashes`, the finishing transfers' keys and request hashes, in
    the same order): the finishing transfers (by the held ids' order), the account's totals
    and, for a VOID, the lots the held points came from. No row for a held id: it is not such
    a transfer, or it was finished before (loyalty.pending looks at it alone)."""
    given = select(
        func.unnest(bindparam("held", type_=ARRAY(BigInteger))).label("id"),
        func.unnest(bindparam("keys", type_=ARRAY(String))).label("key"),
        func.unnest(bindparam("hashes", type_=ARRAY(String))).label("hash"),
    ).cte("given")
    owner = bindparam("owner", type_=BigInteger)
    held = (
        select(transfers, given.c.key, given.c.hash)
        .join(given, transfers.c.id == given.c.id)
        .where(transfers.c.member_id == owner, transfers.c.phase == "PENDING",
               transfers.c.debit_account_id == literal("member:") + cast(owner, String))
        .cte("held")
    )  # fmt: skip
    columns = ["member_id", "idempotency_key", "debit_account_id", "credit_account_id", "amount",
               "phase", "pending_id", "reason", "reference", "partner_id", "request_hash",
               "created_at"]  # fmt: skip
    added = (
        pg_insert(transfers)
        .from_select(columns, select(
            held.c.member_id, held.c.key, held.c.debit_account_id, held.c.credit_account_id,
            held.c.amount, literal(phase), held.c.id, held.c.reason, held.c.reference,
            held.c.partner_id, held.c.hash, bindparam("at", type_=transfers.c.created_at.type),
        ).order_by(held.c.id))
        .on_conflict_do_nothing()
        .returning(*transfers.c)
        .cte("added")
    )  # fmt: skip
    total = select(cast(func.sum(added.c.amount), BigInteger)).scalar_subquery()
    moved = {"pending_debits": accounts.c.pending_debits - total}
    if phase == "POST":
        moved["posted_debits"] = accounts.c.posted_debits + total
    changed = (
        update(accounts)
        .where(accounts.c.member_id == owner, select(added.c.id).exists())
        .values(moved)
        .returning(AVAILABLE.label("available"))
        .cte("changed")
    )
    back = added.c.amount if phase == "VOID" else literal(0)
    heard = live.transfer_events(added, changed, owner, back, changed.c.available)
    finished = select(*added.c).order_by(added.c.id).add_cte(changed, heard)
    if phase == "VOID":
        finished = finished.add_cte(_put_back(owner, added))
    return finished


def _put_back(owner: Any, added: Any) -> Any:
    """The lots the voided transfers drew from get their points back (loyalty.lot.put_back)."""
    drawn = (
        select(lot_draws.c.lot_id, cast(func.sum(lot_draws.c.points), BigInteger).label("points"))
        .where(lot_draws.c.member_id == owner,
               lot_draws.c.transfer_id.in_(select(added.c.pending_id)))
        .group_by(lot_draws.c.lot_id)
        .cte("drawn")
    )  # fmt: skip
    return (
        update(point_lots)
        .where(point_lots.c.member_id == owner, point_lots.c.id == drawn.c.lot_id)
        .values(remaining=point_lots.c.remaining + drawn.c.points)
        .cte("restored")
    )
