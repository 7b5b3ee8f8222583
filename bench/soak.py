"""Soak (issue 16), on PostgreSQL: minutes of mixed load, then the books are checked.

Seeds members and purchases, serves the gateway (2 workers) and a simulated partner program over
HTTP with random faults (timeouts, 5xx, refusals, lost answers, slowness), and loads the gateway
with wrk at 16 connections, one minute at a time: reads (a member with balance and purchases),
purchases, partial refunds of purchases it made, point and reward redemptions, outbound
exchanges (quote, then request), and retries of writes it already sent (same idempotency key).
Per minute it prints throughput, p50/p99 and each worker's resident memory. Then it lets the
reconciliation settle the exchanges the faults left open and checks:

- the ledger's invariants and the growth buckets (as `pointgate jobs reconcile` does);
- every write the load got an answer for is stored once (purchases, refunds, redemptions,
  exchanges: acknowledged ids = stored ids; retries stored nothing twice);
- no exchange is left RESERVED or UNKNOWN, and the partner holds exactly the units of the
  exchanges POSTED (no point lost or created by a fault).

    .venv/bin/python -m bench.soak [--minutes 10] [--members 10000] [--fault-rate 0.05]

Needs wrk (Debian package). Figures are for comparing minutes within the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets as pysecrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.common import DATA_KEY, SERVED, serving
from bench.gateway_load import seeded
from bench.load import milliseconds
from bench.writes import add_reward, connect_airline, lua_body, simulated_partner
from infra.database import Database
from infra.models import exchanges, purchases, redemptions, refunds
from loyalty import books, growth
from partners.simulated import signature

CONNECTIONS = 16
READ = "query R($id: ID!) { member(id: $id) { id tier balance { available } purchases(first: 5) { edges { node { id amount } } } } }"  # noqa: E501
OPERATIONS = {
    "READ": (READ, None),
    "PURCHASE": ("mutation M($input: RecordPurchaseInput!) { recordPurchase(input: $input) { id } }",  # noqa: E501
                 '{"member":{"id":"%d"},"channel":"ONLINE","source":"soak","externalOrderId":"%s","amount":"12.34"}'),
    "REFUND": ("mutation M($input: RefundPurchaseInput!) { refundPurchase(input: $input) { id } }",
               '{"purchaseId":"%s","amount":"1.00","idempotencyKey":"%s"}'),
    "REDEEM": ("mutation M($input: RedeemPointsInput!) { redeemPoints(input: $input) { id } }",
               '{"member":{"id":"%d"},"points":5,"channel":"ONLINE","idempotencyKey":"%s"}'),
    "REWARD": ("mutation M($input: RedeemRewardInput!) { redeemReward(input: $input) { id } }",
               '{"member":{"id":"%d"},"rewardId":"REWARD","idempotencyKey":"%s"}'),
    "QUOTE": ("mutation M($input: QuoteExchangeInput!) { quoteExchange(input: $input) { id } }",
              '{"member":{"id":"%d"},"partnerId":"AIRLINE","points":100}'),
    "EXCHANGE": ("mutation M($input: RequestExchangeInput!) { requestExchange(input: $input) { id state } }",  # noqa: E501
                 '{"quoteId":"%s","idempotencyKey":"%s"}'),
}  # fmt: skip

LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("tid", #threads) end
local counter = 0
made = {}          -- purchase ids this thread made (refunded later)
quotes = {}        -- quote ids waiting for their request
sent = {}          -- recent write bodies, resent as retries
acked = {}         -- "KIND id" of every write answered (flat: wrk copies no nested tables)
codes = {}
function init(args) math.randomseed(tid * 7919 + os.time()) end
local function key() return string.format("%s-%d-%d", RUN, tid, counter) end
function request()
  counter = counter + 1
  local body, write = nil, true
  if #quotes > 0 then
    body = string.format(T.EXCHANGE, table.remove(quotes, 1), key())
  else
    local roll = math.random(100)
    local member = math.random(MEMBERS)
    if roll <= 40 then body, write = string.format(T.READ, member), false
    elseif roll <= 64 then body = string.format(T.PURCHASE, member, key())
    elseif roll <= 72 and #made > 0 then
      body = string.format(T.REFUND, table.remove(made, 1), key())
    elseif roll <= 82 then body = string.format(T.REDEEM, member, key())
    elseif roll <= 87 then body = string.format(T.REWARD, member, key())
    elseif roll <= 94 then
      -- members with an account at the airline: ids 1, 4, 7, ...
      local holder = 3 * math.random(0, math.floor((MEMBERS - 1) / 3)) + 1
      body, write = string.format(T.QUOTE, holder), false
    elseif #sent > 0 then body, write = sent[math.random(#sent)], false
    else body, write = string.format(T.READ, member), false end
  end
  if write then
    table.insert(sent, body)
    if #sent > 200 then table.remove(sent, 1) end
  end
  return wrk.format(nil, nil, nil, body)
end
local FIELDS = {recordPurchase = "PURCHASE", refundPurchase = "REFUND", redeemPoints = "REDEEM",
                redeemReward = "REWARD", requestExchange = "EXCHANGE"}
function response(status, headers, body)
  if status ~= 200 then codes["HTTP_" .. status] = (codes["HTTP_" .. status] or 0) + 1 end
  local code = string.match(body, '"code":"([%u_]+)"')
  if code then codes[code] = (codes[code] or 0) + 1 end
  local quote = string.match(body, '"quoteExchange":{"id":"([%w%-]+)"')
  if quote then table.insert(quotes, quote); return end
  for field, kind in pairs(FIELDS) do
    local id = string.match(body, '"' .. field .. '":{"id":"([%w%-]+)"')
    if id then
      if kind == "PURCHASE" and not acked[kind .. " " .. id] then table.insert(made, id) end
      acked[kind .. " " .. id] = true
      return
    end
  end
end
function done(summary, latency, requests)
  local out = io.open(OUT, "w")
  for _, thread in ipairs(threads) do
    for answered in pairs(thread:get("acked")) do out:write(answered, "\\n") end
    for code, n in pairs(thread:get("codes")) do out:write("CODE ", code, " ", n, "\\n") end
  end
  out:close()
end
"""


