"""`pointgate`: serve, migrate, seed, demo, and the scheduled jobs."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import typer
import uvicorn
from strawberry.printer import print_schema

from auth.tokens import KeyCache, mint
from gateway import operators
from gateway.app import build_schema
from gateway.demo_year import live_a_year
from gateway.http import PROTOCOL
from gateway.live import WS
from gateway.seed import (
    DEMO_OPERATOR,
    DEMO_PARTNER_STAFF,
    demo_console_people,
    demo_promotions,
    has_members,
    seed,
)
from gateway.settings import Settings
from gateway.shell import moment, progress_bar, with_db
from infra.database import Database
from infra.migrate import upgrade
from infra.rekey import has_unsealed_secrets, reencrypt_secrets
from loyalty import referral, sealing
from loyalty.errors import DomainError
from loyalty.expiry import expire_points
from loyalty.promotions.offer import run_lifecycle_offers
from loyalty.tier import review_tiers
from partners import exchange, registry, settlement, statement_report, webhook
from partners.directory import ConnectorDirectory

app = typer.Typer(help="Pointgate: the loyalty program's GraphQL gateway.", no_args_is_help=True)
jobs = typer.Typer(help="Scheduled jobs; each is safe to run again.", no_args_is_help=True)
app.add_typer(jobs, name="jobs")
app.add_typer(operators.clients_app, name="clients")
app.add_typer(operators.token_app, name="token")
app.add_typer(operators.members_app, name="members")
app.add_typer(operators.keys_app, name="keys")
app.add_typer(operators.partners_app, name="partners")
app.add_typer(operators.operations_app, name="operations")
app.add_typer(operators.console_app, name="console")

T = TypeVar("T")


@app.command()
def migrate() -> None:
    """Apply all database migrations (creates the schema on an empty database)."""
    settings = Settings.from_env()

    async def migrate_and_seal(db: Database) -> int:
        await upgrade(db, phone_region=settings.program.phone_region)
        contacts = await sealing.reseal(db, only_clear=True)
        if not await has_unsealed_secrets(db):
            return contacts
        return contacts + await reencrypt_secrets(db)

    sealed = with_db(settings, migrate_and_seal, migrating=True)
    typer.echo(
        f"migrated {settings.database_url}" + (f"; sealed {sealed} secrets" if sealed else "")
    )


@app.command("seed")
def seed_command(
    members: int = typer.Option(1000, "--members", min=0, help="Members to add."),
    purchases: int = typer.Option(
        10000, "--purchases", min=0, help="Purchases to spread over them and the last year."
    ),
    random_seed: int = typer.Option(42, "--random-seed", help="The same seed makes the same data."),
) -> None:
    """Add generated members and purchases (bulk inserts; ledger totals kept exact)."""
    settings = Settings.from_env()
    started = time.perf_counter()
    with progress_bar("seeding") as progress:
        report = with_db(settings, lambda db: seed(
            db, settings.program, member_count=members, purchase_count=purchases,
            random_seed=random_seed, progress=progress,
        ))  # fmt: skip
    elapsed = time.perf_counter() - started
    typer.echo(
        f"seeded {report.members} members (first id {report.first_member_id}) and "
        f"{report.purchases} purchases in {elapsed:.1f}s"
    )


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(8000, "--port", help="The port to listen on."),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes (about one per core)."
    ),
) -> None:
    """Serve the gateway with uvicorn."""
    # Each worker sizes its database pool by the number of workers (Settings.pool_size).
    os.environ.setdefault("POINTGATE_WORKERS", str(workers))
    uvicorn.run(
        "gateway.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        http=PROTOCOL,
        ws=WS,
        # small events: compression would cost each idle socket ~50 KB of zlib state
        ws_per_message_deflate=False,
    )


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(8000, "--port", help="The port to listen on."),
) -> None:
    """Migrate, seed demo data if the database is empty, and serve with GraphiQL."""
    # The demo is the one place development mode is the default; the variables are set for
    # the server started below, which reads its settings from the environment like any other.
    # Its database is every command's default (DATABASE_URL, else ./pointgate.db), so the
    # README's commands after it work on the demo's data.
    os.environ.setdefault("POINTGATE_ENV", "development")
    settings = Settings.from_env()

    async def prepare(db: Database) -> None:
        await upgrade(db, phone_region=settings.program.phone_region)
        now = datetime.now(UTC)
        fresh = not await has_members(db)
        if fresh:
            with progress_bar("seeding the demo") as progress:
                await seed(db, settings.program, member_count=200, purchase_count=2000,
                           progress=progress)  # fmt: skip
        # A demo database from before promotions existed gets them too (once).
        await demo_promotions(db, settings.program, now)
        if fresh:
            with progress_bar("living the demo's year") as progress:
                await live_a_year(db, settings.program, now, progress)
        await demo_console_people(db)

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

    with_db(settings, prepare, migrating=True)
    operator, member = with_db(settings, demo_tokens)
    typer.echo(f"demo data ready in {settings.database_url}")
    typer.echo(f"GraphiQL: http://{host}:{port}/graphql")
    typer.echo("Paste one of these into GraphiQL's Headers tab (valid 12 hours):")
    typer.echo(f'  operator (admin): {{"Authorization": "Bearer {operator}"}}')
    typer.echo(f'  member 1 (me):    {{"Authorization": "Bearer {member}"}}')
    typer.echo(f"Console: http://{host}:{port}/console/ — sign in as")
    typer.echo(f"  operator:      {DEMO_OPERATOR[0]} / {DEMO_OPERATOR[1]}")
    typer.echo(f"  partner staff: {DEMO_PARTNER_STAFF[0]} / {DEMO_PARTNER_STAFF[1]} (Acme Coffee)")
    serve(host=host, port=port, workers=1)


AT_OPTION = typer.Option(None, "--at", help="Run as of this ISO date/time (default: now).")


@jobs.command("tiers")
def jobs_tiers(at: str | None = AT_OPTION) -> None:
    """Anniversary tier review: down at most one tier where the growth value no longer holds it."""
    settings = Settings.from_env()
    with progress_bar("reviewing tiers") as progress:
        report = with_db(settings, lambda db: review_tiers(db, settings.program, at=moment(at),
                                                           progress=progress))  # fmt: skip
    typer.echo(f"reviewed {report.reviewed} members, downgraded {report.downgraded}")


@jobs.command("expire")
def jobs_expire(at: str | None = AT_OPTION) -> None:
    """Move what is left of expired lots to program:expired."""
    settings = Settings.from_env()
    with progress_bar("expiring points") as progress:
        report = with_db(settings, lambda db: expire_points(db, settings.program, at=moment(at),
                                                            progress=progress))  # fmt: skip
    typer.echo(f"expired {report.points} points of {report.members} members")


@jobs.command("lifecycle")
def jobs_lifecycle(at: str | None = AT_OPTION) -> None:
    """Lifecycle offers: win-back and retention coupons, DIAMOND birthday and target gifts
    (each once per episode or period; run daily)."""
    settings = Settings.from_env()
    with progress_bar("lifecycle offers") as progress:
        report = with_db(settings, lambda db: run_lifecycle_offers(
            db, settings.program, at=moment(at), progress=progress))  # fmt: skip
    typer.echo(f"checked {report.checked} members: {report.winback} win-back, "
               f"{report.retention} retention, {report.birthday} birthday, "
               f"{report.annual_target} annual target; {report.lifecycle_changes} lifecycle "
               f"changes, {report.expiring} coupons expiring soon, "
               f"{report.expired} expired")  # fmt: skip


@app.command()
def sdl() -> None:
    """Print the subgraph SDL the federation gateway composes (`_service { sdl }`)."""
    typer.echo(print_schema(build_schema()))


@app.command()
def settle(
    partner: str = typer.Option(..., "--partner", help="The partner's code."),
    period: str = typer.Option(..., "--period", help="YYYY-MM, in the partner's time zone."),
    close: bool = typer.Option(False, "--close", help="Freeze the statement (month must be over)."),
    csv_file: Path | None = typer.Option(None, "--csv", help="Write the lines as CSV."),
    transfers_file: Path | None = typer.Option(
        None, "--transfers-csv", help="Write the transfer drill-down as CSV."
    ),
    html_file: Path | None = typer.Option(None, "--html", help="Write the printable report."),
) -> None:
    """Compute (and optionally close) a partner's monthly statement and export it."""
    month = settlement.Period.parse(period)

    async def work(db: Database) -> tuple[settlement.Statement, list[Any], Any, Any]:
        # progress: the statement, then the drill-down and the report's days when asked for
        progress(0, total=1 + bool(transfers_file) + bool(html_file))
        partner_id = await operators.partner_id_of(db, partner)
        found = await (settlement.close if close else settlement.statement)(db, partner_id, month)
        progress()
        rows = await settlement.line_transfers(db, partner_id, month) if transfers_file else []
        progress(bool(transfers_file))
        row = await registry.find_partner(db, partner_id)
        days = await settlement.daily_activity(db, partner_id, month) if html_file else None
        progress(bool(html_file))
        return found, rows, row, days

    try:
        with progress_bar(f"settling {partner} {month}") as progress:
            found, rows, row, days = with_db(Settings.from_env(), work)
    except DomainError as error:
        raise typer.BadParameter(error.message) from None
    if csv_file:
        csv_file.write_text(statement_report.lines_csv(found))
    if transfers_file:
        with transfers_file.open("w") as handle:
            handle.writelines(statement_report.transfers_csv(rows))
    if html_file:
        html_file.write_text(statement_report.html_report(found, row, days))
    typer.echo(f"{partner} {month} {found.status.value} in {found.currency}: partner pays "
               f"{found.payable_by_partner}, program pays {found.payable_by_program}, "
               f"net {found.net}")  # fmt: skip


