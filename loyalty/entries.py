"""A member's ledger as read: one row per (account, transfer) with the signed effect on the
account, in SQL that the loaders (`entry_pages`) and compiled operations (resolvers.compiled)
both read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import transfers
from infra.reads import PageKey, load_pages, top_n_per_owner
from loyalty.ledger import MEMBER_PREFIX, member_account
from loyalty.visibility import ALL, Visibility

ENTRY_COLUMNS = (
    transfers.c.id,
    transfers.c.partner_id,
    transfers.c.phase,
    transfers.c.reason,
    transfers.c.reference,
    transfers.c.pending_id,
    transfers.c.created_at,
)


def entries_for_accounts(
    account_ids: Any, visible: Any = ALL, newest: tuple[Any, Any] | None = None
) -> Any:
    """Transfers touching the given accounts (a list of ids, or one account as an SQL
    expression), one row per (account, transfer), with the signed effect on that account: the
    union of the two indexed sides (debit, credit), of the transfers `visible` lets through.
    `newest` (a count, and an id to read below or None): only that many newest of each side,
    each read backwards on its index, for one account's page."""

    def touching(column: Any) -> Any:
        return column.in_(account_ids) if isinstance(account_ids, list) else column == account_ids

    def side(query: Any) -> Any:
        if newest is None:
            return query
        count, below = newest
        query = query if below is None else query.where(transfers.c.id < below)
        return query.order_by(transfers.c.id.desc()).limit(count)

    debits = (
        select(
            transfers.c.debit_account_id.label("account_id"),
            (-transfers.c.amount).label("points"),
            transfers.c.credit_account_id.label("counterparty"),
            *ENTRY_COLUMNS,
        )
        .where(touching(transfers.c.debit_account_id), visible)
        .correlate_except(transfers)
    )
    credits = (
        select(
            transfers.c.credit_account_id.label("account_id"),
            transfers.c.amount.label("points"),
            transfers.c.debit_account_id.label("counterparty"),
            *ENTRY_COLUMNS,
        )
        .where(touching(transfers.c.credit_account_id), visible)
        .correlate_except(transfers)
    )
    return union_all(side(debits), side(credits)).subquery("entries")


def member_account_of(member_id: Any) -> ColumnElement[str]:
    """`member_account` in SQL, of a member id column."""
    return literal_column(f"'{MEMBER_PREFIX}'", String).concat(cast(member_id, String))


async def entry_pages(
    conn: AsyncConnection, keys: Sequence[PageKey], visible: Visibility
) -> list[list[Any]]:
    """Pages of members' ledger entries, newest first (keys: member id, first, after id); a
    caller limited to some transfers (`visible.transfers`: a partner's) sees only those."""

    def page_query(owners: list[str], limit: int, after: int | None) -> Select[Any]:
        entries = entries_for_accounts(owners, visible.transfers)
        inner = select(
            entries.c.account_id.label("owner"), *[c for c in entries.c if c.name != "account_id"]
        )
        if after is not None:
            inner = inner.where(entries.c.id < after)
        return top_n_per_owner(inner, entries.c.account_id, entries.c.id, limit)

    by_account = [(member_account(int(owner)), first, after) for owner, first, after in keys]  # type: ignore[call-overload]
    return await load_pages(conn, by_account, page_query)