def lua(members: int, headers: dict[str, str], run: str, reward_id: int, airline: int,
        out: str) -> str:  # fmt: skip
    templates = {
        name: lua_body(query, variables.replace("REWARD", str(reward_id))
                       .replace("AIRLINE", str(airline)) if variables else None)
        for name, (query, variables) in OPERATIONS.items()
    }  # fmt: skip
    return "\n".join([
        'wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"',
        *(f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in headers.items()),
        f"RUN, MEMBERS, OUT = {json.dumps(run)}, {members}, {json.dumps(out)}",
        "T = {" + ", ".join(f"{k} = {v}" for k, v in templates.items()) + "}",
        LUA,
    ])  # fmt: skip


def wrk_minute(url: str, script: str) -> dict[str, Any]:
    output: Any
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as handle:
        handle.write(script)
        handle.flush()
        output = subprocess.run(
            ["wrk", "-t2", f"-c{CONNECTIONS}", "-d60s", "--timeout", "30s", "--latency",
             "-s", handle.name, url],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    if ".lua:" in output.stderr:  # wrk runs on with its defaults after a script error
        raise RuntimeError(f"the load script failed: {output.stderr}")
    output = output.stdout
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),  # type: ignore[index]
        "p50": milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.M)[1]),  # type: ignore[index]
        "p99": milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.M)[1]),  # type: ignore[index]
        "timeouts": int((re.search(r"timeout (\d+)", output) or [0, 0])[1]),
    }


def partner_units(url: str, secret: str, accounts: list[str]) -> int:
    body = json.dumps({"accounts": accounts}).encode()
    stamp = str(int(time.time()))
    answer = httpx.post(f"{url}/balances", content=body, timeout=30, headers={
        "x-pointgate-timestamp": stamp, "x-pointgate-signature": signature(secret, stamp, body),
    }).json()  # fmt: skip
    return sum(answer["balances"].values())


