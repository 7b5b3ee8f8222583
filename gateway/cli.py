"""`pointgate`: serve, migrate, seed, demo, and the scheduled jobs."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import typer
import uvicorn

from auth import audit, clients, keys
from auth.principal import Principal, PrincipalKind
from auth.tokens import KeyCache, mint
from gateway.settings import Settings
from infra.database import Database
from infra.migrate import upgrade
from loyalty.expiry import expire_points
from loyalty.seed import has_members, seed
from loyalty.tier import review_tiers

app = typer.Typer(help="Pointgate: the loyalty program's GraphQL gateway.", no_args_is_help=True)
jobs = typer.Typer(help="Scheduled jobs; each is safe to run again.", no_args_is_help=True)
app.add_typer(jobs, name="jobs")
clients_app = typer.Typer(help="OAuth clients: onboard partners and internal tools.",
                          no_args_is_help=True)  # fmt: skip
app.add_typer(clients_app, name="clients")
token_app = typer.Typer(help="Mint tokens of this gateway's own issuer.", no_args_is_help=True)
app.add_typer(token_app, name="token")
keys_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
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

    os.environ.setdefault("POINTGATE_ISSUER", f"http://{host}:{port}")
    settings = Settings.from_env()

    async def demo_tokens(db: Database) -> list[str]:
        key_cache = KeyCache(db, settings.token_settings())
        day = timedelta(hours=12)
        operator = await mint(db, settings.token_settings(), key_cache, subject="operator:demo",
                              scope="admin", lifetime=day)  # fmt: skip
        member = await mint(db, settings.token_settings(), key_cache, subject="member:1",
                            lifetime=day)  # fmt: skip
        return [operator, member]

    _with_db(settings, prepare)
    operator, member = _with_db(settings, demo_tokens)
    typer.echo(f"demo data ready in {settings.database_url}")
    typer.echo(f"GraphiQL: http://{host}:{port}/graphql")
    typer.echo("Paste one of these into GraphiQL's Headers tab (valid 12 hours):")
    typer.echo(f'  operator (admin): {{"Authorization": "Bearer {operator}"}}')
    typer.echo(f'  member 1 (me):    {{"Authorization": "Bearer {member}"}}')
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


CLI_OPERATOR = Principal(kind=PrincipalKind.OPERATOR, subject="cli")


@clients_app.command("create")
def clients_create(
    name: str = typer.Option(..., "--name"),
    scopes: str = typer.Option(..., "--scopes", help="Space- or comma-separated scopes."),
    partner: str | None = typer.Option(None, "--partner", help="The partner's code."),
) -> None:
    """Register a client; prints its secret, which is not shown again."""
    settings = Settings.from_env()

    async def create(db: Database) -> clients.NewClient:
        created = await clients.create_client(
            db, name=name, scopes=scopes.replace(",", " ").split(), partner_code=partner
        )
        await audit.record(db, CLI_OPERATOR, "client.create", target=created.client_id)
        return created

    try:
        created = _with_db(settings, create)
    except clients.ClientError as error:
        raise typer.BadParameter(str(error)) from None
    typer.echo(f"client_id:     {created.client_id}")
    typer.echo(f"client_secret: {created.client_secret}")
    typer.echo(f"scopes:        {' '.join(sorted(created.scopes))}")


@clients_app.command("list")
def clients_list() -> None:
    """Clients with their partner, scopes and status (never secrets)."""
    for row in _with_db(Settings.from_env(), clients.list_clients):
        partner = row.partner_id if row.partner_id is not None else "internal"
        typer.echo(f"{row.client_id}\t{row.status}\tpartner={partner}\t{row.scopes}\t{row.name}")


@clients_app.command("rotate-secret")
def clients_rotate(
    client_id: str,
    grace_hours: float = typer.Option(24.0, "--grace-hours", help="How long the old secret works."),
) -> None:
    """A new secret; the old one keeps working for the grace period."""

    async def rotate(db: Database) -> str:
        secret = await clients.rotate_secret(db, client_id, grace=timedelta(hours=grace_hours))
        await audit.record(db, CLI_OPERATOR, "client.rotate_secret", target=client_id)
        return secret

    try:
        secret = _with_db(Settings.from_env(), rotate)
    except clients.ClientError as error:
        raise typer.BadParameter(str(error)) from None
    typer.echo(f"client_secret: {secret}")


@clients_app.command("revoke")
def clients_revoke(client_id: str) -> None:
    """The client gets no more tokens, and its live tokens stop working now."""

    async def revoke(db: Database) -> None:
        await clients.revoke_client(db, client_id)
        await audit.record(db, CLI_OPERATOR, "client.revoke", target=client_id)

    try:
        _with_db(Settings.from_env(), revoke)
    except clients.ClientError as error:
        raise typer.BadParameter(str(error)) from None
    typer.echo(f"revoked {client_id}")


MINUTES_OPTION = typer.Option(15, "--minutes", min=1, help="Lifetime of the token.")


def _mint(subject: str, scope: str, minutes: int) -> str:
    settings = Settings.from_env()

    async def work(db: Database) -> str:
        token = await mint(
            db, settings.token_settings(), KeyCache(db, settings.token_settings()),
            subject=subject, scope=scope, lifetime=timedelta(minutes=minutes),
        )  # fmt: skip
        await audit.record(db, CLI_OPERATOR, "token.mint", target=subject)
        return token

    return _with_db(settings, work)


@token_app.command("member")
def token_member(member_id: int, minutes: int = MINUTES_OPTION) -> None:
    """A member token (for development; members normally sign in with the identity provider)."""
    typer.echo(_mint(f"member:{member_id}", "", minutes))


@token_app.command("operator")
def token_operator(minutes: int = MINUTES_OPTION) -> None:
    """An operator token with the admin scope, for tools run by the operators."""
    typer.echo(_mint("operator:cli", "admin", minutes))


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Sign with a new key from now on; the old keys stay published until their tokens expire."""
    kid = _with_db(Settings.from_env(), lambda db: keys.rotate(db))
    typer.echo(f"signing with {kid}")


if __name__ == "__main__":
    app()
