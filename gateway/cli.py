"""`pointgate`: serve, migrate, seed, demo, and the scheduled jobs."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import typer
import uvicorn

from gateway.settings import Settings
from infra.database import Database
from infra.migrate import upgrade
from loyalty.expiry import expire_points
from loyalty.seed import has_members, seed
from loyalty.tier import review_tiers

app = typer.Typer(help="Pointgate: the loyalty program's GraphQL gateway.", no_args_is_help=True)
jobs = typer.Typer(help="Scheduled jobs; each is safe to run again.", no_args_is_help=True)
app.add_typer(jobs, name="jobs")
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


def _moment(value: str | None) -> datetime:
    """An ISO date or time (UTC unless it names a zone); now when not given."""
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


AT_OPTION = typer.Option(None, "--at", help="Run as of this ISO date/time (default: now).")


@jobs.command("tiers")
def jobs_tiers(at: str | None = AT_OPTION) -> None:
    """Anniversary tier review: down at most one tier where the growth value no longer holds it."""
    settings = Settings.from_env()
    report = _with_db(settings, lambda db: review_tiers(db, settings.program, at=_moment(at)))
    typer.echo(f"reviewed {report.reviewed} members, downgraded {report.downgraded}")


@jobs.command("expire")
def jobs_expire(at: str | None = AT_OPTION) -> None:
    """Move what is left of expired lots to program:expired."""
    settings = Settings.from_env()
    report = _with_db(settings, lambda db: expire_points(db, settings.program, at=_moment(at)))
    typer.echo(f"expired {report.points} points of {report.members} members")


if __name__ == "__main__":
    app()
