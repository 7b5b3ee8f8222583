"""Foundation benchmark (issue 2), on PostgreSQL.

Seeds 10k members and 100k purchases, then against a served gateway (2 uvicorn workers):
- the nested query (50 members with identities, balance and 10 purchases each) at 16
  connections: requests/s, p50/p99 latency, and SQL statements per request;
- recordPurchase for distinct members at 1 and 16 connections, next to a bare asyncpg
  transaction (insert a row, update a counter row) measured in the same run.

    .venv/bin/python -m bench.gateway_load [--members 10000] [--purchases 100000] [--seconds 10]

The load generator runs on the same 2-core machine as the server: figures are for comparing
runs and ratios, not absolute capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta

import asyncpg
import httpx
from sqlalchemy import event

from auth.tokens import KeyCache, mint
from bench.common import DATA_KEY, SERVED, fresh_database, run_load, served_gateway
from gateway.app import create_app
from gateway.seed import seed
from gateway.settings import Settings
from infra.database import Database
from infra.migrate import upgrade
from loyalty.program import Program

NESTED = """
query Nested {
  members(first: 50) { edges { node {
    id displayName tier identities { kind value } balance { available pending }
    purchases(first: 10) { edges { node { id amount pointsEarned channel purchasedAt } } }
  } } }
}"""
RECORD = """
mutation Record($input: RecordPurchaseInput!) { recordPurchase(input: $input) { id pointsEarned } }
"""


async def statements_per_request(database_url: str) -> int:
    db = Database(database_url)
    count = 0

    def on_statement(*_args: object) -> None:
        nonlocal count
        count += 1

    settings = Settings(database_url=database_url, data_keys=(DATA_KEY,))
    app = create_app(settings, db)
    headers = await operator_headers(db, settings, app.state.keys)
    event.listen(db.engine.sync_engine, "before_cursor_execute", on_statement)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://b", headers=headers) as c:
        await c.post("/graphql", json={"query": NESTED})  # warm the caches
        count = 0
        response = await c.post("/graphql", json={"query": NESTED})
        assert "errors" not in response.json(), response.text
    await db.dispose()
    return count


async def operator_headers(db: Database, settings: Settings, keys: KeyCache) -> dict[str, str]:
    """An admin token of the gateway's issuer (the same database holds its signing keys)."""
    token = await mint(db, settings.token_settings(), keys, subject="operator:bench", scope="admin",
                       lifetime=timedelta(hours=1))  # fmt: skip
    return {"Authorization": f"Bearer {token}"}


async def seeded(database: str, members: int, purchases: int) -> tuple[str, dict[str, str]]:
    """A fresh database `database` with `members` and `purchases`; its URL and an operator's
    Authorization header for a gateway served over it."""
    url = await fresh_database(database)
    db = Database(url)
    await upgrade(db)
    started = time.perf_counter()
    await seed(db, Program(), member_count=members, purchase_count=purchases)
    print(f"seeded {members} members, {purchases} purchases "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    settings = Settings.from_env({"DATABASE_URL": url, "POINTGATE_DATA_KEYS": DATA_KEY})
    headers = await operator_headers(db, settings, KeyCache(db, settings.token_settings()))
    await db.dispose()
    return url, headers


async def bare_asyncpg_rate(dsn: str, connections: int, seconds: float) -> float:
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, owner bigint,"
            " amount numeric(20, 4));"
            "CREATE TABLE IF NOT EXISTS bench_totals (owner bigint PRIMARY KEY, total bigint);"
            "INSERT INTO bench_totals SELECT g, 0 FROM generate_series(1, 10000) g"
            " ON CONFLICT DO NOTHING"
        )

    async def one(worker: int, n: int) -> bool:
        owner = (worker * 100_003 + n) % 10_000 + 1
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO bench_rows (owner, amount) VALUES ($1, 12.34)", owner)
            await conn.execute("UPDATE bench_totals SET total = total + 12 WHERE owner = $1", owner)
        return True

    result = await run_load(connections, seconds, one)
    await pool.close()
    return result.rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--purchases", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database", default="pointgate_bench")
    options = parser.parse_args()

    url, headers = await seeded(options.database, options.members, options.purchases)

    print(f"SQL statements per nested request: {await statements_per_request(url)}")
    with served_gateway(url, extra_env=SERVED) as endpoint:
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as http:

            async def nested(_worker: int, _n: int) -> bool:
                response = await http.post(endpoint, json={"query": NESTED})
                return response.status_code == 200 and b'"errors"' not in response.content

            await run_load(4, 2, nested)  # warm-up
            result = await run_load(16, options.seconds, nested)
            print(result.line("nested query, 16 connections"))

            for connections in (1, 16):

                async def record(worker: int, n: int, c: int = connections) -> bool:
                    member_id = (worker * 7919 + n * 16 + c) % options.members + 1
                    variables = {"input": {
                        "member": {"id": str(member_id)}, "channel": "ONLINE", "source": "bench",
                        "externalOrderId": f"{c}-{worker}-{n}", "amount": "12.34"}}  # fmt: skip
                    response = await http.post(endpoint, json={"query": RECORD,
                                                               "variables": variables})  # fmt: skip
                    return b'"errors"' not in response.content

                purchases = await run_load(connections, options.seconds, record)
                print(purchases.line(f"recordPurchase, {connections} connection(s)"))
                dsn = url.replace("postgresql+asyncpg://", "postgresql://")
                bare = await bare_asyncpg_rate(dsn, connections, options.seconds)
                print(
                    f"{'bare asyncpg insert+update, ' + str(connections) + ' connection(s)':<44}"
                    f" {bare:9.1f} tx/s    recordPurchase / bare = {purchases.rate / bare:.2f}"
                )


if __name__ == "__main__":
    asyncio.run(main())
