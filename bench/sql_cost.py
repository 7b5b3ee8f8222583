"""What a server's statements cost PostgreSQL, for bench/side_by_side.py: the mean execution
time per statement under load (pg_stat_statements) and the plans with their timing and buffers
(auto_explain's EXPLAIN (ANALYZE, BUFFERS) of every statement, read from the server's log).

pg_stat_statements must be preloaded (`shared_preload_libraries = 'pg_stat_statements'`,
`pg_stat_statements.track = all`, a restart); without it the figures print as n/a."""

from __future__ import annotations

import os
import re
from pathlib import Path

import asyncpg

from bench.common import ADMIN_DSN

# How each server's main statement is told apart in pg_stat_statements. Pointgate's compiled
# statement writes its JSON as text, a concatenation that starts with the `members` key, over
# `members AS members_1`; pg_stat_statements shows its constants as $n when it parsed the
# statement itself, and the text as sent when a prepared statement (asyncpg's cache) ran again
# after a reset. PostGraphile v5's names its `__members__` table alias.
MAIN_STATEMENT = {
    "pointgate": "(query LIKE 'SELECT ''{\"members\":''%'"
    " OR query LIKE 'SELECT $1 || %FROM members AS members_1 %')",
    "postgraphile": "position('__members__' in query) > 0",
}


async def _admin(database: str) -> asyncpg.Connection:
    return await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}")


async def statements_available(database: str) -> bool:
    conn = await _admin(database)
    try:
        loaded = await conn.fetchval("SHOW shared_preload_libraries")
        if "pg_stat_statements" not in loaded:
            return False
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return True
    finally:
        await conn.close()


async def reset_statements(database: str) -> None:
    conn = await _admin(database)
    try:
        await conn.execute("SELECT pg_stat_statements_reset()")
    finally:
        await conn.close()


async def main_statement_cost(database: str, server: str) -> tuple[int, float]:
    """(calls, mean execution ms) of the server's main statement since the last reset."""
    conn = await _admin(database)
    try:
        row = await conn.fetchrow(
            "SELECT coalesce(sum(calls), 0) AS calls,"
            " coalesce(sum(total_exec_time) / nullif(sum(calls), 0), 0) AS mean"
            " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            f" WHERE d.datname = $1 AND {MAIN_STATEMENT[server]}",
            database,
        )
    finally:
        await conn.close()
    return int(row["calls"]), float(row["mean"])


async def set_auto_explain(database: str, on: bool) -> None:
    """Every new session of `database` logs EXPLAIN (ANALYZE, BUFFERS) of each statement."""
    conn = await _admin(database)
    try:
        names = ("session_preload_libraries", "auto_explain.log_min_duration",
                 "auto_explain.log_analyze", "auto_explain.log_buffers",
                 "auto_explain.log_nested_statements")  # fmt: skip
        values = ("'auto_explain'", "0", "on", "on", "off")
        for name, value in zip(names, values, strict=True):
            setting = f"SET {name} = {value}" if on else f"RESET {name}"
            await conn.execute(f'ALTER DATABASE "{database}" {setting}')
    finally:
        await conn.close()


PLAN_START = re.compile(r"LOG:  duration: ([\d.]+) ms  plan:\n")


def plans_logged(log: Path, since: int) -> list[tuple[float, str]]:
    """(duration in ms, plan) of each statement auto_explain logged after byte `since`."""
    with log.open("rb") as handle:
        handle.seek(since)
        text = handle.read().decode(errors="replace")
    plans = []
    for match in PLAN_START.finditer(text):
        end = text.find("\n20", match.end())  # the next log line starts with its timestamp
        plans.append((float(match[1]), text[match.end() : end if end > 0 else None]))
    return plans


def plan_summary(duration: float, plan: str) -> str:
    """Its duration, the shared buffers its top node hit and read, its SubPlans."""
    hits = re.search(r"Buffers: shared hit=(\d+)(?: read=(\d+))?", plan)
    subplans = len(re.findall(r"SubPlan \d+", plan))
    buffers = f"shared hit {hits[1]} read {hits[2] or 0}" if hits else "buffers ?"
    return f"{duration:.2f} ms (timed per node), {buffers}, {subplans} subplans"


def postgres_cpu_seconds() -> float:
    """CPU seconds (user and system) that PostgreSQL's processes on this machine have used:
    read before and after a load, it gives the server's CPU per request whatever the
    concurrency (a statement's mean time under load also counts its waits for a core)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended
            continue
        name_end = text.rfind(")")
        if text[text.find("(") + 1 : name_end] != "postgres":
            continue
        fields = text[name_end + 2 :].split()
        # utime, stime, and the children's that ended (the postmaster's: closed sessions)
        ticks += sum(int(field) for field in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")
