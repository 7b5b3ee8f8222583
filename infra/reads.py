"""Batched reads the domain's read functions are built from: rows by id, rows per owner, and
pages per owner. Each is one SQL statement whatever the number of keys, so a dataloader batch
over any list costs the same number of statements."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

# (owner, first, after id or None): one page of an owner's rows, newest first.
PageKey = tuple[Hashable, int, int | None]


async def rows_where_in(
    conn: AsyncConnection,
    columns: Sequence[Any],
    key: Any,
    keys: Sequence[Any],
    visible: ColumnElement[bool],
    order_by: Sequence[Any] = (),
) -> list[Any]:
    """The rows whose `key` column is one of `keys` and that `visible` admits."""
    query = select(*columns).where(key.in_(keys), visible)
    return list(await conn.execute(query.order_by(*order_by) if order_by else query))


def top_n_per_owner(inner: Select[Any], owner: Any, order_key: Any, limit: int) -> Select[Any]:
    """The `limit` newest rows of `inner` per owner (`inner` labels its owner column "owner")."""
    ranked = inner.add_columns(
        func.row_number().over(partition_by=owner, order_by=order_key.desc()).label("rank")
    ).subquery()
    return select(ranked).where(ranked.c.rank <= limit).order_by(ranked.c.owner, ranked.c.id.desc())


async def load_pages(
    conn: AsyncConnection,
    keys: Sequence[PageKey],
    page_query: Callable[[list[Any], int, int | None], Select[Any]],
) -> list[list[Any]]:
    """Each key's page (one row more than `first`, so the caller knows whether more follow),
    in key order: one windowed statement per distinct (first, after) pair, which for a list's
    pages is one statement for the whole list."""
    by_shape: dict[tuple[int, int | None], list[Any]] = defaultdict(list)
    for owner, first, after in keys:
        by_shape[(first, after)].append(owner)
    pages: dict[PageKey, list[Any]] = {}
    for (first, after), owners in by_shape.items():
        grouped = defaultdict(list)
        for row in await conn.execute(page_query(owners, first + 1, after)):
            grouped[row.owner].append(row)
        for owner in owners:
            pages[(owner, first, after)] = grouped.get(owner, [])
    return [pages[key] for key in keys]
