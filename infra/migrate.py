"""Apply Alembic migrations: the only way a database schema is created."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from infra.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None, phone_region: str = "US") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    # How data migrations read phone numbers without a country code (the program's region).
    config.attributes["phone_region"] = phone_region
    return config


async def upgrade(db: Database, revision: str = "head", *, phone_region: str = "US") -> None:
    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection, phone_region), revision)

    if db.dialect != "sqlite":
        async with db.transaction() as conn:
            await conn.run_sync(run)
        return
    # SQLite: table rebuilds need foreign keys off (they cannot be switched inside a
    # transaction), so migrate on a connection opened without them, then check every key.
    migrating = Database(db.url, foreign_keys=False)
    try:
        async with migrating.transaction() as conn:
            await conn.run_sync(run)
            broken = list(await conn.exec_driver_sql("PRAGMA foreign_key_check"))
            if broken:
                raise RuntimeError(f"the migration left broken foreign keys: {broken[:5]}")
    finally:
        await migrating.dispose()


async def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.read() as conn:
        return await conn.run_sync(read)
