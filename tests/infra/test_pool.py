"""The PostgreSQL pool queues instead of churning (issue 26): it keeps its connections and
opens no overflow ones, and its default size follows the workers and `max_connections`."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from gateway.settings import RESERVED_CONNECTIONS, Settings
from infra.database import Database
from tests.conftest import _drop_postgres_database, _fresh_postgres_database


@pytest.mark.parametrize(
    ("max_connections", "workers", "expected"),
    [(100, 1, 32), (100, 2, 32), (100, 4, 22), (100, 8, 11), (40, 2, 15), (20, 4, 4)],
)
def test_the_default_pool_shares_max_connections_between_the_workers(
    max_connections, workers, expected
):
    settings = Settings(database_max_connections=max_connections, workers=workers)
    assert settings.pool_size() == expected
    if expected > 4:  # the floor may exceed a tiny server's share; above it, all fit
        assert expected * workers <= max_connections - RESERVED_CONNECTIONS


def test_a_pool_size_that_is_set_wins():
    assert Settings(database_pool_size=7, workers=8).pool_size() == 7
    assert Settings.from_env({"POINTGATE_WORKERS": "4"}).pool_size() == 22


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
