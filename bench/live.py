"""Live updates (issue 31), on PostgreSQL: many subscribers on one worker while real purchases
commit.

Seeds members, serves one gateway worker for the subscribers and another server for the
writes, opens `--subscribers` WebSocket subscriptions (graphql-transport-ws; members following
their own account, and partners' clients each following one member's activity at the
partner), measures the subscribers' worker's memory per idle subscription, then has wrk record
purchases at the partners (each a POINTS event for its member and partner) for `--seconds`, and
reports: events committed per second, the delay from each event's transaction to its delivery
(p50/p99, from the event's own time, taken before its commit), and per subscriber the events
lost (committed for it, not received) or received twice, counted against the table.

    .venv/bin/python -m bench.live [--subscribers 5000] [--seconds 20] [--connections 16]

The load generator, the subscriber clients (Python), both servers and PostgreSQL share this
machine: read the delivery delay as an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import time
from datetime import datetime, timedelta

import orjson
import websockets
from sqlalchemy import select

from auth import clients
from auth.tokens import KeyCache, mint
from bench.common import SERVED, serving
from bench.gateway_load import seeded
from bench.writes import ERRORS_COUNTED, lua_body, wrk
from gateway.settings import Settings
from infra.database import Database
from infra.models import live_events, partners

PURCHASE = (
    "mutation M($input: RecordPurchaseInput!) { recordPurchase(input: $input) { id } }",
    '{"member":{"id":"%d"},"channel":"PARTNER","partnerId":"%s","source":"wrk",'
    '"externalOrderId":"%s","amount":"12.34"}',
)
FOLLOW = "subscription F($m: ID) { liveUpdates(kinds: [POINTS], memberId: $m) { eventId at } }"
# Every this many subscribers, a partner's client (following one member) instead of a member.
PARTNER_EVERY = 10


class Follower:
    """One subscription: the event ids it received, and each one's delay."""

    __slots__ = ("delays", "member", "received", "token")

    def __init__(self, token: str, member: int | None) -> None:
        self.token = token
        self.member = member
        self.received: list[int] = []
        self.delays: list[float] = []

    async def run(self, url: str, ready: asyncio.Event, opened: list[int],
                  opening: asyncio.Semaphore) -> None:  # fmt: skip
        await opening.acquire()  # a few handshakes at a time, as clients arrive over time
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                                      max_queue=64, ping_interval=None, open_timeout=120,
                                      compression=None) as socket_:  # fmt: skip
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}}
            await socket_.send(orjson.dumps(init).decode())
            await socket_.recv()
            variables = {"m": str(self.member)} if self.member is not None else {}
            await socket_.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": {
                "query": FOLLOW, "variables": variables}}).decode())  # fmt: skip
            opening.release()
            opened[0] += 1
            if opened[0] == opened[1]:
                ready.set()
            async for raw in socket_:
                message = orjson.loads(raw)
                if message["type"] != "next":
                    raise RuntimeError(f"subscription ended: {message}")
                update = message["payload"]["data"]["liveUpdates"]
                self.received.append(int(update["eventId"]))
                sent = datetime.fromisoformat(update["at"]).timestamp()
                self.delays.append(time.time() - sent)


Made = tuple[str, int | None, int, int | None]


async def tokens(url: str, subscribers: int, members: int) -> tuple[list[Made], list[int]]:
    """Per subscriber (token, the member a partner's client follows or None, the member, the
    partner or None), and the partners' ids."""
    db = Database(url)
    settings = Settings.from_env({"DATABASE_URL": url})
    keys = KeyCache(db, settings.token_settings())
    async with db.read() as conn:
        partner_ids = list(await conn.scalars(select(partners.c.id).order_by(partners.c.id)))
    partner_tokens = []
    for partner_id in partner_ids:
        made = await clients.create_client(db, name=f"live-{partner_id}", scopes=["members:read"],
                                           partner_id=partner_id)  # fmt: skip
        partner_tokens.append(
            await mint(
                db,
                settings.token_settings(),
                keys,
                subject=made.client_id,
                scope="members:read",
                client_id=made.client_id,
                lifetime=timedelta(hours=2),
            )
        )
    made_tokens: list[Made] = []
    for n in range(subscribers):
        member = n % members + 1
        at = member % len(partner_ids)  # the partner its purchases are made at (partner_lua)
        if n % PARTNER_EVERY == PARTNER_EVERY - 1:
            made_tokens.append((partner_tokens[at], member, member, partner_ids[at]))
        else:
            own = await mint(db, settings.token_settings(), keys, subject=f"member:{member}",
                             lifetime=timedelta(hours=2))  # fmt: skip
            made_tokens.append((own, None, member, None))
    await db.dispose()
    return made_tokens, partner_ids


