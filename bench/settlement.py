"""Settlement statement speed: a month with 1,000,000 posted transfers for one partner.

Prints the time to compute the statement (SQL aggregation, rate cards, rounding) next to the
time of a bare `SELECT count(*), sum(amount)` over the same rows, measured in the same run;
the target is a ratio within 3x. Needs PostgreSQL; creates the database pointgate_bench_settle.

    .venv/bin/python -m bench.settlement [--transfers 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text

from bench.common import fresh_database, timed
from infra.database import Database
from infra.migrate import upgrade
from loyalty import member
from partners import rate_card, registry, settlement
from partners.settlement import Period

PERIOD = Period(2026, 10)


async def fill(db: Database, partner_id: int, member_id: int, count: int) -> None:
    """Transfers spread over October: 80 % earned at the partner, 20 % redeemed there."""
    clearing, account = f"partner:{partner_id}:clearing", f"member:{member_id}"
    async with db.transaction() as conn:
        await conn.execute(
            text(
                "INSERT INTO transfers (idempotency_key, debit_account_id, credit_account_id,"
                " amount, phase, reason, partner_id, request_hash, created_at) "
                "SELECT 'bench-' || g,"
                " CASE WHEN g % 5 = 0 THEN :account ELSE :clearing END,"
                " CASE WHEN g % 5 = 0 THEN :clearing ELSE :account END,"
                " 1 + g % 500, 'SINGLE', CASE WHEN g % 5 = 0 THEN 'REDEEM' ELSE 'EARN' END,"
                " :partner, 'bench',"
                " timestamptz '2026-10-01 00:00:00+00' + ((g - 1) * (interval '31 days' / :count))"
                " FROM generate_series(1, :count) AS g"
            ),
            {"account": account, "clearing": clearing, "partner": partner_id, "count": count},
        )
    async with db.read() as conn:
        await conn.execute(text("ANALYZE transfers"))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    db = Database(await fresh_database("pointgate_bench_settle"))
    await upgrade(db)
    partner = await registry.create_partner(db, code="bench-air", name="Bench Air")
    card = rate_card.RateCardTerms(platform_fee_monthly=Decimal("99"))
    since = datetime(2026, 1, 1, tzinfo=UTC)
    await rate_card.add_rate_card(db, partner_id=partner.id, terms=card, valid_from=since)
    holder = await member.enroll(db, display_name="Bench", idempotency_key="bench")
    started = time.perf_counter()
    await fill(db, partner.id, holder.id, options.transfers)
    print(f"inserted {options.transfers:,} transfers in {time.perf_counter() - started:.1f} s")

    start, end = PERIOD.bounds(settlement.zone_of(await registry.find_partner(db, partner.id)))

    async def bare() -> None:
        async with db.read() as conn:
            await conn.execute(
                text("SELECT count(*), sum(amount) FROM transfers WHERE partner_id = :p"
                     " AND created_at >= :s AND created_at < :e"),
                {"p": partner.id, "s": start, "e": end},
            )  # fmt: skip

    async def statement() -> None:
        found = await settlement.statement(db, partner.id, PERIOD)
        base = [line for line in found.lines if line.kind not in settlement.COMMISSIONS.values()]
        assert sum(line.transfer_count for line in base) == options.transfers

    await bare()  # warm the cache once for both
    bare_times = [await timed(bare) for _ in range(options.rounds)]
    statement_times = [await timed(statement) for _ in range(options.rounds)]
    bare_s, statement_s = statistics.median(bare_times), statistics.median(statement_times)
    rounds = f"(median of {options.rounds})"
    print(f"bare SELECT count(*), sum(amount):  {bare_s * 1000:8.1f} ms {rounds}")
    print(f"statement computation:             {statement_s * 1000:8.1f} ms {rounds}")
    print(f"statement / bare = {statement_s / bare_s:.2f} (target: within 3x)")
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
