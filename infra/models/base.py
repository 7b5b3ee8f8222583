"""The metadata every table belongs to, the constants tables share, and the columns they
share: a serial id, a member's row id, a reference to another table's id, a moment, a whole
number, text, money and rates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, MetaData, String, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from infra.types import Id, Money, Rate, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ZERO = text("0")
# A caller's idempotency key (at most 200 characters) with its namespace and a prefix.
KEY_LENGTH = 240


def serial() -> Column[Any]:
    """The table's own id."""
    return Column("id", Id, primary_key=True, autoincrement=True)


class next_id(FunctionElement[int]):
    """The next id of a table whose primary key is (member_id, id): the table's sequence on
    PostgreSQL (the one its serial id always had); on SQLite, which numbers only a lone integer
    key, one more than the largest (writers are serialised; the engine inserts many rows one
    statement each, see infra.database)."""

    type = BigInteger()
    inherit_cache = True

    def __init__(self, table: str) -> None:
        self.table = table
        super().__init__()


@compiles(next_id, "postgresql")
def _next_id_postgresql(element: next_id, compiler: SQLCompiler, **_: Any) -> str:
    return f"nextval('{element.table}_id_seq')"


@compiles(next_id, "sqlite")
def _next_id_sqlite(element: next_id, compiler: SQLCompiler, **_: Any) -> str:
    return f"(SELECT coalesce(max(id), 0) + 1 FROM {element.table})"


def member_row(table: str, *, found_by_id: bool = True) -> list[Column[Any]]:
    """The key of a member's row: (member_id, id). Sharded by member (docs/scaling.md), a row
    lives with its member, and every key and unique constraint of the table includes
    member_id; ids stay unique across members (one sequence per table), and an index finds a
    row by its id alone unless `found_by_id` is False (rows only ever read with their
    member)."""
    return [
        Column("member_id", Id, ForeignKey("members.id"), primary_key=True, autoincrement=False),
        Column("id", Id, primary_key=True, autoincrement=False, default=next_id(table),
               index=found_by_id),
    ]  # fmt: skip


def ref(name: str, target: str, *, optional: bool = False, **options: Any) -> Column[Any]:
    """`name` refers to a row of `target` by its id."""
    return Column(name, Id, ForeignKey(f"{target}.id"), nullable=optional, **options)


def moment(name: str, *, optional: bool = False) -> Column[Any]:
    """An instant, stored in UTC."""
    return Column(name, UtcDateTime, nullable=optional)


def whole(name: str, *, optional: bool = False, **options: Any) -> Column[Any]:
    """A whole number (points, units, counts)."""
    return Column(name, BigInteger, nullable=optional, **options)


def chars(name: str, length: int, *, optional: bool = False, **options: Any) -> Column[Any]:
    """Text of at most `length` characters."""
    return Column(name, String(length), nullable=optional, **options)


def money(name: str, *, optional: bool = False, **options: Any) -> Column[Any]:
    """An exact amount of money (infra.types.Money)."""
    return Column(name, Money, nullable=optional, **options)


def rate(name: str, *, optional: bool = False, **options: Any) -> Column[Any]:
    """An exact rate or price per unit (infra.types.Rate)."""
    return Column(name, Rate, nullable=optional, **options)
