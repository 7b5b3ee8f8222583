"""Pointgate behind a real federation router: Hive Gateway (infra/composition/package.json)
serves a supergraph of Pointgate and the example reviews subgraph (infra/deploy/reviews), and a
partner's client queries across both. Ownership, the cost limit under `_entities`, error codes
and billing must hold as they do when the partner calls Pointgate directly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from auth import clients
from infra.database import Database
from infra.models import api_usage, partners
from loyalty import ledger, member
from loyalty.member import IdentityKind
from loyalty.visibility import EVERYTHING
from partners.settlement import usage
from tests.conftest import TEST_DATA_KEY
from tests.factories import a_member, a_partner, move
from tests.infra.test_composition import COMPOSITION, REVIEWS, node_and_packages, reviews_sdl

ROUTER_TOKEN = "router-credential-for-tests"
CROSS = "{ latestReviews { stars author { id displayName } } }"
MEMBERS_WITH_REVIEWS = "{ members(first: 10) { nodes { id displayName reviews { stars } } } }"
BOTH = """{ members(first: 10) { nodes { id reviews { stars } } }
  latestReviews { author { displayName } } }"""
DEEP = """{ latestReviews { author { purchases(first: 100) { nodes { member {
  purchases(first: 100) { nodes { id } } } } } } } }"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start: {log.read_text()[-2000:]}")


@dataclass
class Stack:
    router: str
    db: Database
    partner_token: str
    linked_id: int
    stranger_id: int
    # the header names each request to the reviews subgraph brought
    reviews_headers: Path
    # Pointgate's output (its spans, printed by the console exporter) and what the router
    # exported over OTLP/HTTP (JSON bodies)
    pointgate_log: Path
    router_spans: list[dict]


