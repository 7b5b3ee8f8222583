"""Liveness and readiness, and the answer when the shared store fails outside GraphQL."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from infra.database import Database
from infra.store import Store
from schema.extensions import RETRY_AFTER_SECONDS

log = logging.getLogger("pointgate.gateway")


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def readiness(database: Database, store: Store) -> Callable[[Request], Awaitable[Response]]:
    """Ready when the database and the shared store (Redis, when configured) both answer:
    without either, GraphQL, the token endpoint and the console answer 503."""

    async def readyz(_: Request) -> Response:
        try:
            async with database.read() as conn:
                await conn.execute(text("SELECT 1"))
            await store.ping()
        except Exception as error:  # any failure means "not ready", and says why
            return JSONResponse({"status": "unavailable", "error": type(error).__name__}, 503)
        return JSONResponse({"status": "ok"})

    return readyz


async def store_unavailable(_: Request, error: Exception) -> Response:
    """The shared store failed outside GraphQL (the token endpoint, the console's sign-in):
    retryable, as GraphQL answers it."""
    log.warning("shared store unavailable: %s", error)
    return JSONResponse({"error": "temporarily_unavailable",
                         "error_description": "retry shortly"}, 503,
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})  # fmt: skip
