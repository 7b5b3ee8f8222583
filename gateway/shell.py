"""Small helpers the command-line modules share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
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

from gateway.settings import Settings
from infra import secrets
from infra.database import Database
from infra.progress import Progress as JobProgress

T = TypeVar("T")


def with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    secrets.configure(settings.keyring)

    async def run() -> T:
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


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
