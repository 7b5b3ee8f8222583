"""What stands between the public internet and the executor: automatic persisted queries (the
Apollo APQ protocol) with an optional allow-list, per-client token-bucket rate limits, and a
request body size limit."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth.principal import Principal, PrincipalKind
from infra.database import Database
from infra.models import registered_operations
from infra.store import Store

APQ_TTL_SECONDS = 7 * 24 * 3600


class Refusal(Exception):
    """A request refused before it reaches GraphQL execution, answered as a GraphQL error."""

    def __init__(self, code: str, message: str, status: int = 200, **extensions: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.extensions = code, message, status, extensions

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message,
                            "extensions": {"code": self.code, **self.extensions}}]}  # fmt: skip


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


class PersistedQueries:
    """APQ: a client sends the sha256 of its query; on PERSISTED_QUERY_NOT_FOUND it sends both
    and the query is kept (in the shared store) for everyone. In allow-list mode only documents
    registered by an operator (`pointgate operations register`) run."""

    def __init__(self, store: Store, db: Database, *, allow_list: bool) -> None:
        self.store, self.db, self.allow_list = store, db, allow_list

    async def resolve(self, extension: Any, query: str | None) -> str:
        if not isinstance(extension, dict) or extension.get("version", 1) != 1:
            raise Refusal("PERSISTED_QUERY_NOT_SUPPORTED", "persistedQuery version 1 only")
        digest = extension.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            raise Refusal("BAD_USER_INPUT", "persistedQuery needs a sha256Hash", 400)
        if self.allow_list:
            return await self._registered(digest)
        if query is not None:
            if sha256(query) != digest:
                raise Refusal("PERSISTED_QUERY_HASH_MISMATCH",
                              "the query does not match its sha256Hash", 400)  # fmt: skip
            await self.store.set(f"apq:{digest}", query, APQ_TTL_SECONDS)
            return query
        found = await self.store.get(f"apq:{digest}")
        if found is None:
            raise Refusal("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        return found

    async def _registered(self, digest: str) -> str:
        async with self.db.read() as conn:
            document = await conn.scalar(
                select(registered_operations.c.document).where(
                    registered_operations.c.sha256 == digest
                )
            )
        if document is None:
            raise Refusal("PERSISTED_QUERY_NOT_FOUND", "this operation is not registered")
        return str(document)


async def register_operations(db: Database, documents: dict[str, str]) -> list[str]:
    """Register named documents for allow-list mode; returns their sha256 hashes."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [
        {"sha256": sha256(doc), "name": name, "document": doc, "created_at": now}
        for name, doc in documents.items()
    ]
    dialect_insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
    async with db.transaction() as conn:
        await conn.execute(dialect_insert(registered_operations).on_conflict_do_nothing(), rows)
    return [str(row["sha256"]) for row in rows]


class RateLimiter:
    """A token bucket per OAuth client, per member, or per address for anonymous callers."""

    def __init__(self, store: Store, *, per_minute: int, burst: int) -> None:
        self.store, self.per_second, self.burst = store, per_minute / 60, burst

    @staticmethod
    def key(principal: Principal, address: str | None) -> str:
        if principal.kind is PrincipalKind.MEMBER:
            return f"member:{principal.member_id}"
        if principal.client_id:
            return f"client:{principal.client_id}"
        return f"address:{address or 'unknown'}"

    async def admit(self, principal: Principal, address: str | None) -> None:
        allowed, wait = await self.store.take(
            self.key(principal, address), self.burst, self.per_second
        )
        if not allowed:
            retry = max(1, int(wait + 0.999))
            raise Refusal("RATE_LIMITED", f"too many requests; retry in {retry} s", 429,
                          retryAfter=retry)  # fmt: skip


class BodySizeLimit:
    """Refuse request bodies over `limit` bytes (413) before anything reads them in full."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    body = (
        b'{"errors":[{"message":"request body too large","extensions":{"code":"BODY_TOO_LARGE"}}]}'
    )
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
