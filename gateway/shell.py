"""Small helpers the command-line modules share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import make_url

from gateway.settings import Settings
from infra import secrets
from infra.database import Database
from infra.migrate import current_revision
from infra.progress import Progress as JobProgress

T = TypeVar("T")


_NO_SCHEMA = object()


def with_db(
    settings: Settings, work: Callable[[Database], Awaitable[T]], *, migrating: bool = False
) -> T:
    """`work` on the settings' database. Unless the command is `migrating` (it creates the
    schema), a database without Pointgate's schema (never migrated, or a SQLite file that is
    not there) ends it with one line saying what to run, leaving no empty SQLite file behind."""
    secrets.configure(settings.keyring)
    url = make_url(settings.database_url)
    path = Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None
    existed = path is None or path.exists()

    async def run() -> T | object:
        db = Database(settings.database_url)
        try:
            if not migrating and await current_revision(db) is None:
                return _NO_SCHEMA
            return await work(db)
        finally:
            await db.dispose()

    try:
        done = asyncio.run(run())
    except Exception as error:
        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, secrets.SecretsError):
            cause = cause.__cause__
        if cause is None:
            raise
        typer.echo(str(cause), err=True)  # no data key: one line saying what to set
        raise typer.Exit(1) from None
    if done is _NO_SCHEMA:
        if not existed and path is not None:
            path.unlink(missing_ok=True)
        shown = url.render_as_string(hide_password=True)
        typer.echo(f"{shown} has no Pointgate schema yet: run `pointgate migrate` first "
                   "(or `python3 dev.py demo` for the demo data)", err=True)  # fmt: skip
        raise typer.Exit(1)
    return done  # type: ignore[return-value]


def moment(value: str | None) -> datetime:
    """An ISO date or time (UTC unless it names a zone); now when not given."""
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date or time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@contextmanager
def progress_bar(label: str, console: Console | None = None) -> Iterator[JobProgress]:
    """A progress bar for a long job, on stderr when it is a terminal; nothing when it is not
    (cron, pipes, CI logs), so a job's output stays its one final line."""
    console = console or Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int = 1, *, total: int | None = None) -> None:
            if total is not None:
                bar.update(task, total=total)
            if done:
                bar.advance(task, done)

        yield advance
