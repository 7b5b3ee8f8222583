"""Engines and transactions. Reads run in autocommit (no BEGIN/ROLLBACK round trips); writes run
in one transaction each. On SQLite, writes take the write lock up front (BEGIN IMMEDIATE) so two
read-then-write transactions never deadlock and concurrent writers wait instead of failing."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")

# Work that must commit with whatever the current task writes first (the audit row of the
# mutation being executed): called with the connection just before the transaction commits.
before_commit: ContextVar[Callable[[AsyncConnection], Awaitable[None]] | None] = ContextVar(
    "before_commit", default=None
)


def _postgres_connection_errors() -> tuple[type[BaseException], ...]:
    try:
        from asyncpg import exceptions as asyncpg_errors
    except ImportError:  # SQLite-only installs
        return ()
    return (
        asyncpg_errors.PostgresConnectionError,
        asyncpg_errors.InterfaceError,
        asyncpg_errors.OperatorInterventionError,  # admin shutdown, crash shutdown
        asyncpg_errors.CannotConnectNowError,
        asyncpg_errors.TooManyConnectionsError,
    )


TRANSIENT = (
    exc.OperationalError,  # connection lost, server shutting down, SQLite "database is locked"
    exc.InterfaceError,
    exc.TimeoutError,  # no pooled connection free in time
    ConnectionError,
    TimeoutError,
    OSError,
    *_postgres_connection_errors(),
)


def is_transient(error: BaseException | None) -> bool:
    """Whether an error is the database being unreachable or overloaded (worth a retry by the
    client), rather than a fault of the request or of the code."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, TRANSIENT):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def _configure_sqlite(engine: AsyncEngine, *, foreign_keys: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver; the "begin" hook below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        pool_timeout: float = 30.0,
        echo: bool = False,
        foreign_keys: bool = True,
    ) -> None:
        """`foreign_keys=False` is for SQLite migrations only: Alembic changes a SQLite table by
        copying it, which enforced foreign keys would refuse while other rows point at it.

        On PostgreSQL the pool keeps `pool_size` connections and opens no more: a checkout
        beyond them waits (up to `pool_timeout` seconds) instead of opening an overflow
        connection that is closed when returned (measured: about 350 sessions opened and
        closed in one benchmark run at 16 connections with 10 + 10 overflow)."""
        self.url = url
        options: dict[str, Any] = {"echo": echo}
        if url.startswith("sqlite"):
            if ":memory:" in url:
                raise ValueError("use a file for SQLite: every connection needs the same database")
            # A member's row takes its id from (SELECT max(id) + 1) (infra.models.base.next_id),
            # which a multi-row INSERT would evaluate once for all its rows.
            options["insertmanyvalues_page_size"] = 1
        else:
            # No pre-ping (a round trip per checkout, several per request): after a PostgreSQL
            # restart the first statement on a dead connection fails as a disconnect, which
            # invalidates every older pooled connection at once; `read_once_more` retries the
            # request's first read (its token check) on a fresh one.
            options.update(pool_size=pool_size, max_overflow=0, pool_timeout=pool_timeout,
                           pool_pre_ping=False)  # fmt: skip
        self.engine: AsyncEngine = create_async_engine(url, **options)
        self.dialect: str = self.engine.dialect.name
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, foreign_keys=foreign_keys)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only: each statement sees committed data, nothing is held."""
        async with self._autocommit.connect() as conn:
            yield conn

    async def read_once_more(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`work` on a read connection, run again on a fresh connection if the first was dead
        (the server restarted since it was pooled). Only for reads: they may run twice."""
        try:
            async with self.read() as conn:
                return await work(conn)
        except exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise
        async with self.read() as conn:
            return await work(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One database transaction: committed when the block ends, rolled back if it raises."""
        async with self.engine.begin() as conn:
            yield conn
            hook = before_commit.get()
            if hook is not None:
                await hook(conn)

    async def dispose(self) -> None:
        await self.engine.dispose()


@functools.cache
def _insert_ignoring(table: Any, dialect: str) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return dialect_insert(table).on_conflict_do_nothing().returning(*table.c)


async def insert_unless_exists(
    conn: AsyncConnection, table: Any, values: dict[str, Any]
) -> Any | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING *: the new row, or None when a unique key
    (an idempotency key) already holds one. Both backends support this statement; it is built
    once per table (the values are its parameters), compiled once per set of columns given."""
    return (await conn.execute(_insert_ignoring(table, conn.dialect.name), values)).first()
