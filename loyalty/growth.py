"""Growth value over the rolling window, read from per-month totals.

A member's growth value at `at` is the growth of its purchases (net of refunds) and interactions
in (at - window, at]. Every change of growth adds to the member's bucket of the event's UTC month
(`growth_buckets`) in the transaction that makes it, so the window is read from at most 13 rows
whatever the member's history. A bucket knows the first and last event time it counts: a month
the window covers whole is summed as is; a month it only partly covers (the one the window
starts in, holding events on both sides of the start, or a month with events after `at`) is
summed from its events. Growth is never negative, so the buckets alone bound the value from
below and above, and an upgrade check only reads events when those bounds straddle a threshold
or the tier changes."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ClauseElement

from infra import prepared
from infra.models import growth_buckets, interactions, members, purchases
from infra.types import MonthKey, UtcDateTime
from loyalty.program import Program


def month_key(at: datetime) -> int:
    at = at.astimezone(UTC)
    return at.year * 100 + at.month


def month_begin(key: int) -> datetime:
    return datetime(key // 100, key % 100, 1, tzinfo=UTC)


def month_after(key: int) -> int:
    return key + 1 if key % 100 < 12 else (key // 100 + 1) * 100 + 1


def window_start(program: Program, at: datetime) -> datetime:
    return at - relativedelta(months=program.growth_window_months)


@dataclass(frozen=True, slots=True)
class Window:
    """What a member's buckets say of its growth value at `at`: at least `lower`, at most
    `upper`, exactly `lower` when no bucket is only partly in the window."""

    member_id: int
    at: datetime
    lower: int
    upper: int
    partial: frozenset[int]

    @property
    def exact(self) -> bool:
        return not self.partial


# Statements built once per backend; their parameters: member, month, growth, at (the
# upsert), first and last (the months read).
_MONTHS = (growth_buckets.c.month >= bindparam("first")) & (
    growth_buckets.c.month <= bindparam("last")
)


@functools.cache
def _upsert(dialect_name: str) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    least, greatest = (func.least, func.greatest) if dialect is postgresql else (func.min, func.max)
    at = bindparam("at", type_=UtcDateTime())
    statement = dialect.insert(growth_buckets).values(
        member_id=bindparam("member"), month=bindparam("month"), growth=bindparam("growth"),
        first_at=at, last_at=at,
    )  # fmt: skip
    return statement.on_conflict_do_update(
        index_elements=[growth_buckets.c.member_id, growth_buckets.c.month],
        set_={
            "growth": growth_buckets.c.growth + statement.excluded.growth,
            "first_at": least(growth_buckets.c.first_at, statement.excluded.first_at),
            "last_at": greatest(growth_buckets.c.last_at, statement.excluded.last_at),
        },
    )


_READ = select(growth_buckets).where(growth_buckets.c.member_id == bindparam("member"), _MONTHS)


@functools.cache
def _upsert_and_read() -> Any:
    """PostgreSQL: the upsert in a CTE, and the months read, in one statement (the CTE's row
    stands for the month it changed: the rest of the statement sees the table as before)."""
    added = _upsert("postgresql").returning(*growth_buckets.c).cte("added")
    others = _READ.where(growth_buckets.c.month != select(added.c.month).scalar_subquery())
    mine = select(added).where(added.c.month >= bindparam("first"),
                               added.c.month <= bindparam("last"))  # fmt: skip
    return union_all(others, mine)


def _upsert_parameters(member_id: int, at: datetime, growth: int) -> dict[str, Any]:
    return {"member": member_id, "month": month_key(at), "growth": growth, "at": at}


async def add(conn: AsyncConnection, *, member_id: int, at: datetime, growth: int) -> None:
    """Count `growth` (negative: a refund taking it back) for an event at `at`."""
    await conn.execute(_upsert(conn.dialect.name), _upsert_parameters(member_id, at, growth))


def _buckets_in(member_ids: Sequence[int], start: datetime, at: datetime) -> Any:
    return select(growth_buckets).where(
        growth_buckets.c.member_id.in_(member_ids),
        growth_buckets.c.month >= month_key(start),
        growth_buckets.c.month <= month_key(at),
    )


async def window(
    conn: AsyncConnection,
    program: Program,
    member_id: int,
    at: datetime,
    *,
    adding: tuple[datetime, int] | None = None,
) -> Window:
    """The member's bounds at `at`; with `adding` (event time, growth), that growth is counted
    first. On PostgreSQL both are one statement (the upsert in a CTE)."""
    start = window_start(program, at)
    months = {"member": member_id, "first": month_key(start), "last": month_key(at)}
    if adding is not None and conn.dialect.name == "postgresql":
        parameters = {**months, **_upsert_parameters(member_id, *adding)}
        rows = await prepared.rows(conn, _upsert_and_read(), parameters)
    else:
        if adding is not None:
            await add(conn, member_id=member_id, at=adding[0], growth=adding[1])
        rows = list(await conn.execute(_READ, months))
    return _fold(rows, [member_id], start, at)[member_id]


def _fold(rows: Iterable[Any], member_ids: Sequence[int], start: datetime,
          at: datetime) -> dict[int, Window]:  # fmt: skip
    lower: dict[int, int] = defaultdict(int)
    upper: dict[int, int] = defaultdict(int)
    partial: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        if row.first_at > start and row.last_at <= at:  # every event inside
            lower[row.member_id] += row.growth
            upper[row.member_id] += row.growth
        elif row.last_at > start and row.first_at <= at:  # some inside, perhaps
            upper[row.member_id] += row.growth
            partial[row.member_id].add(row.month)
    return {m: Window(m, at, lower[m], upper[m], frozenset(partial[m])) for m in member_ids}


async def exact(
    conn: AsyncConnection, program: Program, windows: Sequence[Window]
) -> dict[int, int]:
    """Each window's exact growth value: its partly covered months summed from their events
    (one statement for all of them, none when every window is exact)."""
    values = {w.member_id: w.lower for w in windows}
    needing = [w for w in windows if w.partial]
    if not needing:
        return values
    at = needing[0].at
    start = window_start(program, at)
    months = sorted({m for w in needing for m in w.partial})
    wanted = {(w.member_id, m) for w in needing for m in w.partial}
    for member_id, when, growth in await _events(conn, [w.member_id for w in needing], start,
                                                  at, months):  # fmt: skip
        if (member_id, month_key(when)) in wanted:
            values[member_id] += growth
    return values


async def _events(conn: AsyncConnection, member_ids: list[int], start: datetime, at: datetime,
                  months: list[int]) -> list[Any]:  # fmt: skip
    """(member id, time, growth) of the members' events in (start, at] within `months`."""

    def within(column: Any) -> Any:
        return and_(
            column > start, column <= at,
            or_(*(and_(column >= month_begin(m), column < month_begin(month_after(m)))
                  for m in months)),
        )  # fmt: skip

    return list(await conn.execute(union_all(
        select(purchases.c.member_id, purchases.c.purchased_at,
               purchases.c.growth_value - purchases.c.growth_reversed)
        .where(purchases.c.member_id.in_(member_ids), within(purchases.c.purchased_at)),
        select(interactions.c.member_id, interactions.c.occurred_at, interactions.c.growth_value)
        .where(interactions.c.member_id.in_(member_ids), within(interactions.c.occurred_at)),
    )))  # fmt: skip


