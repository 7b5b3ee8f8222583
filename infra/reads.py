"""Batched reads the domain's read functions are built from: rows by id, rows per owner, and
pages per owner. Each is one SQL statement whatever the number of keys, so a dataloader batch
over any list costs the same number of statements."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

# (owner, first, after id or None): one page of an owner's rows, newest first.
PageKey = tuple[Hashable, int, int | None]


class KeyedRead(Protocol):
    async def __call__(
        self, conn: AsyncConnection, keys: Sequence[Any], visibility: Any = None
    ) -> list[Any]: ...


def keyed(
    columns: Sequence[Any],
    key: Any,
    *,
    visible: Callable[[Any], ColumnElement[bool]] | None = None,
    order_by: Sequence[Any] = (),
) -> KeyedRead:
    """A batched read: the rows whose `key` column is one of the keys, in one statement. Called
    with the caller's visibility (loyalty.visibility.Visibility), `visible` picks the condition
    from it, so rows the caller may not see load as missing; without one, every row."""

    async def read(conn: AsyncConnection, keys: Sequence[Any], visibility: Any = None) -> list[Any]:
        query = select(*columns).where(key.in_(keys)).order_by(*order_by)
        if visible is not None and visibility is not None:
            query = query.where(visible(visibility))
        return list(await conn.execute(query))

    return read


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
