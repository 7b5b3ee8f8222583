"""Every database test runs on SQLite and on PostgreSQL. Each backend gets a fresh database
built by the migrations; after every test the ledger invariants are checked and the tables
emptied. In CI a missing PostgreSQL fails the run instead of skipping half the suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import delete, event, text
from starlette.applications import Starlette

from auth.tokens import mint
from gateway.app import create_app
from gateway.settings import Settings
from infra import secrets
from infra.database import Database
from infra.migrate import upgrade
from infra.models import PROGRAM_ACCOUNTS, ledger_accounts, metadata
from loyalty import books, growth
from loyalty.program import Program

POSTGRES_URL = os.environ.get(
    "POINTGATE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")
TEST_POOL_SIZE = 10
# Every test process seals secrets with this key (create_app configures the same from settings).
TEST_DATA_KEY = secrets.new_data_key()
secrets.configure(lambda: secrets.Keyring.from_text([TEST_DATA_KEY]))


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _fresh_postgres_database() -> tuple[str, str]:
    name = f"pointgate_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}", name


async def _drop_postgres_database(name: str) -> None:
    admin = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def new_empty_database(backend: str, tmp_path: Any) -> tuple[Database, str | None]:
    """An empty database (no tables) and, for PostgreSQL, its name for dropping it."""
    if backend == "sqlite":
        return Database(f"sqlite+aiosqlite:///{tmp_path / 'pointgate.db'}"), None
    url, name = await _fresh_postgres_database()
    # A bounded pool (at most TEST_POOL_SIZE connections per test database), so the suite
    # stays well inside the shared server's max_connections; a burst of concurrent requests
    # in a test waits for a connection rather than failing.
    return Database(url, pool_size=TEST_POOL_SIZE), name


@pytest.fixture(scope="session", params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    db, name = await new_empty_database(request.param, tmp_path_factory.mktemp("sqlite"))
    try:
        await upgrade(db)
        yield db
    finally:
        await db.dispose()
        if name:
            await _drop_postgres_database(name)


async def _empty_tables(db: Database) -> None:
    async with db.transaction() as conn:
        if db.dialect == "postgresql":
            names = ", ".join(t.name for t in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            await conn.execute(
                ledger_accounts.insert(), [{"id": code} for code in PROGRAM_ACCOUNTS]
            )
            return
        for table in reversed(metadata.sorted_tables):
            if table is ledger_accounts:
                await conn.execute(delete(table).where(table.c.id.not_in(PROGRAM_ACCOUNTS)))
            else:
                await conn.execute(delete(table))


@pytest.fixture
async def db(database: Database) -> AsyncIterator[Database]:
    """The backend's database, checked for ledger invariants and emptied after the test, even
    when the test failed or left the pool broken (the next test starts clean either way)."""
    yield database
    try:
        async with database.read() as conn:
            problems = await books.verify(conn) + await growth.verify(conn)
    finally:
        try:
            await _empty_tables(database)
        except Exception:
            # A connection the test left broken: start from fresh connections and try again.
            await database.engine.dispose()
            await _empty_tables(database)
    assert problems == [], problems


@pytest.fixture
def program() -> Program:
    return Program()


@pytest.fixture
def settings(database: Database) -> Settings:
    return Settings(
        database_url=database.url, environment="development", data_keys=(TEST_DATA_KEY,)
    )


@pytest.fixture
def app(db: Database, settings: Settings) -> Starlette:
    return create_app(settings, db)


async def bearer(app: Starlette, subject: str, scope: str = "", **options: Any) -> dict[str, str]:
    """An Authorization header with a token of the app's own issuer: `operator:...` subjects
    with `admin` are operators, `member:<id>` subjects are members."""
    settings: Settings = app.state.settings
    token = await mint(
        app.state.db, settings.token_settings(), app.state.keys, subject=subject, scope=scope,
        **options,
    )  # fmt: skip
    return {"Authorization": f"Bearer {token}"}


def http_client(app: Starlette, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    # localhost: Authlib refuses plain http anywhere but loopback.
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=headers)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client acting as an operator with the admin scope."""
    async with http_client(app, await bearer(app, "operator:tests", "admin")) as http:
        yield http


@pytest.fixture
async def anonymous(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as http:
        yield http


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.count += 1
        self.statements.append(statement)


@pytest.fixture
def sql_statements(db: Database) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(db.engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(db.engine.sync_engine, "before_cursor_execute", counter)


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    body: dict[str, Any] = response.json()
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]
