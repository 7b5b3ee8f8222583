"""A simulated partner program with injectable faults, for tests and the demo: an in-process
connector, and a small ASGI app that speaks the HTTP connector's protocol.

The partner applies each exchange id at most once (a retry answers the first result), and a
status query for an id it never saw fences that id: a credit arriving later is refused, so
reconciliation can safely void what the partner says it does not have."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from partners.connector import Answer, ConnectorError, Outcome


class AnswerLost(ConnectorError):
    """The partner acted, but its answer never reaches the gateway."""


class Fault(StrEnum):
    TIMEOUT = "TIMEOUT"  # never applied, no answer
    SERVER_ERROR = "SERVER_ERROR"  # a 5xx, never applied
    REJECT = "REJECT"  # a definite refusal
    LOST_ANSWER = "LOST_ANSWER"  # applied, but the answer never arrives
    SLOW = "SLOW"  # applied and answered, late


@dataclass
class SimulatedPartner:
    name: str = "simulated"
    balances: dict[str, int] = field(default_factory=dict)
    # exchange id -> what the partner did with it.
    applied: dict[str, Outcome] = field(default_factory=dict)
    fenced: set[str] = field(default_factory=set)
    faults: deque[Fault] = field(default_factory=deque)
    slow_seconds: float = 0.05
    # Every effective credit, for tests: an id must never appear twice.
    effects: list[str] = field(default_factory=list)
    # Besides the injected faults: this share of calls meets a fault drawn at random (a soak).
    fault_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def inject(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def _next_fault(self) -> Fault | None:
        if self.faults:
            return self.faults.popleft()
        if self.fault_rate and self.rng.random() < self.fault_rate:
            return self.rng.choice(list(Fault))
        return None

    async def move(self, exchange_id: str, account: str, units: int) -> Answer:
        """Credit (positive) or debit (negative) units, once per exchange id."""
        fault = self._next_fault()
        if fault is Fault.TIMEOUT:
            raise ConnectorError("timed out", definite=False)
        if fault is Fault.SERVER_ERROR:
            raise ConnectorError("partner answered 503", definite=False)
        if exchange_id in self.applied:
            return Answer(self.applied[exchange_id], reference=f"sim-{exchange_id}")
        if exchange_id in self.fenced or fault is Fault.REJECT:
            self.applied[exchange_id] = Outcome.REJECTED
            return Answer(Outcome.REJECTED, reason="refused by the partner")
        if units < 0 and self.balances.get(account, 0) < -units:
            self.applied[exchange_id] = Outcome.REJECTED
            return Answer(Outcome.REJECTED, reason="not enough units")
        self.balances[account] = self.balances.get(account, 0) + units
        self.applied[exchange_id] = Outcome.APPLIED
        self.effects.append(exchange_id)
        if fault is Fault.LOST_ANSWER:
            raise AnswerLost("the answer was lost", definite=False)
        if fault is Fault.SLOW:
            await asyncio.sleep(self.slow_seconds)
        return Answer(Outcome.APPLIED, reference=f"sim-{exchange_id}")

    def status_of(self, exchange_id: str) -> Answer:
        if exchange_id in self.applied:
            return Answer(self.applied[exchange_id], reference=f"sim-{exchange_id}")
        self.fenced.add(exchange_id)
        return Answer(Outcome.NOT_FOUND)


class SimulatedConnector:
    """The in-process connector over a SimulatedPartner."""

    def __init__(self, partner: SimulatedPartner) -> None:
        self.partner = partner

    async def _read_fault(self) -> None:
        """Reads (link, balances) suffer timeouts, 5xx and slowness like any call."""
        fault = self.partner.faults[0] if self.partner.faults else None
        if fault in (Fault.TIMEOUT, Fault.SERVER_ERROR):
            self.partner.faults.popleft()
            raise ConnectorError(f"the partner failed: {fault}", definite=False)
        if fault is Fault.SLOW:
            self.partner.faults.popleft()
            await asyncio.sleep(self.partner.slow_seconds)

    async def link_account(self, account: str) -> bool:
        await self._read_fault()
        self.partner.balances.setdefault(account, 0)
        return True

    async def balances(self, accounts: list[str]) -> dict[str, int]:
        await self._read_fault()
        return {account: self.partner.balances.get(account, 0) for account in accounts}

    async def credit(self, exchange_id: str, account: str, units: int) -> Answer:
        return await self.partner.move(exchange_id, account, units)

    async def debit(self, exchange_id: str, account: str, units: int) -> Answer:
        return await self.partner.move(exchange_id, account, -units)

    async def status(self, exchange_id: str) -> Answer:
        return self.partner.status_of(exchange_id)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex: what both sides compute."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


_BAD_SIGNATURE = {"error": "bad signature"}


class _PartnerEndpoints:
    """The simulated partner's side of the HTTP protocol: each request is HMAC-signed."""

    def __init__(self, partner: SimulatedPartner, secret: str) -> None:
        self.partner, self.secret = partner, secret

    async def signed(self, request: Request) -> dict[str, Any] | None:
        """The request's JSON body if its signature holds, else None."""
        body = await request.body()
        timestamp = request.headers.get("x-pointgate-timestamp", "")
        offered = request.headers.get("x-pointgate-signature", "")
        expected = signature(self.secret, timestamp, body).encode()
        if not hmac.compare_digest(offered.encode("latin-1"), expected):
            return None
        data = orjson.loads(body) if body else {}
        return data if isinstance(data, dict) else None

    async def credit(self, request: Request) -> Response:
        return await self.move(request, 1)

    async def debit(self, request: Request) -> Response:
        return await self.move(request, -1)

    async def move(self, request: Request, sign: int) -> Response:
        data = await self.signed(request)
        if data is None:
            return JSONResponse(_BAD_SIGNATURE, status_code=401)
        key, units = request.headers["idempotency-key"], sign * int(data["units"])
        try:
            result = await self.partner.move(key, str(data["account"]), units)
        except AnswerLost:
            await asyncio.sleep(3600)  # the answer never comes: the client times out
            raise
        except ConnectorError as error:
            return JSONResponse({"error": str(error)}, status_code=503)
        return _answer(result)

    async def status(self, request: Request) -> Response:
        if await self.signed(request) is None:
            return JSONResponse(_BAD_SIGNATURE, status_code=401)
        return _answer(self.partner.status_of(request.path_params["exchange_id"]))

    async def balances(self, request: Request) -> Response:
        data = await self.signed(request)
        if data is None:
            return JSONResponse(_BAD_SIGNATURE, status_code=401)
        accounts = [str(a) for a in data.get("accounts", [])]
        known = self.partner.balances
        return JSONResponse({"balances": {a: known.get(a, 0) for a in accounts}})

    async def link(self, request: Request) -> Response:
        data = await self.signed(request)
        if data is None:
            return JSONResponse(_BAD_SIGNATURE, status_code=401)
        self.partner.balances.setdefault(str(data["account"]), 0)
        return JSONResponse({"linked": True})


def _answer(result: Answer) -> Response:
    status = 200 if result.outcome is not Outcome.REJECTED else 422
    body = {"status": result.outcome, "reference": result.reference, "reason": result.reason}
    return JSONResponse(body, status_code=status)


def simulated_app(partner: SimulatedPartner, secret: str) -> Starlette:
    """The simulated partner behind the HTTP protocol the HTTP connector speaks."""
    endpoints = _PartnerEndpoints(partner, secret)
    return Starlette(
        routes=[
            Route("/credits", endpoints.credit, methods=["POST"]),
            Route("/debits", endpoints.debit, methods=["POST"]),
            Route("/exchanges/{exchange_id}", endpoints.status, methods=["POST"]),
            Route("/balances", endpoints.balances, methods=["POST"]),
            Route("/accounts", endpoints.link, methods=["POST"]),
        ]
    )
