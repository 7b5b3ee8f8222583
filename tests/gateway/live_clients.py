"""Subscribers for tests of live updates: the app served by uvicorn in the test's own event loop
(so it shares the test's database connections), and clients of both transports collecting what
they receive: SSE (graphql-sse, distinct connections) and graphql-transport-ws."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import uvicorn
import websockets

from gateway.live import WS

UPDATES = """subscription S($kinds: [LiveEventKind!], $member: ID, $partner: ID, $after: ID) {
  liveUpdates(kinds: $kinds, memberId: $member, partnerId: $partner, after: $after) {
    __typename eventId kind memberId partnerId
    ... on PointsMoved { transferId phase points reason balance }
    ... on ExchangeChanged { exchangeId state fromState direction points units }
    ... on StatementClosed { period currency payableByPartner payableByProgram }
    ... on CouponIssued { couponId code }
    ... on TierChanged { fromTier toTier }
    ... on BenefitGranted { benefit grantedFor }
  }
}"""


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """The app on a free port, its lifespan running, until its live feed hears commits."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            ws=WS, ws_per_message_deflate=False, lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not (server.started and app.state.live.live):
        assert time.monotonic() < deadline and not task.done(), "the server did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


class Subscriber:
    """What one subscription received: `updates` (liveUpdates values), `errors`, whether it
    completed, and the SSE ids seen."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self.completed = False
        self.task: asyncio.Task[None] | None = None

    def took(self, payload: dict[str, Any]) -> None:
        if payload.get("errors"):
            self.errors.extend(payload["errors"])
        elif payload.get("data"):
            self.updates.append(payload["data"]["liveUpdates"])

    async def until(self, count: int, seconds: float = 10) -> list[dict[str, Any]]:
        """Its updates once there are `count` (fails after `seconds`)."""
        deadline = time.monotonic() + seconds
        while len(self.updates) < count and not self.completed:
            assert time.monotonic() < deadline, f"{len(self.updates)} of {count}: {self.updates}"
            await asyncio.sleep(0.02)
        return self.updates

    async def until_one(self, wanted: Any, seconds: float = 10) -> list[dict[str, Any]]:
        """Its updates once one of them is `wanted` (a predicate)."""
        deadline = time.monotonic() + seconds
        while not any(wanted(update) for update in self.updates):
            assert time.monotonic() < deadline and not self.completed, self.updates
            await asyncio.sleep(0.02)
        return self.updates

    async def until_completed(self, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while not self.completed:
            assert time.monotonic() < deadline, "the subscription did not end"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def _body(variables: dict[str, Any] | None) -> dict[str, Any]:
    return {"query": UPDATES, "variables": variables or {}}


async def sse(address: str, token: str | None, variables: dict[str, Any] | None = None,
              last_event_id: str | None = None) -> Subscriber:  # fmt: skip
    """Subscribe over SSE; the subscriber collects in a task until stopped or completed."""
    subscriber = Subscriber()
    headers = {"Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    opened = asyncio.Event()

    async def read() -> None:
        async with (
            httpx.AsyncClient(timeout=None) as http,
            http.stream(
                "POST", f"http://{address}/graphql", json=_body(variables), headers=headers
            ) as response,
        ):
            opened.set()
            if response.status_code != 200:
                subscriber.took(orjson.loads(await response.aread()))
                subscriber.completed = True
                return
            event: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line:
                    name, _, value = line.partition(": ")
                    event[name] = value
                    continue
                if event.get("event") == "complete":
                    break
                if event.get("event") == "next":
                    if "id" in event:
                        subscriber.ids.append(event["id"])
                    subscriber.took(orjson.loads(event["data"]))
                event = {}
        subscriber.completed = True

    subscriber.task = asyncio.create_task(read())
    await asyncio.wait_for(opened.wait(), 10)
    return subscriber


async def ws(address: str, token: str | None, variables: dict[str, Any] | None = None,
             *, in_init: bool = True) -> Subscriber:  # fmt: skip
    """Subscribe over graphql-transport-ws, the token in connection_init (or the header)."""
    subscriber = Subscriber()
    header = {"Authorization": f"Bearer {token}"} if token else {}
    acknowledged = asyncio.Event()

    async def read() -> None:
        async with websockets.connect(
            f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            additional_headers=None if in_init else header,
        ) as socket_:  # fmt: skip
            init = {"type": "connection_init", "payload": header if in_init else {}}
            await socket_.send(orjson.dumps(init).decode())
            assert orjson.loads(await socket_.recv())["type"] == "connection_ack"
            await socket_.send(orjson.dumps({"id": "1", "type": "subscribe",
                                             "payload": _body(variables)}).decode())  # fmt: skip
            acknowledged.set()
            async for raw in socket_:
                message = orjson.loads(raw)
                if message["type"] == "next":
                    subscriber.took(message["payload"])
                elif message["type"] == "error":
                    subscriber.errors.extend(message["payload"])
                    break
                elif message["type"] == "complete":
                    break
        subscriber.completed = True

    subscriber.task = asyncio.create_task(read())
    await asyncio.wait_for(acknowledged.wait(), 10)
    return subscriber


async def subscribed(app: Any, count: int, seconds: float = 10) -> None:
    """Until the app holds `count` open subscriptions (each started following)."""
    deadline = time.monotonic() + seconds
    while app.state.live.fanout.open_count() < count:
        assert time.monotonic() < deadline, f"{app.state.live.fanout.open_count()} of {count}"
        await asyncio.sleep(0.02)