def value_expression(member_id: Any, start: Any, at: Any) -> ColumnElement[int]:
    """A member's growth value in (start, at] as one SQL expression (PostgreSQL and SQLite):
    the buckets the window covers whole, and the events of the months it covers only in part.
    `values` reads it; compiled operations embed it (resolvers.compiled)."""
    start, at = _instant(start), _instant(at)
    bucket = growth_buckets.alias("window_bucket")

    def events(table: Any, column: Any, growth: Any) -> Any:
        return select(func.coalesce(func.sum(growth), 0)).where(
            table.c.member_id == bucket.c.member_id, column > start, column <= at,
            MonthKey(column) == bucket.c.month,
        ).scalar_subquery()  # fmt: skip

    whole = and_(bucket.c.first_at > start, bucket.c.last_at <= at)
    some = and_(bucket.c.last_at > start, bucket.c.first_at <= at)
    in_part = events(purchases, purchases.c.purchased_at,
                     purchases.c.growth_value - purchases.c.growth_reversed) + events(
        interactions, interactions.c.occurred_at, interactions.c.growth_value)  # fmt: skip
    counted = case((whole, bucket.c.growth), (some, in_part), else_=0)
    return select(func.coalesce(func.sum(counted), 0)).where(
        bucket.c.member_id == member_id,
        bucket.c.month >= MonthKey(start), bucket.c.month <= MonthKey(at),
    ).scalar_subquery()  # fmt: skip


