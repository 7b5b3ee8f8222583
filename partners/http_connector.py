"""The HTTP JSON connector: signed requests to a partner's program over httpx.

Each request carries `X-Pointgate-Timestamp` and `X-Pointgate-Signature` (HMAC-SHA256 of
"<timestamp>.<body>" with the partner's shared secret) and, when it moves units, our exchange id
as `Idempotency-Key`, so retrying is safe. Calls have a timeout, a bounded number of retries with
exponential backoff for failures that may be transient, a per-partner circuit breaker and a span
each. A 422 is the partner's definite refusal."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
from opentelemetry import trace

from partners.connector import Answer, CircuitBreaker, ConnectorError, Outcome
from partners.simulated import signature

tracer = trace.get_tracer("pointgate.connectors")


class HttpConnector:
    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.2,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        name: str = "partner",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.retries = retries
        self.backoff = backoff
        self.breaker = breaker or CircuitBreaker()
        self.name = name
        self.client = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, transport=transport
        )

    async def _call(
        self, operation: str, path: str, payload: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        self.breaker.check()
        body = orjson.dumps(payload)
        with tracer.start_as_current_span(f"connector {operation}") as span:
            span.set_attribute("partner", self.name)
            for attempt in range(self.retries + 1):
                span.set_attribute("connector.attempts", attempt + 1)
                timestamp = str(int(time.time()))
                headers = {
                    "content-type": "application/json",
                    "x-pointgate-timestamp": timestamp,
                    "x-pointgate-signature": signature(self.secret, timestamp, body),
                }
                if idempotency_key:
                    headers["idempotency-key"] = idempotency_key
                try:
                    response = await self.client.post(path, content=body, headers=headers)
                except httpx.ConnectError as error:
                    # Nothing reached the partner: safe to try again, and definite if we stop.
                    failure = ConnectorError(f"cannot reach the partner: {error}", definite=True)
                except httpx.TransportError as error:
                    failure = ConnectorError(
                        f"no answer from the partner: {error!r}", definite=False
                    )
                else:
                    if response.status_code < 500:
                        self.breaker.succeeded()
                        if response.status_code not in (200, 422):
                            # Refused before doing anything (bad signature, bad request).
                            raise ConnectorError(
                                f"the partner refused the call: {response.status_code}",
                                definite=True,
                            )
                        data: dict[str, Any] = response.json()
                        return data
                    failure = ConnectorError(
                        f"the partner answered {response.status_code}", definite=False
                    )
                self.breaker.failed()
                span.record_exception(failure)
                if attempt < self.retries:
                    await asyncio.sleep(self.backoff * 2**attempt)
            raise failure

    @staticmethod
    def _answer(data: dict[str, Any]) -> Answer:
        return Answer(
            Outcome(data["status"]), reference=data.get("reference"), reason=data.get("reason")
        )

    async def link_account(self, account: str) -> bool:
        return bool((await self._call("link", "/accounts", {"account": account})).get("linked"))

    async def balances(self, accounts: list[str]) -> dict[str, int]:
        data = await self._call("balances", "/balances", {"accounts": accounts})
        return {str(k): int(v) for k, v in data.get("balances", {}).items()}

    async def credit(self, exchange_id: str, account: str, units: int) -> Answer:
        payload = {"exchange_id": exchange_id, "account": account, "units": units}
        return self._answer(await self._call("credit", "/credits", payload, exchange_id))

    async def debit(self, exchange_id: str, account: str, units: int) -> Answer:
        payload = {"exchange_id": exchange_id, "account": account, "units": units}
        return self._answer(await self._call("debit", "/debits", payload, exchange_id))

    async def status(self, exchange_id: str) -> Answer:
        path = f"/exchanges/{exchange_id}"
        return self._answer(await self._call("status", path, {"exchange_id": exchange_id}))

    async def close(self) -> None:
        await self.client.aclose()