@jobs.command("reconcile")
def jobs_reconcile(
    stale_seconds: int | None = typer.Option(
        None, "--stale-seconds", help="RESERVED exchanges older than this count."
    ),
) -> None:
    """Ask partners about UNKNOWN and stale RESERVED exchanges and settle them."""
    settings = Settings.from_env()
    stale = timedelta(seconds=stale_seconds if stale_seconds is not None
                      else settings.reconcile_after_seconds)  # fmt: skip

    async def work(db: Database) -> exchange.ReconcileReport:
        directory = ConnectorDirectory(timeout=settings.connector_timeout_seconds)
        try:
            return await exchange.reconcile(db, directory, stale_after=stale, progress=progress)
        finally:
            await directory.close()

    with progress_bar("reconciling exchanges") as progress:
        report = with_db(settings, work)
    typer.echo(f"checked {report.checked}: posted {report.posted}, voided {report.voided}, "
               f"still open {report.still_open}")  # fmt: skip


@jobs.command("referrals")
def jobs_referrals() -> None:
    """Settle referral shares left pending (a purchase or refund whose referrer's transfer did
    not run after it: a crash, a failed database call)."""
    settings = Settings.from_env()
    settled = with_db(settings, lambda db: referral.settle_shares(db, settings.program))
    typer.echo(f"settled the referral shares of {settled} purchases")


@jobs.command("webhooks")
def jobs_webhooks() -> None:
    """Send due webhook deliveries (retries wait with exponential backoff)."""
    settings = Settings.from_env()

    async def work(db: Database) -> webhook.DeliveryReport:
        async with httpx.AsyncClient(timeout=settings.connector_timeout_seconds) as http:
            return await webhook.deliver_due(db, http, egress=settings.egress())

    report = with_db(settings, work)
    typer.echo(f"delivered {report.delivered}, retrying {report.retrying}, "
               f"failed {report.failed}")  # fmt: skip


if __name__ == "__main__":
    app()
