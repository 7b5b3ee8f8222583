"""The record of partners' reads of members' data (docs/privacy.md, "Who read my data"): every
request of a partner's client that answers a member's record counts one read of that member
by that client that day (UTC), however many times the answer holds it.

Counting costs the request nothing in the database: the gateway `watch`es a partner client's
request, each member answered is `note`d (schema.types.Member on the general path, the planned
statement's member marks on the other), and the counts are added to `partner_reads` by the
app's flusher (infra.tally). A member's export carries its rows."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import partner_reads
from infra.tally import Tally

Key = tuple[int, int, str, date]  # member, partner, client, day


async def add_reads(conn: AsyncConnection, counts: dict[Key, int]) -> None:
    """Add counts to the stored ones, in one statement."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(partner_reads)
    statement = statement.on_conflict_do_update(
        index_elements=[partner_reads.c.member_id, partner_reads.c.partner_id,
                        partner_reads.c.client_id, partner_reads.c.day],
        set_={"reads": partner_reads.c.reads + statement.excluded.reads},
    )  # fmt: skip
    await conn.execute(statement, [
        {"member_id": member, "partner_id": partner, "client_id": client, "day": day,
         "reads": reads}
        for (member, partner, client, day), reads in sorted(counts.items())
    ])  # fmt: skip


class ReadRecord(Tally[Key]):
    """Partners' reads of members' data, counted per process."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, add_reads)


@dataclass(slots=True)
class _Watched:
    record: ReadRecord
    partner_id: int
    client_id: str
    seen: set[int] = field(default_factory=set)
    day: date = field(default_factory=lambda: datetime.now(UTC).date())


_watched: ContextVar[_Watched | None] = ContextVar("pointgate_partner_read", default=None)


def watch(record: ReadRecord | None, partner_id: int | None = None, client_id: str = "") -> None:
    """The request being served is a partner client's (`record` None: nobody's to count)."""
    watched = None if record is None or partner_id is None else \
        _Watched(record, partner_id, client_id)  # fmt: skip
    _watched.set(watched)


async def count_noted() -> None:
    """Count the request's members noted since (each once per request)."""
    watched = _watched.get()
    if watched is None or not watched.seen:
        return
    seen, watched.seen = watched.seen, set()
    for member_id in sorted(seen):
        await watched.record.count((member_id, watched.partner_id, watched.client_id, watched.day))


def note(member_id: int) -> None:
    """A member's record is in the answer of the request being served."""
    watched = _watched.get()
    if watched is not None:
        watched.seen.add(member_id)
