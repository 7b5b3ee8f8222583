"""A member's export (docs/privacy.md): a member with 10,000 ledger entries.

Prints the time to build the export document and serialise it as the endpoint does
(loyalty.export, JSON), next to bare asyncpg reads of the same member's transfers and lots
measured in the same run; the target is under 2 s. Needs PostgreSQL; creates the database
pointgate_bench_export.

    .venv/bin/python -m bench.export [--entries 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import asyncpg

from bench.common import ADMIN_DSN, fresh_database, timed
from infra.database import Database
from infra.migrate import upgrade
from loyalty import export, ledger, member

NAME = "pointgate_bench_export"


async def fill(db: Database, member_id: int, count: int) -> None:
    """`count` transfers into the member's account (each with its lot), in one transaction."""
    async with db.transaction() as conn:
        for n in range(count):
            await ledger.transfer(
                conn, idempotency_key=f"bench-{n}", debit=ledger.ISSUANCE,
                credit=ledger.member_account(member_id), amount=1 + n % 500,
                reason=ledger.TransferCode.ADJUSTMENT,
            )  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    db = Database(await fresh_database(NAME))
    await upgrade(db)
    holder = await member.enroll(db, display_name="Bench", idempotency_key="bench")
    started = time.perf_counter()
    await fill(db, holder.id, options.entries)
    print(f"recorded {options.entries:,} transfers in {time.perf_counter() - started:.1f} s")
    bare_conn = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + f"/{NAME}")
    await bare_conn.execute("ANALYZE")

    async def bare() -> None:
        for table in ("transfers", "point_lots"):
            await bare_conn.fetch(f"SELECT * FROM {table} WHERE member_id = $1", holder.id)

    sizes: list[int] = []

    async def exported() -> None:
        document = await export.export_member(db, holder.id)
        sizes.append(len(json.dumps(document)))
        assert len(document["tables"]["transfers"]) == options.entries

    await bare()  # warm the cache once for both
    await exported()
    bare_s = statistics.median([await timed(bare) for _ in range(options.rounds)])
    export_s = statistics.median([await timed(exported) for _ in range(options.rounds)])
    rounds = f"(median of {options.rounds})"
    print(f"bare asyncpg SELECT of transfers and lots: {bare_s * 1000:8.1f} ms {rounds}")
    print(f"export document, serialised ({sizes[-1] / 1e6:.1f} MB): {export_s * 1000:8.1f} ms")
    print(f"export / bare = {export_s / bare_s:.1f}; export {export_s:.2f} s (target: under 2 s)")
    await bare_conn.close()
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