class SpanSink(ThreadingHTTPServer):
    """An OTLP/HTTP receiver standing in for the collector: keeps each JSON body posted."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        sink = self

        class Receive(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("transfer-encoding") == "chunked":  # Node's exporter
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        body += self.rfile.read(size)
                        self.rfile.readline()
                    self.rfile.readline()
                with contextlib.suppress(ValueError):
                    sink.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Receive)


class Processes:
    def __init__(self, folder: Path) -> None:
        self.folder, self.running = folder, []

    def serve(
        self, name: str, command: list[str], env: dict[str, str], cwd: Path, ready: str
    ) -> None:
        """Start a server and wait until `ready` answers."""
        log = self.folder / f"{name}.log"
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log.open("wb"),
                                   stderr=subprocess.STDOUT)  # fmt: skip
        self.running.append((process, log))
        wait_for(ready, process, log)

    def stop(self) -> None:
        for process, _ in self.running:
            process.terminate()
        for process, _ in self.running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    running = Processes(tmp_path_factory.mktemp("federation"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def span_sink() -> Iterator[SpanSink]:
    sink = SpanSink()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    yield sink
    sink.shutdown()


@pytest.fixture(scope="module")
async def stack(processes: Processes, span_sink: SpanSink) -> AsyncIterator[Stack]:
    node = node_and_packages()
    folder = processes.folder
    ours, reviews, router = free_port(), free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'stack.db'}",
           "POINTGATE_DATA_KEYS": TEST_DATA_KEY, "POINTGATE_ROUTER_TOKEN": ROUTER_TOKEN,
           "POINTGATE_ISSUER": f"http://127.0.0.1:{ours}"}  # fmt: skip
    # Pointgate prints its spans (exported within 100 ms); the router sends its own to the sink
    traced = {**env, "OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "100"}
    sink = f"http://127.0.0.1:{span_sink.server_address[1]}/v1/traces"
    cli = [sys.executable, "-m", "gateway.cli"]
    run = partial(subprocess.run, env=env, capture_output=True, text=True, check=True,
                  timeout=120)  # fmt: skip
    await asyncio.to_thread(run, [*cli, "migrate"])
    db = Database(env["DATABASE_URL"])
    partner = await a_partner(db, "acme-coffee")
    linked = await a_member(db, "Linked Lin")
    stranger = await a_member(db, "Stranger Sam")
    await member.link_identity(db, member_id=linked.id, kind=IdentityKind.PARTNER_ACCOUNT,
                               value="ACME-1", partner_id=partner.id,
                               visible=EVERYTHING)  # fmt: skip
    client = await clients.create_client(db, name="pos", scopes=["members:read"],
                                         partner_code="acme-coffee")  # fmt: skip
    sdl = await asyncio.to_thread(run, [*cli, "sdl"])
    (folder / "pointgate.graphql").write_text(sdl.stdout)
    (folder / "reviews.graphql").write_text(await asyncio.to_thread(reviews_sdl))
    composed = await asyncio.to_thread(
        run, [node, "compose.mjs",
              f"pointgate={folder / 'pointgate.graphql'}=http://127.0.0.1:{ours}/graphql",
              f"reviews={folder / 'reviews.graphql'}=http://127.0.0.1:{reviews}/graphql"],
        cwd=COMPOSITION,
    )  # fmt: skip
    (folder / "supergraph.graphql").write_text(composed.stdout)

    await asyncio.to_thread(
        processes.serve, "pointgate", [*cli, "serve", "--port", str(ours)], traced, folder,
        f"http://127.0.0.1:{ours}/healthz",
    )  # fmt: skip
    await asyncio.to_thread(
        processes.serve, "reviews",
        [sys.executable, "-m", "uvicorn", "reviews:app", "--port", str(reviews)],
        {**env, "REVIEW_AUTHORS": f"{linked.id},{stranger.id}",
         "REVIEWS_HEADER_LOG": str(folder / "reviews-headers.log")}, REVIEWS.parent,
        f"http://127.0.0.1:{reviews}/graphql?query=%7B__typename%7D",
    )  # fmt: skip
    await asyncio.to_thread(
        processes.serve, "hive-gateway", [node, "node_modules/.bin/hive-gateway", "supergraph"],
        {**env, "SUPERGRAPH": str(folder / "supergraph.graphql"), "PORT": str(router),
         "HOST": "127.0.0.1", "OPENTELEMETRY": sink, "OTEL_BSP_SCHEDULE_DELAY": "100"},
        COMPOSITION, f"http://127.0.0.1:{router}/healthcheck",
    )  # fmt: skip
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"http://127.0.0.1:{ours}/oauth/token",
                                 data={"grant_type": "client_credentials"},
                                 auth=(client.client_id, client.client_secret))  # fmt: skip
    token = answer.json()["access_token"]
    yield Stack(
        f"http://127.0.0.1:{router}/graphql",
        db,
        token,
        linked.id,
        stranger.id,
        folder / "reviews-headers.log",
        folder / "pointgate.log",
        span_sink.bodies,
    )
    await db.dispose()


async def ask(stack: Stack, query: str, token: str | None = None, **headers: str) -> dict:
    if token:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(stack.router, json={"query": query}, headers=headers)
    return dict(response.json())


def codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def test_a_cross_subgraph_query_shows_the_partner_only_its_own_members(stack):
    listed = await ask(stack, MEMBERS_WITH_REVIEWS, stack.partner_token)
    reviewed = await ask(stack, CROSS, stack.partner_token)

    assert listed.get("data"), listed
    assert listed["data"]["members"]["nodes"] == [
        {"id": str(stack.linked_id), "displayName": "Linked Lin",
         "reviews": [{"stars": stack.linked_id % 5 + 1}]}]  # fmt: skip
    authors = [review["author"] for review in reviewed["data"]["latestReviews"]]
    assert authors == [{"id": str(stack.linked_id), "displayName": "Linked Lin"}, None]
    assert codes(reviewed) == ["NOT_FOUND"]
    assert "Stranger" not in str(reviewed)


async def test_the_cost_limit_holds_under_entities_through_the_router(stack):
    body = await ask(stack, DEEP, stack.partner_token)

    assert "QUERY_TOO_COMPLEX" in codes(body)
    assert not any(review["author"] for review in (body.get("data") or {}).get(
        "latestReviews") or [] if review)  # fmt: skip


async def test_one_client_operation_is_billed_once_however_many_fetches(stack):
    async def billed() -> int:
        async with stack.db.read() as conn:
            return int(await conn.scalar(select(func.coalesce(func.sum(api_usage.c.calls), 0))))

    # the gateway adds its counts every second: let earlier tests' counts land, and this one's
    await asyncio.sleep(2.5 * usage.FLUSH_SECONDS)
    before = await billed()
    body = await ask(stack, BOTH, stack.partner_token)  # members, then the authors' _entities
    await asyncio.sleep(2.5 * usage.FLUSH_SECONDS)
    after = await billed()

    assert body.get("data"), body
    assert body["data"]["members"]["nodes"][0]["reviews"]
    assert after - before == 1


async def test_errors_keep_their_codes_through_the_router(stack):
    anonymous = await ask(stack, MEMBERS_WITH_REVIEWS)
    forged = await ask(stack, MEMBERS_WITH_REVIEWS, "not-a-token")

    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert "UNAUTHENTICATED" in codes(forged)


async def test_the_router_credential_reaches_pointgate_only(stack):
    """Found from outside: Hive Gateway sent X-Pointgate-Router to every subgraph, so any
    subgraph's owner could act as the router."""
    before = stack.reviews_headers.read_text() if stack.reviews_headers.exists() else ""
    body = await ask(stack, BOTH, stack.partner_token)
    seen = stack.reviews_headers.read_text()[len(before) :].split("\n")

    assert body.get("data"), body
    fetches = [line.split() for line in seen if line]
    assert fetches and all("authorization" in names for names in fetches)
    assert not any({"x-pointgate-router", "x-pointgate-operation"} & set(names)
                   for names in fetches)  # fmt: skip