def reconcile(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "POINTGATE_DATA_KEYS": DATA_KEY}
    # The load has stopped and its last requests finished: whatever is still RESERVED was left
    # by a request that failed after holding the points, which is what reconciliation is for.
    subprocess.run([sys.executable, "-m", "gateway.cli", "jobs", "reconcile", "--stale-seconds",
                    "0"], env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip


async def verify(url: str, acked: dict[str, set[str]], run: str, partner_url: str, secret: str,
                 airline: int) -> bool:  # fmt: skip
    db = Database(url)
    ok = True
    async with db.read() as conn:
        problems = await books.verify(conn) + await growth.verify(conn)
        print(f"ledger and growth buckets: {'sound' if not problems else problems[:5]}")
        ok &= not problems
        stored = {
            "PURCHASE": select(purchases.c.id).where(purchases.c.source == "soak"),
            "REFUND": select(refunds.c.id).where(refunds.c.idempotency_key.contains(run)),
            "REDEEM": select(redemptions.c.id).where(redemptions.c.reward_id.is_(None),
                                                     redemptions.c.idempotency_key.contains(run)),
            "REWARD": select(redemptions.c.id).where(redemptions.c.reward_id.is_not(None),
                                                     redemptions.c.idempotency_key.contains(run)),
            "EXCHANGE": select(exchanges.c.id).where(exchanges.c.idempotency_key.contains(run)),
        }  # fmt: skip
        for kind, query in stored.items():
            ids = {str(i) for i in await conn.scalars(query)}
            lost, unanswered = acked[kind] - ids, ids - acked[kind]
            print(f"{kind:<9} answered {len(acked[kind]):>7}  stored {len(ids):>7}  "
                  f"lost {len(lost)}  stored without an answer (cut at a minute's end) "
                  f"{len(unanswered)}")  # fmt: skip
            ok &= not lost and len(unanswered) <= CONNECTIONS * 12
        states: dict[str, int] = dict(list(await conn.execute(
            select(exchanges.c.state, func.count()).where(exchanges.c.partner_id == airline)
            .group_by(exchanges.c.state)
        )))  # fmt: skip
        posted_units = int(await conn.scalar(  # type: ignore[arg-type]
            select(func.coalesce(func.sum(exchanges.c.units), 0))
            .where(exchanges.c.partner_id == airline, exchanges.c.state == "POSTED")
        ))  # fmt: skip
        accounts = list(await conn.scalars(
            select(exchanges.c.external_account).where(exchanges.c.partner_id == airline)
            .distinct()
        ))  # fmt: skip
    await db.dispose()
    held = partner_units(partner_url, secret, accounts)
    print(f"exchanges by state: {states}")
    print(f"partner holds {held} units; posted exchanges carried {posted_units}")
    ok &= held == posted_units and not ({"RESERVED", "UNKNOWN"} & set(states))
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--purchases", type=int, default=100_000)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--database", default="pointgate_soak")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    url, headers = asyncio.run(seeded(options.database, options.members, options.purchases))
    reward_id = asyncio.run(add_reward(url))
    secret = pysecrets.token_hex(16)
    run = f"soak{pysecrets.token_hex(3)}"
    acked: dict[str, set[str]] = defaultdict(set)
    codes: Counter[str] = Counter()
    # Exchanges the faults leave open are the reconciliation's (run at the end), not the load's.
    env = {**SERVED, "POINTGATE_CONNECTOR_TIMEOUT": "2"}
    with simulated_partner(secret, options.fault_rate) as partner_url:
        airline = asyncio.run(connect_airline(url, partner_url, secret))
        with serving(url, 2, env) as served, tempfile.TemporaryDirectory() as scratch:
            print(f"{'minute':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'timeouts':>8}"
                  "  worker memory (MiB)")  # fmt: skip
            for minute in range(1, options.minutes + 1):
                out = f"{scratch}/acked-{minute}.txt"
                script = lua(options.members, headers, f"{run}m{minute}", reward_id, airline, out)
                figures = wrk_minute(served.url, script)
                memory = [round(size / 2**20, 1) for size in served.worker_memory()]
                print(f"{minute:>6} {figures['rate']:>8.1f} {figures['p50']:>8.1f}"
                      f" {figures['p99']:>8.1f} {figures['timeouts']:>8}  {memory}",
                      flush=True)  # fmt: skip
                with open(out) as answers:
                    lines = answers.read().splitlines()
                for line in lines:
                    kind, value, *count = line.split()
                    if kind == "CODE":
                        codes[value] += int(count[0])
                    else:
                        acked[kind].add(value)
            time.sleep(5)  # requests cut at the last minute's end finish
        print(f"refusals and errors by code: {dict(codes.most_common())}")
        failures = sum(n for code, n in codes.items()
                       if code == "INTERNAL_SERVER_ERROR" or code.startswith("HTTP_5"))  # fmt: skip
        reconcile(url)  # UNKNOWN and left RESERVED exchanges are settled by asking the partner
        ok = asyncio.run(verify(url, acked, run, partner_url, secret, airline))
    ok = ok and not failures
    print("verified: no write lost or stored twice, no request failed" if ok
          else f"VERIFICATION FAILED ({failures} requests failed)")  # fmt: skip
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
