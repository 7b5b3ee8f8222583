from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from infra.database import Database
from infra.migrate import current_revision, upgrade
from infra.models import PROGRAM_ACCOUNTS, accounts, metadata
from tests.conftest import BACKENDS, _drop_postgres_database, new_empty_database


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migrations_build_the_modelled_schema_on_an_empty_database(backend, tmp_path):
    db, name = await new_empty_database(backend, tmp_path)
    try:
        # given an empty database, when every migration is applied
        await upgrade(db)

        # then the schema matches the models exactly and the program accounts exist
        def differences(connection):
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, metadata)

        async with db.read() as conn:
            assert await conn.run_sync(differences) == []
            program_accounts = set(await conn.scalars(select(accounts.c.id)))
        assert program_accounts == set(PROGRAM_ACCOUNTS)
        assert await current_revision(db) == "0001"

        # and applying them again changes nothing
        await upgrade(db)
        assert await current_revision(db) == "0001"
    finally:
        await db.dispose()
        if name:
            await _drop_postgres_database(name)


async def test_session_database_is_at_head(database: Database):
    assert await current_revision(database) == "0001"