def partner_lua(members: int, partner_ids: list[int], headers: dict[str, str], run: str) -> str:
    """wrk: each request a purchase of another member, at the partner of its member (the one
    whose client follows it, if any)."""
    template = lua_body(PURCHASE[0], PURCHASE[1].replace('%s","source', '%d","source'))
    choices = "{" + ", ".join(str(p) for p in partner_ids) + "}"
    return "\n".join([
        'wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"',
        *(f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in headers.items()),
        f"local counter, threads, partners = 0, {{}}, {choices}",
        "errors = 0  -- a global: done() reads it from each thread",
        "function setup(thread) table.insert(threads, thread); thread:set('tid', #threads) end",
        "function request()",
        "  counter = counter + 1",
        f"  local member = (counter * 7919 + tid * 104729) % {members} + 1",
        "  local partner = partners[member % #partners + 1]",
        f'  local key = string.format("{run}-%d-%d", tid, counter)',
        f"  return wrk.format(nil, nil, nil, string.format({template}, member, partner, key))",
        "end",
        *ERRORS_COUNTED,
    ])  # fmt: skip


async def committed(url: str, after: int) -> dict[int, list[tuple[int, int | None]]]:
    """POINTS events written after id `after`: member -> [(id, partner)]."""
    db = Database(url)
    async with db.read() as conn:
        chosen = select(live_events.c.id, live_events.c.member_id, live_events.c.partner_id)
        rows = await conn.execute(
            chosen.where(live_events.c.id > after, live_events.c.kind == "POINTS")
        )
        found: dict[int, list[tuple[int, int | None]]] = {}
        for row in rows:
            found.setdefault(row.member_id, []).append((row.id, row.partner_id))
    await db.dispose()
    return found


async def last_event(url: str) -> int:
    db = Database(url)
    async with db.read() as conn:
        last = await conn.scalar(select(live_events.c.id).order_by(live_events.c.id.desc())
                                 .limit(1))  # fmt: skip
    await db.dispose()
    return int(last or 0)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def follow_all(endpoint: str, made: list[Made]) -> tuple[
        list[Follower], list[asyncio.Task[None]], float]:  # fmt: skip
    ws_url = endpoint.replace("http://", "ws://")
    followers = [Follower(token, member) for token, member, _, _ in made]
    ready, opened, opening = asyncio.Event(), [0, len(followers)], asyncio.Semaphore(32)
    started = time.monotonic()
    tasks = [asyncio.create_task(f.run(ws_url, ready, opened, opening)) for f in followers]
    await asyncio.wait_for(ready.wait(), 600)
    return followers, tasks, time.monotonic() - started


Committed = dict[int, list[tuple[int, int | None]]]


def tally(made: list[Made], followers: list[Follower], events: Committed) -> tuple[int, ...]:
    """(events expected by subscribers, lost, received twice, received but not theirs)."""
    expected_total = lost = twice = foreign = 0
    for (_, _, member, partner), follower in zip(made, followers, strict=True):
        expected = {i for i, at in events.get(member, []) if partner is None or at == partner}
        received = set(follower.received)
        expected_total += len(expected)
        lost += len(expected - received)
        twice += len(follower.received) - len(received)
        foreign += len(received - expected)
    return expected_total, lost, twice, foreign


async def measure(options: argparse.Namespace, url: str, headers: dict[str, str]) -> None:
    made, partner_ids = await tokens(url, options.subscribers, options.members)
    many = {**SERVED, "POINTGATE_LIVE_SUBSCRIPTIONS_PER_PRINCIPAL": str(options.subscribers)}
    with serving(url, 1, many) as listening, serving(url, 1, SERVED) as writing:
        before = listening.worker_memory()[0]
        followers, tasks, took = await follow_all(listening.url, made)
        await asyncio.sleep(2)
        idle = (listening.worker_memory()[0] - before) / len(followers)
        print(
            f"{len(followers)} subscriptions open in {took:.1f} s; subscribers' worker memory "
            f"{before / 2**20:.0f} MB before, {idle / 1024:.1f} KB per idle subscription"
        )
        start = await last_event(url)
        script = partner_lua(options.members, partner_ids, headers, f"live-{int(time.time())}")
        figures = await asyncio.to_thread(wrk, writing.url, script, options.connections,
                                          options.seconds)  # fmt: skip
        await asyncio.sleep(3)  # the last commits' deliveries
        for task in tasks:
            task.cancel()
        events = await committed(url, start)
    count = sum(len(found) for found in events.values())
    expected, lost, twice, foreign = tally(made, followers, events)
    delays = [d * 1000 for follower in followers for d in follower.delays]
    print(
        f"purchases: {figures.rate:.1f} req/s at {options.connections} connections "
        f"({figures.failed} failed); POINTS events committed: {count / options.seconds:.1f}/s"
    )
    print(
        f"deliveries: {len(delays)} of {expected} expected; commit to delivery p50 "
        f"{percentile(delays, 0.5):.1f} ms, p99 {percentile(delays, 0.99):.1f} ms"
    )
    print(f"lost {lost}, received twice {twice}, received but not the subscriber's {foreign}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5_000)
    parser.add_argument("--purchases", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=5_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database", default="pointgate_bench_live")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    # A socket per subscriber, in this process and in the server it starts.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    url, headers = asyncio.run(seeded(options.database, options.members, options.purchases))
    asyncio.run(measure(options, url, headers))


if __name__ == "__main__":
    main()
