"""Progress of long jobs (seeding, expiry, the tier review, reconciliation, settlement exports):
the domain reports the work it has done through a callback, and the CLI draws it as a bar on a
terminal (gateway.cli.progress_bar). Everywhere else the callback is `quiet`."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, done: int = 1, *, total: int | None = None) -> None:
        """`done` more units of work are finished; `total`, when given, is how many there are
        in all (known after a job has counted them)."""


def quiet(done: int = 1, *, total: int | None = None) -> None:
    """Progress nobody watches."""
