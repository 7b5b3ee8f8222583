"""What stands between the public internet and the executor: automatic persisted queries (the
Apollo APQ protocol) with an optional allow-list, per-client token-bucket rate limits, and a
request body size limit; and the middleware that applies them with CORS and authentication."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth.backend import BearerTokenBackend, on_authentication_error
from auth.principal import Principal, PrincipalKind
from auth.tokens import TokenVerifier
from gateway.settings import Settings
from infra.database import Database
from infra.models import registered_operations
from infra.store import Store
from infra.telemetry import HttpTelemetry

APQ_TTL_SECONDS = 7 * 24 * 3600
APQ_MAX_CHARACTERS = 50_000


# GraphQL over HTTP: a client that accepts this media type is told a request error (the
# operation did not run: invalid document or variables, over a limit) by HTTP 400; a client of
# the legacy `application/json` gets 200 for every well-formed GraphQL request's answer, so a
# federation router (Apollo's gateway sends `application/json`) passes the error and its code
# on instead of reporting a failed fetch. Transport errors (not JSON, a batch, the wrong method
# or content type) are 4xx for both; rate limits 429; an unavailable database 503.
GRAPHQL_RESPONSE = "application/graphql-response+json"
REQUEST_ERROR = -1


def wants_graphql_response(accept: str | None) -> bool:
    return GRAPHQL_RESPONSE in (accept or "")


def request_error_status(accept: str | None) -> int:
    return 400 if wants_graphql_response(accept) else 200


def media_type(accept: str | None) -> str:
    return GRAPHQL_RESPONSE if wants_graphql_response(accept) else "application/json"


def as_graphql_response(response: Any) -> None:
    """A response for a client that accepts application/graphql-response+json: that media type,
    and HTTP 400 when the operation did not run (a request error)."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return
    response.headers["content-type"] = GRAPHQL_RESPONSE
    if response.status_code == 200 and _request_error(bytes(getattr(response, "body", b"") or b"")):
        response.status_code = 400


def _request_error(body: bytes) -> bool:
    """Whether the answer is a request error: errors, no data, and none of them raised while
    executing a field (those have a `path`)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(parsed, dict) or parsed.get("data") is not None:
        return False
    errors = parsed.get("errors")
    if not isinstance(errors, list) or not errors:
        return False
    return all(isinstance(e, dict) and "path" not in e for e in errors)


class Refusal(Exception):
    """A request refused before it reaches GraphQL execution, answered as a GraphQL error.
    `status` REQUEST_ERROR: the status GraphQL over HTTP gives a request error for the client's
    Accept header (request_error_status)."""

    def __init__(self, code: str, message: str, status: int = 200, **extensions: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.extensions = code, message, status, extensions

    def status_for(self, accept: str | None) -> int:
        return request_error_status(accept) if self.status == REQUEST_ERROR else self.status

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message,
                            "extensions": {"code": self.code, **self.extensions}}]}  # fmt: skip


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


class PersistedQueries:
    """APQ: a client sends the sha256 of its query; on PERSISTED_QUERY_NOT_FOUND it sends both
    and the query is kept (in the shared store) for everyone. In allow-list mode only documents
    registered by an operator (`pointgate operations register`) run."""

    def __init__(
        self, store: Store, db: Database, *, allow_list: bool,
        valid: Callable[[str], bool] = lambda _: True,
    ) -> None:  # fmt: skip
        self.store, self.db, self.allow_list = store, db, allow_list
        # Only a document that validates against the schema is kept (found from outside: any
        # 900 KB body was stored for anyone for 7 days).
        self.valid = valid

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
            if len(query) <= APQ_MAX_CHARACTERS and self.valid(query):
                await self.store.set(f"apq:{digest}", query, APQ_TTL_SECONDS)
            return query  # an invalid one runs (and is refused) as any other request
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


def middleware(settings: Settings, verifier: TokenVerifier) -> list[Middleware]:
    """Outermost first: traces, the body limit, CORS (when origins are configured), and
    authentication of the bearer token."""
    cors = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type"],
        )
    ]
    return [
        Middleware(HttpTelemetry),
        Middleware(BodySizeLimit, limit=settings.max_body_bytes),
        *(cors if settings.cors_origins else []),
        Middleware(
            AuthenticationMiddleware,
            backend=BearerTokenBackend(verifier),
            on_error=on_authentication_error,
        ),
    ]
