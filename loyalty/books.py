"""The ledger's books checked: the invariants every sequence of transfers, bulk loads and
expiry runs must keep (`verify`), for tests, the property tests and operators' checks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import accounts, ledger_accounts, transfers
from loyalty import lot
from loyalty.ledger import Phase


async def verify(conn: AsyncConnection, *, negative_limit: int = 0) -> list[str]:
    """The ledger's invariants; returns the violations found (an empty list when sound).

    Posted debits equal posted credits, outstanding pending likewise; every member account's
    stored totals equal the sum of its transfers; no member balance below -negative_limit; a
    member's open expiry lots add up to its available balance (zero when it is negative)."""
    sides = _sides()
    posted = sides.c.phase.in_([Phase.SINGLE, Phase.POST])
    finished = select(transfers.c.pending_id).where(transfers.c.pending_id.is_not(None))
    open_pending = and_(sides.c.phase == Phase.PENDING, sides.c.id.not_in(finished))
    sums = {
        "posted_debits": _total(sides.c.debit, posted),
        "posted_credits": _total(sides.c.credit, posted),
        "pending_debits": _total(sides.c.debit, open_pending),
        "pending_credits": _total(sides.c.credit, open_pending),
    }
    problems: list[str] = []
    totals = (await conn.execute(select(*sums.values()))).one()
    if totals[0] != totals[1]:
        problems.append(f"posted debits {totals[0]} != posted credits {totals[1]}")
    if totals[2] != totals[3]:
        problems.append(f"pending debits {totals[2]} != pending credits {totals[3]}")
    per_account = (
        select(sides.c.account_id, *(value.label(name) for name, value in sums.items()))
        .group_by(sides.c.account_id)
        .subquery()
    )
    known = union_all(select(accounts.c.id), select(ledger_accounts.c.id))
    unknown = await conn.scalars(
        select(sides.c.account_id).distinct().where(sides.c.account_id.not_in(known))
    )
    problems += [f"{name}: transfers name an account that does not exist" for name in unknown]
    return problems + await _check_accounts(conn, per_account, list(sums), negative_limit)


def _sides() -> Any:
    """Each transfer twice: once as its debit account's debit, once as its credit's credit."""
    return union_all(
        select(
            transfers.c.debit_account_id.label("account_id"), transfers.c.amount.label("debit"),
            (transfers.c.amount * 0).label("credit"), transfers.c.phase, transfers.c.id,
        ),
        select(
            transfers.c.credit_account_id.label("account_id"),
            (transfers.c.amount * 0).label("debit"), transfers.c.amount.label("credit"),
            transfers.c.phase, transfers.c.id,
        ),
    ).subquery()  # fmt: skip


def _total(column: Any, condition: Any) -> Any:
    return func.coalesce(func.sum(column).filter(condition), 0)


async def _check_accounts(
    conn: AsyncConnection, per_account: Any, names: list[str], negative_limit: int
) -> list[str]:
    """Each member account's stored totals against its transfers, its balance against the
    limit, and its open lots against its available balance."""
    problems: list[str] = []
    stored = await conn.execute(
        select(accounts, per_account).select_from(
            accounts.outerjoin(per_account, per_account.c.account_id == accounts.c.id)
        )
    )
    lots = {row.member_id: row.remaining for row in await lot.open_lot_totals(conn)}
    for row in stored:
        mapping = row._mapping
        for name in names:
            derived = mapping[per_account.c[name]] or 0
            if mapping[accounts.c[name]] != derived:
                problems.append(
                    f"{row.id}: stored {name} {mapping[accounts.c[name]]} != transfers {derived}"
                )
        available = row.posted_credits - row.posted_debits - row.pending_debits
        if available < -negative_limit:
            problems.append(f"{row.id}: available balance {available} below the limit")
        in_lots = lots.get(row.member_id, 0)
        if in_lots != max(0, available):
            problems.append(f"{row.id}: open lots hold {in_lots}, available is {available}")
    return problems