def router_span_ids(bodies: list[dict], trace_id: str) -> set[str]:
    """The ids of the router's spans in trace `trace_id` (OTLP/JSON: ids in hex)."""
    return {span["spanId"].lower()
            for body in bodies for resource in body.get("resourceSpans", [])
            for scope in resource.get("scopeSpans", []) for span in scope.get("spans", [])
            if span["traceId"].lower() == trace_id}  # fmt: skip


def pointgate_spans(log: Path, trace_id: str) -> list[dict]:
    """Pointgate's spans in trace `trace_id`, from the console exporter's JSON in its log."""
    text, decoder, found, at = log.read_text(errors="replace"), json.JSONDecoder(), [], 0
    while (at := text.find('{\n    "name"', at)) >= 0:
        try:
            span, end = decoder.raw_decode(text, at)
        except ValueError:
            at += 1
            continue
        if span.get("context", {}).get("trace_id") == f"0x{trace_id}":
            found.append(span)
        at = end
    return found


async def test_one_trace_runs_from_the_client_through_the_router_to_pointgates_sql(stack):
    """Found from outside: neither gateway continued a client's traceparent (two new trace
    ids per operation). The router continues it and passes it on; Pointgate's spans, down to
    its SQL statements, are children in the same trace."""
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    body = await ask(stack, MEMBERS_WITH_REVIEWS, stack.partner_token,
                     traceparent=f"00-{trace_id}-{parent}-01")  # fmt: skip
    assert body.get("data"), body

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ours = pointgate_spans(stack.pointgate_log, trace_id)
        routers = router_span_ids(stack.router_spans, trace_id)
        if routers and any(s.get("attributes", {}).get("db.system") for s in ours):
            break
        await asyncio.sleep(0.2)
    assert routers, (
        f"the router exported no span of the client's trace ({len(stack.router_spans)}"
        f" exports received; Pointgate's spans in it: {len(ours)})"
    )
    assert ours, "Pointgate has no span of the client's trace"
    statements = [s for s in ours if s.get("attributes", {}).get("db.system")]
    assert statements, [s["name"] for s in ours]
    # Pointgate's outermost span is a child of one of the router's (the subgraph fetch)
    own = {s["context"]["span_id"].removeprefix("0x") for s in ours}
    roots = [s for s in ours if (s.get("parent_id") or "").removeprefix("0x") not in own]
    assert roots and all(s["parent_id"].removeprefix("0x") in routers for s in roots)


FOLLOW = "subscription { liveUpdates { __typename ... on PointsMoved { memberId points } } }"


async def test_a_partner_follows_its_members_points_through_the_router(stack):
    """Hive Gateway forwards the subscription to Pointgate (SSE, its default for subgraphs)
    with the partner's token: the partner sees its linked member's points at it, and not a
    stranger's points made at no partner before them."""
    async with stack.db.read() as conn:
        partner_id = await conn.scalar(
            select(partners.c.id).where(partners.c.code == "acme-coffee")
        )

    async def earn_later() -> None:
        await asyncio.sleep(2)  # the subscription is open through the router by then
        await move(stack.db, "router-canary", ledger.ISSUANCE,
                   ledger.member_account(stack.stranger_id), 5)  # fmt: skip
        await move(stack.db, "router-live", ledger.ISSUANCE,
                   ledger.member_account(stack.linked_id), 42, partner_id=partner_id)  # fmt: skip

    headers = {"authorization": f"Bearer {stack.partner_token}", "accept": "text/event-stream"}
    earning = asyncio.create_task(earn_later())
    received = []
    async with (
        asyncio.timeout(30),  # (the stream's keep-alives would hold a read timeout off)
        httpx.AsyncClient(timeout=30) as http,
        http.stream("POST", stack.router, json={"query": FOLLOW}, headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("data:") and line[5:].strip():
                received.append(json.loads(line[5:]))
                break
    await earning

    assert received == [{"data": {"liveUpdates": {
        "__typename": "PointsMoved", "memberId": str(stack.linked_id), "points": 42}}}]  # fmt: skip
