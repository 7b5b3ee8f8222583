"""What the gateway asks of a partner's program, whatever carries it (HTTP, or the in-process
simulated partner): link an account, read balances, credit or debit units, and the status of an
exchange by our id. Every call that moves units carries our exchange id as its idempotency key.

A call either answers definitely (APPLIED, REJECTED, NOT_FOUND) or raises ConnectorError. The
error says whether the partner certainly did nothing (`definite`: the request never left, or
the circuit was open) or may have acted (a timeout, a 5xx, a lost answer): only the first may
release reserved points; the second leaves the exchange UNKNOWN for reconciliation."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    APPLIED = "APPLIED"
    REJECTED = "REJECTED"
    # Status only: the partner has no such exchange, and will refuse it from now on.
    NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: Outcome
    reference: str | None = None
    reason: str | None = None


class ConnectorError(Exception):
    def __init__(self, message: str, *, definite: bool) -> None:
        super().__init__(message)
        self.definite = definite


class Connector(Protocol):
    async def link_account(self, account: str) -> bool: ...

    async def balances(self, accounts: list[str]) -> dict[str, int]: ...

    async def credit(self, exchange_id: str, account: str, units: int) -> Answer: ...

    async def debit(self, exchange_id: str, account: str, units: int) -> Answer: ...

    async def status(self, exchange_id: str) -> Answer: ...


class CircuitBreaker:
    """After `threshold` failures in a row, calls fail at once (without reaching the partner)
    for `cooldown` seconds; then one call is let through to test the water."""

    def __init__(self, threshold: int = 5, cooldown: float = 30.0) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.opened_at: float | None = None

    def check(self) -> None:
        if self.opened_at is None:
            return
        if time.monotonic() - self.opened_at < self.cooldown:
            raise ConnectorError("the partner's circuit is open", definite=True)
        self.opened_at = None  # half-open: this call decides
        self.failures = self.threshold - 1

    def succeeded(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failed(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()
