"""How live updates are served: the SSE transport writing each event's id (so a browser's
EventSource, or any client, reconnects with Last-Event-ID), the credential a subscription
holds open, and a WebSocket client's token from connection_init (browsers cannot set headers
on a WebSocket)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.streaming import JSONEncoder, SSETransport
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL

from auth.principal import ANONYMOUS, Principal
from auth.tokens import InvalidToken, TokenVerifier
from schema.context import NO_CREDENTIAL, Credential
from schema.live import LAST_EVENT

# How often an idle SSE stream sends a comment, so proxies keep it open. (A WebSocket is kept
# alive by the server's pings: uvicorn's ws_ping_interval, 20 s.)
SSE_KEEP_ALIVE_SECONDS = 15.0
PROTOCOLS = (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL)
# uvicorn's WebSocket implementation (its default picks the deprecated legacy one).
WS = "websockets-sansio"


class EventStream(SSETransport):
    """graphql-sse (distinct connections) with an `id:` per event, its lines ended by LF: the
    SSE standard allows CRLF too, but Hive Gateway's reader of a subgraph's stream
    (graphql-tools' executor-http) splits events at a blank LF line only, and heard nothing."""

    def __init__(self) -> None:
        super().__init__(heartbeat_interval=SSE_KEEP_ALIVE_SECONDS)

    def encode_next(self, response: Any, encode_json: JSONEncoder) -> str:
        encoded = super().encode_next(response, encode_json)
        event_id = LAST_EVENT.get()
        LAST_EVENT.set(None)
        return encoded if event_id is None else f"id: {event_id}\n{encoded}"

    def encode_event(self, event: str, data: str | None = None) -> str:
        return super().encode_event(event, data).replace("\r\n", "\n")

    def encode_comment(self, comment: str) -> str:
        return super().encode_comment(comment).replace("\r\n", "\n")


TRANSPORTS = {GRAPHQL_SSE_PROTOCOL: EventStream}


def streamed_subscription(data: Any) -> bool:
    """Whether a GET asks for a subscription over SSE (what Hive Gateway sends a subgraph,
    and what a browser's EventSource can send); any other GET is for persisted queries only."""
    if getattr(data, "protocol", None) != "sse" or not isinstance(data.query, str):
        return False
    try:
        operation = get_operation_ast(parse(data.query, max_tokens=10_000), data.operation_name)
    except GraphQLError:
        return False
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


def bearer_token(headers: Mapping[str, Any] | None) -> str | None:
    """The token of an Authorization header, or of a connection_init payload's
    `Authorization` (or `authorization`) entry."""
    if not headers:
        return None
    value = headers.get("authorization") or headers.get("Authorization")
    if not isinstance(value, str):
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def credential(verifier: TokenVerifier, token: str | None, principal: Principal) -> Credential:
    if token is None or principal is ANONYMOUS:
        return NO_CREDENTIAL

    async def still_good() -> bool:
        return await verifier.still_holds(token, principal)

    return Credential(still_good, lambda: verifier.expires_at(token))


async def connection_principal(verifier: TokenVerifier, params: Any) -> tuple[Principal, str]:
    """The principal of a connection_init payload's token; InvalidToken when it has none that
    verifies."""
    token = bearer_token(params if isinstance(params, dict) else None)
    if token is None:
        raise InvalidToken("connection_init carries no bearer token")
    return await verifier.principal(token), token


async def sign_in(app: Any, context: Any) -> None:
    """connection_init's token, for a WebSocket that came without an Authorization header:
    the context becomes that principal's (as `get_context` would have made it)."""
    if context.principal is not ANONYMOUS or context.connection_params is None:
        return
    if bearer_token(context.connection_params) is None:
        return  # stays anonymous: subscribing then answers UNAUTHENTICATED
    try:
        principal, token = await connection_principal(app.verifier, context.connection_params)
    except InvalidToken:
        raise ConnectionRejectionError() from None
    signed_in = app.context_for(principal, context.request, context.response, token)
    for name in ("principal", "visible", "loaders", "credential"):
        setattr(context, name, getattr(signed_in, name))
