"""The hot write statements on asyncpg directly (issue 28): a statement built once (a
SQLAlchemy Core statement with named bind parameters, kept by its module) is compiled once for
PostgreSQL and run on the transaction's own asyncpg connection as a prepared statement (asyncpg
keeps it prepared per connection). SQLAlchemy's per-execution work (cache key, execution
context, parameter and result processing) was about a third of a purchase's Python.

It runs inside a transaction that SQLAlchemy began (`Database.transaction`, whose first
statement went through SQLAlchemy); anywhere else (SQLite, outside a transaction) the statement
runs through SQLAlchemy as usual, with the same rows. Bind parameters are processed by their
SQLAlchemy types, rows come back with their columns as attributes, and PostgreSQL's errors as
SQLAlchemy raises them, so callers handle them as before."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable


@dataclass(slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    defaults: dict[str, Any]

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        given = [values[name] if name in values else self.defaults[name] for name in self.names]
        return [value if process is None or value is None else process(value)
                for value, process in zip(given, self.processors, strict=True)]  # fmt: skip


_COMPILED: dict[int, tuple[Executable, _Compiled]] = {}
MAX_STATEMENTS = 256
_ROWS: dict[tuple[str, ...], Any] = {}


def _row_type(keys: tuple[str, ...]) -> Any:
    """A row with its columns as attributes (a repeated name: the first column's; the others
    by position)."""
    made = _ROWS.get(keys)
    if made is None:
        made = _ROWS[keys] = namedtuple("Row", keys, rename=True)  # type: ignore[misc]
    return made


def _compiled(statement: Executable, dialect: Any) -> _Compiled:
    found = _COMPILED.get(id(statement))
    if found is not None and found[0] is statement:
        return found[1]
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    names = tuple(compiled.positiontup or ())
    processors = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    made = _Compiled(compiled.string, names, processors, dict(compiled.params))
    if len(_COMPILED) >= MAX_STATEMENTS:  # statements are built once: this never fills
        _COMPILED.clear()
    _COMPILED[id(statement)] = (statement, made)  # the statement kept: its id stays its own
    return made


def leading(row: Any, count: int) -> Any:
    """The row's first `count` columns, as a row of their own (a statement's table columns,
    before the ones it adds)."""
    return _row_type(row._fields[:count])(*row[:count])


async def rows(
    conn: AsyncConnection, statement: Executable, values: Mapping[str, Any]
) -> list[Any]:
    """The statement's rows (RETURNING or SELECT), run with `values`."""
    if conn.dialect.name == "postgresql":
        driver = (await conn.get_raw_connection()).driver_connection
        if driver is not None and driver.is_in_transaction():
            compiled = _compiled(statement, conn.dialect)
            arguments = compiled.arguments(values)
            try:
                records = await driver.fetch(compiled.sql, *arguments)
            except Exception as error:
                translated = _as_sqlalchemy(error, compiled.sql, arguments)
                if translated is None:
                    raise
                raise translated from error
            if not records:
                return []
            row = _row_type(tuple(records[0].keys()))
            return [row(*record.values()) for record in records]
    result = await conn.execute(statement, dict(values))
    row = _row_type(tuple(result.keys()))
    return [row(*found) for found in result]


def _as_sqlalchemy(error: Exception, sql: str, arguments: list[Any]) -> Exception | None:
    """The error as SQLAlchemy's asyncpg dialect raises it (its `_asyncpg_error_translate`):
    constraint violations as IntegrityError, the driver's interface errors as InterfaceError,
    any other PostgreSQL error as DBAPIError, each with asyncpg's error as its `orig` and
    cause (where `is_transient` and `retry_on_race` look). None: not the database's."""
    import asyncpg

    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return exc.IntegrityError(sql, arguments, error)
    if isinstance(error, asyncpg.InterfaceError):
        return exc.InterfaceError(sql, arguments, error)
    if isinstance(error, asyncpg.PostgresError):
        return exc.DBAPIError(sql, arguments, error)
    return None
