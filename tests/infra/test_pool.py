"""The PostgreSQL pool queues instead of churning (issue 26): it keeps its connections and
opens no overflow ones, and its default size follows the database's cores, the workers and
`max_connections`."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from gateway.settings import RESERVED_CONNECTIONS, Settings
from infra.database import Database
from tests.conftest import _drop_postgres_database, _fresh_postgres_database


@pytest.mark.parametrize(
    ("cores", "max_connections", "workers", "expected"),
    [(2, 100, 1, 8), (2, 100, 2, 8), (8, 100, 1, 17), (8, 100, 2, 9), (8, 100, 4, 8),
     (32, 100, 1, 65), (32, 100, 2, 33), (32, 40, 2, 15), (2, 20, 4, 2), (2, 12, 4, 1)],
)  # fmt: skip
def test_the_default_pool_keeps_the_database_cores_busy_within_max_connections(
    cores, max_connections, workers, expected
):
    settings = Settings(database_cores=cores, database_max_connections=max_connections,
                        workers=workers)  # fmt: skip
    assert settings.pool_size() == expected
    assert expected * workers <= max(workers, max_connections - RESERVED_CONNECTIONS)


def test_the_default_pool_counts_this_machines_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert Settings().pool_size() == 17
    assert Settings.from_env({"POINTGATE_DB_CORES": "16"}).pool_size() == 33


def test_a_pool_size_that_is_set_wins():
    assert Settings(database_pool_size=7, workers=8).pool_size() == 7
    assert Settings.from_env({"POINTGATE_DB_POOL_SIZE": "3"}).pool_size() == 3


async def test_twenty_concurrent_reads_share_three_connections_without_opening_others():
    url, name = await _fresh_postgres_database()
    db = Database(url, pool_size=3, pool_timeout=10)
    try:

        async def backend() -> int:
            async with db.read() as conn:
                pid = await conn.scalar(text("SELECT pg_backend_pid() FROM pg_sleep(0.02)"))
                return int(pid)

        first = await asyncio.gather(*(backend() for _ in range(20)))
        again = await asyncio.gather(*(backend() for _ in range(20)))
    finally:
        await db.dispose()
        await _drop_postgres_database(name)

    # Every read ran, on the same three sessions both times: none was opened for one request
    # and closed after it.
    assert len(set(first)) <= 3
    assert set(again) == set(first)
