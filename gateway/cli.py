"""`pointgate`: serve, migrate, seed, demo."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
import uvicorn

from gateway.settings import Settings
from infra.database import Database
from infra.migrate import upgrade
from loyalty.seed import has_members, seed

app = typer.Typer(help="Pointgate: the loyalty program's GraphQL gateway.", no_args_is_help=True)
T = TypeVar("T")

DEMO_DATABASE_URL = "sqlite+aiosqlite:///./pointgate-demo.db"


def _with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


@app.command()
def migrate() -> None:
    """Apply all database migrations (creates the schema on an empty database)."""
    settings = Settings.from_env()
    _with_db(settings, upgrade)
    typer.echo(f"migrated {settings.database_url}")


@app.command("seed")
def seed_command(
    members: int = typer.Option(1000, "--members", min=0),
    purchases: int = typer.Option(10000, "--purchases", min=0),
    random_seed: int = typer.Option(42, "--random-seed"),
) -> None:
    """Add generated members and purchases (bulk inserts; ledger totals kept exact)."""
    settings = Settings.from_env()
    started = time.perf_counter()
    report = _with_db(
        settings,
        lambda db: seed(
            db,
            settings.program,
            member_count=members,
            purchase_count=purchases,
            random_seed=random_seed,
        ),
    )
    elapsed = time.perf_counter() - started
    typer.echo(
        f"seeded {report.members} members (first id {report.first_member_id}) and "
        f"{report.purchases} purchases in {elapsed:.1f}s"
    )


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", min=1),
) -> None:
    """Serve the gateway with uvicorn."""
    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
) -> None:
    """Migrate, seed demo data if the database is empty, and serve with GraphiQL."""
    # The demo is the one place development mode is the default; the variables are set for
    # the server started below, which reads its settings from the environment like any other.
    os.environ.setdefault("POINTGATE_ENV", "development")
    os.environ.setdefault("DATABASE_URL", DEMO_DATABASE_URL)
    settings = Settings.from_env()

    async def prepare(db: Database) -> None:
        await upgrade(db)
        if not await has_members(db):
            await seed(db, settings.program, member_count=200, purchase_count=2000)

    _with_db(settings, prepare)
    typer.echo(f"demo data ready in {settings.database_url}")
    typer.echo(f"GraphiQL: http://{host}:{port}/graphql")
    serve(host=host, port=port, workers=1)


if __name__ == "__main__":
    app()