def _instant(value: Any) -> Any:
    return value if isinstance(value, ClauseElement) else literal(value, UtcDateTime())


async def values(
    conn: AsyncConnection, program: Program, member_ids: Sequence[int], at: datetime
) -> dict[int, int]:
    """Growth value per member at `at`, in one statement (`value_expression`)."""
    value = value_expression(members.c.id, window_start(program, at), at)
    rows = await conn.execute(select(members.c.id, value).where(members.c.id.in_(list(member_ids))))
    found = {row[0]: int(row[1]) for row in rows}
    return {member_id: found.get(member_id, 0) for member_id in member_ids}


def _from_events(member_ids: Sequence[int] | None) -> Any:
    """The buckets as the events say they should be."""
    events = union_all(
        select(purchases.c.member_id, purchases.c.purchased_at.label("at"),
               (purchases.c.growth_value - purchases.c.growth_reversed).label("growth")),
        select(interactions.c.member_id, interactions.c.occurred_at.label("at"),
               interactions.c.growth_value.label("growth")),
    ).subquery()  # fmt: skip
    month = MonthKey(events.c.at)
    query = select(
        events.c.member_id, month.label("month"), func.sum(events.c.growth).label("growth"),
        func.min(events.c.at).label("first_at"), func.max(events.c.at).label("last_at"),
    ).group_by(events.c.member_id, month)  # fmt: skip
    if member_ids is not None:
        query = query.where(events.c.member_id.in_(list(member_ids)))
    return query


async def rebuild(conn: AsyncConnection, member_ids: Sequence[int] | None = None) -> None:
    """Build the members' buckets (everyone's: None) from their events again: after rows moved
    between members (a merge) or were loaded in bulk (seed data, the migration)."""
    removal = delete(growth_buckets)
    if member_ids is not None:
        removal = removal.where(growth_buckets.c.member_id.in_(list(member_ids)))
    await conn.execute(removal)
    built = _from_events(member_ids).subquery()
    await conn.execute(
        insert(growth_buckets).from_select(
            ["member_id", "month", "growth", "first_at", "last_at"],
            select(built.c.member_id, built.c.month, built.c.growth, built.c.first_at,
                   built.c.last_at),
        )
    )  # fmt: skip


async def verify(conn: AsyncConnection) -> list[str]:
    """Buckets that differ from the events they count (an empty list when sound)."""
    expected = {(r.member_id, r.month): (int(r.growth), r.first_at, r.last_at)
                for r in await conn.execute(_from_events(None))}  # fmt: skip
    stored = {(r.member_id, r.month): (r.growth, r.first_at, r.last_at)
              for r in await conn.execute(select(growth_buckets))}  # fmt: skip
    problems = []
    for key in sorted(set(expected) | set(stored), key=repr):
        want, have = expected.get(key), stored.get(key)
        if want is None or have is None or want[0] != have[0]:
            problems.append(f"member {key[0]} month {key[1]}: buckets hold {have}, events {want}")
        elif not (have[1] <= want[1] and have[2] >= want[2]):
            problems.append(f"member {key[0]} month {key[1]}: times {have[1:]} miss {want[1:]}")
    return problems
