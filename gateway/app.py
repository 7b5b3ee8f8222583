"""The Starlette application: /graphql (Apollo Federation v2 subgraph), /healthz, /readyz."""

from __future__ import annotations

import gc
import hmac
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from typing import Any, Final

import anyio
import orjson
from cross_web import HTTPException
from graphql import GraphQLError, parse, specified_rules, validate
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.types.unset import UNSET

from auth import ownership, privacy
from auth import server as oauth_server
from auth.backend import principal_of
from auth.principal import PrincipalKind
from auth.revocations import TokenStates
from auth.throttle import AuthenticationThrottle
from auth.tokens import KeyCache, RemoteKeys, TokenVerifier
from gateway import console, exports, health, ide, live
from gateway.background import run_background_jobs
from gateway.graph import build_schema
from gateway.protection import (
    REQUEST_ERROR,
    PersistedQueries,
    RateLimiter,
    Refusal,
    as_graphql_response,
    media_type,
    middleware,
    wants_graphql_response,
)
from gateway.settings import Settings
from infra import secrets
from infra.database import Database, is_transient
from infra.logs import configure_logging
from infra.store import Store, StoreUnavailable, open_store
from infra.telemetry import configure_providers, instrument_engine
from loyalty import data_reads
from loyalty import member as members
from loyalty.live_feed import LiveFeed
from loyalty.promotions.campaign import CampaignBook
from partners import settlement
from partners.directory import ConnectorDirectory
from resolvers.compiled import Caller
from resolvers.dataloaders import Loaders
from schema.context import Context
from schema.extensions import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE,
    add_error_codes,
    name_operation,
    operation_span,
)
from schema.graphql_schema import graphql_schema
from schema.limits import (
    entities_figures,
    over_limits,
    oversized_variables,
    representation_variables,
)

SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


BAD_REQUEST: Final = "BAD_REQUEST"
ROUTER_HEADER: Final = "x-pointgate-router"
OPERATION_HEADER: Final = "x-pointgate-operation"
# How long a router's operation id is remembered: longer than any operation runs.
OPERATION_WINDOW_SECONDS: Final = 300
UNAVAILABLE_MESSAGE: Final = "the service is temporarily unavailable; retry shortly"
log = logging.getLogger("pointgate.gateway")
# The operation parse_http_body read from this request's body (one per request: set by `run`).
_BODY: ContextVar[Any] = ContextVar("pointgate_graphql_body", default=None)


def _trace_id(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


class GraphQLApp(GraphQL[Context, None]):
    def __init__(
        self,
        schema: Any,
        db: Database,
        settings: Settings,
        directory: ConnectorDirectory,
        store: Store,
        verifier: TokenVerifier,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.is_development else None,
            # Only persisted queries may use GET (checked in parse_http_body); never mutations.
            allow_queries_via_get=True,
            subscription_protocols=live.PROTOCOLS,
        )
        self.db = db
        self.verifier = verifier
        # Live updates heard from every commit, for this process's subscribers (lifespan).
        self.live = LiveFeed(db)
        self.settings = settings
        self.directory = directory
        self.store = store
        self.limits = settings.limits()
        self.egress = settings.egress()
        # The campaigns in force, in memory (followed by the lifespan).
        self.campaigns = CampaignBook()
        # Partners' admitted operations, counted in memory (flushed by the lifespan).
        self.usage = settlement.UsageMeter(db)
        # Partners' clients' reads of members' data, counted in memory (flushed likewise).
        self.reads = data_reads.ReadRecord(db)
        self.persisted = PersistedQueries(store, db, allow_list=settings.persisted_only,
                                          valid=self.validates)  # fmt: skip
        self.limiter = RateLimiter(
            store, per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
        )

    stream_transport_classes_by_protocol = live.TRANSPORTS

    @property
    def graphql_ide_html(self) -> str:
        return ide.page()

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        _BODY.set(None)  # requests of one keep-alive connection share a task's context
        if not isinstance(request, Request) or self.should_render_graphql_ide(
            self.request_adapter_class(request)
        ):
            return await super().run(request, context, root_value)
        try:
            principal = principal_of(request)
            recorded = self.reads if privacy.reads_recorded(principal) else None
            data_reads.watch(recorded, principal.partner_id, principal.client_id or "")
            if await self.first_fetch_of_operation(request, principal):
                address = request.client.host if request.client else None
                await self.limiter.admit(principal, address)
                if principal.kind is PrincipalKind.PARTNER and principal.partner_id is not None:
                    # The admitted operations of a partner's client are what settlement bills.
                    await self.usage.count_call(principal.partner_id, principal.client_id)
            with operation_span(request.headers) as span:
                answered = await self.compiled_answer(request, span)
                if answered is not None:
                    await data_reads.count_noted()
                    return answered
                response = await super().run(request, context, root_value)
                await data_reads.count_noted()
        except HTTPException as refused:  # the transport: unparsable body, content type, batch
            return JSONResponse(Refusal(BAD_REQUEST, refused.reason).body(), refused.status_code)
        except Refusal as refusal:
            headers = {}
            if "retryAfter" in refusal.extensions:
                headers["Retry-After"] = str(refusal.extensions["retryAfter"])
            accept = request.headers.get("accept")
            return JSONResponse(refusal.body(), status_code=refusal.status_for(accept),
                                headers=headers, media_type=media_type(accept))  # fmt: skip
        except Exception as error:
            if not is_transient(error):
                raise
            # The database failed before the operation ran (rate limit or usage bookkeeping).
            log.warning("database unavailable before execution: %s", error)
            response = JSONResponse(Refusal(UNAVAILABLE, UNAVAILABLE_MESSAGE).body(), 503)
        if getattr(request.state, "unavailable", False):
            # Nothing of the operation ran: a retryable 503 the client or router can act on.
            response.status_code = 503
        if response.status_code == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        if wants_graphql_response(request.headers.get("accept")):
            as_graphql_response(response)
        return response

    async def compiled_answer(self, request: Request, span: Any) -> Response | None:
        """The one seam where a query skips Strawberry's execution: a document this process
        validated and compiled (for this caller's shape) before is answered here. The body is
        read by `parse_http_body` (once per request), the context made by `get_context` when
        a root field's permission is asked (through its own PermissionExtension). Anything
        else, and any doubt, goes the whole way through Strawberry."""
        operations = self.schema.compiled_operations  # type: ignore[attr-defined]
        if request.method != "POST" or not self.settings.compiled_reads:
            return None
        data = await self.parse_http_body(self.request_adapter_class(request))
        if not isinstance(data.query, str):
            return None
        principal = principal_of(request)

        async def context() -> Context:
            return await self.get_context(request, await self.get_sub_response(request))

        caller = Caller(principal, self.db, ownership.visibility(principal), context)
        try:
            known = await operations.known(data.query, data.operation_name, data.variables,
                                           caller)  # fmt: skip
        except Exception as error:
            if is_transient(error):
                raise  # else any doubt goes the whole way: the general path answers it
            log.warning("compiled answer failed, answering on the general path: %r", error)
            return None
        if known is None:
            return None
        name_operation(span, known[0], "query")
        operations.count("compiled")
        body = orjson.dumps({"data": orjson.Fragment(known[1])})
        return Response(body, media_type="application/json")

    async def parse_http_body(self, request: Any) -> Any:
        """The request's operation, read once per request (first by the compiled seam)."""
        parsed = _BODY.get()
        if parsed is not None:
            return parsed
        data = await self._parse_http_body(request)
        _BODY.set(data)
        return data

    async def _parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        if isinstance(data, list):  # batching is off; the base class refuses lists already
            raise Refusal("BATCHING_DISABLED", "send one operation per request", 400)
        persisted = (data.extensions or {}).get("persistedQuery")
        if persisted is not None:
            data.query = await self.persisted.resolve(persisted, data.query)
        elif request.method == "GET" and not live.streamed_subscription(data):
            raise Refusal("METHOD_NOT_ALLOWED", "GET is for persisted queries only; use POST",
                          405)  # fmt: skip
        elif self.settings.persisted_only:
            raise Refusal("PERSISTED_QUERY_REQUIRED", "only registered operations run here", 400)
        if data.variables and data.query:
            self.check_variables(data.query, data.operation_name, data.variables)
        return data

    def validates(self, query: str) -> bool:
        """Whether a document parses and validates against the schema, the limits included."""
        try:
            document = parse(query, max_tokens=10_000)
        except GraphQLError:
            return False
        graphql = graphql_schema(self.schema)
        rules = [*specified_rules, self.schema.limits_rule]  # type: ignore[attr-defined]
        return not validate(graphql, document, rules)

    def check_variables(self, query: str, operation: str | None, variables: Any) -> None:
        """Variable sizes, and the cost of `_entities` with the representations actually sent
        (validation, cached per document, sees neither)."""
        if not isinstance(variables, dict):
            return
        representations = representation_variables(query, operation)
        problem = oversized_variables(variables, self.limits, representations)
        if problem is not None:
            code, message, extensions = problem
            raise Refusal(code, message, REQUEST_ERROR, **extensions)
        graphql = graphql_schema(self.schema)
        figures = entities_figures(graphql, query, operation, variables)
        for code, message, extra in over_limits(figures, self.limits) if figures else ():
            raise Refusal(code, message, REQUEST_ERROR, **extra)

    async def first_fetch_of_operation(self, request: Any, principal: Any) -> bool:
        """Whether this request starts a client operation (billed and rate-limited once). A
        router fetches from this subgraph several times for one client operation; it names the
        operation (X-Pointgate-Operation, else the W3C trace id it propagates), and only the
        router's word is taken for it, so a client cannot share one id across operations."""
        if not self.from_router(request):
            return True
        operation = request.headers.get(OPERATION_HEADER) or _trace_id(
            request.headers.get("traceparent")
        )
        if not operation:
            return True
        key = f"operation:{principal.subject}:{operation[:100]}"
        return await self.store.add(key, "1", OPERATION_WINDOW_SECONDS)

    def from_router(self, request: Any) -> bool:
        expected = self.settings.router_token
        offered = request.headers.get(ROUTER_HEADER)
        # as bytes (headers are latin-1): compare_digest refuses non-ASCII str (was a 500)
        return bool(expected and offered and hmac.compare_digest(
            offered.encode("latin-1"), expected.encode("utf-8")))  # fmt: skip

    async def get_context(self, request: Any, response: Any) -> Context:
        principal = principal_of(request)
        return self.context_for(principal, request, response,
                                live.bearer_token(request.headers))  # fmt: skip

    def context_for(self, principal: Any, request: Any, response: Any,
                    token: str | None) -> Context:  # fmt: skip
        visible = ownership.visibility(principal)
        return Context(
            db=self.db,
            program=self.settings.program,
            principal=principal,
            visible=visible,
            loaders=Loaders(
                self.db,
                self.settings.program,
                visible,
                self.directory,
                self.settings.partner_balance_deadline_seconds,
            ),
            directory=self.directory,
            from_router=self.from_router(request),
            egress=self.egress,
            campaigns=self.campaigns,
            request=request,
            response=response,
            live=self.live,
            live_limit=self.settings.live_subscriptions_per_principal,
            credential=live.credential(self.verifier, token, principal),
        )

    async def on_ws_connect(self, context: Context) -> Any:
        """A WebSocket client without an Authorization header may send its token with
        connection_init (`{"Authorization": "Bearer ..."}`); one that does not verify is
        refused (4403)."""
        await live.sign_in(self, context)
        return UNSET

    async def process_result(self, request: Any, result: Any) -> Any:
        add_error_codes(result.errors or [])
        data = result.data
        nothing = not data or (isinstance(data, dict) and all(v is None for v in data.values()))
        if nothing and any(
            (error.extensions or {}).get("code") == UNAVAILABLE for error in result.errors or []
        ):
            request.state.unavailable = True
        if not self.settings.is_development:
            # "Did you mean ...?" would spell out the schema introspection keeps hidden.
            for error in result.errors or []:
                error.message = SUGGESTION.sub("", error.message)
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses nesting past 1,024 levels instead of exhausting the stack, and the
        # variables' own limit (32 levels) is checked right after.
        return orjson.loads(data)


GC_YOUNG_THRESHOLD = 20_000


def _serving(
    settings: Settings, database: Database, owns_db: bool
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """What runs while the app serves: the revocation feed, the background jobs if enabled, and
    a garbage collector tuned for a server; on shutdown, connections are closed."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Objects alive after start-up are never garbage: keep the collector off them. A request
        # allocates thousands of short-lived objects (rows, types, results) that reference
        # counting frees; collecting the young generation every 700 allocations would scan them
        # many times per request, so collect it every GC_YOUNG_THRESHOLD instead.
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        directory, store = app.state.directory, app.state.store
        async with anyio.create_task_group() as jobs:
            jobs.start_soon(app.state.token_states.follow)
            jobs.start_soon(app.state.campaigns.follow, database)
            jobs.start_soon(app.state.usage.run)
            jobs.start_soon(app.state.reads.run)
            jobs.start_soon(app.state.live.follow)
            if settings.background_jobs:
                jobs.start_soon(run_background_jobs, database, directory, settings)
            yield
            jobs.cancel_scope.cancel()
        await directory.close()
        await store.close()
        if owns_db:
            await database.dispose()

    return lifespan


def create_app(settings: Settings | None = None, db: Database | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    configure_providers(settings.traces_exporter, settings.metrics_exporter)
    configure_logging(development=settings.is_development)
    keyring = settings.keyring()  # fail at start, not at the first secret, without a data key
    secrets.configure(lambda: keyring)
    members.use_phone_region(settings.program.phone_region)
    owns_db = db is None
    database = db or Database(settings.database_url, pool_size=settings.pool_size(),
                              pool_timeout=settings.database_pool_timeout_seconds)  # fmt: skip
    instrument_engine(database.engine)
    directory = ConnectorDirectory(timeout=settings.connector_timeout_seconds)
    store = open_store(settings.redis_url)
    schema = build_schema(settings)
    token_settings = settings.token_settings()
    keys = KeyCache(database, token_settings)
    member_keys = (
        RemoteKeys(settings.member_jwks_url, token_settings.jwks_cache)
        if settings.member_jwks_url
        else None
    )
    states = TokenStates(database)
    verifier = TokenVerifier(database, token_settings, keys, member_keys, states)
    graphql = GraphQLApp(schema, database, settings, directory, store, verifier)
    states.listeners.append(graphql.live.fanout.wake)

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", health.healthz),
            Route("/readyz", health.readiness(database, store)),
            *oauth_server.routes(database, token_settings, keys, AuthenticationThrottle(store)),
            *exports.routes(database),
            *console.routes(database, settings, keyring, store, directory),
            *(ide.routes() if settings.is_development else []),
        ],
        middleware=middleware(settings, verifier),
        lifespan=_serving(settings, database, owns_db),
        exception_handlers={StoreUnavailable: health.store_unavailable},
    )
    app.state.db = database
    app.state.settings = settings
    app.state.keys = keys
    app.state.directory = directory
    app.state.store = store
    app.state.token_states = states
    app.state.campaigns = graphql.campaigns
    app.state.usage = graphql.usage
    app.state.reads = graphql.reads
    app.state.live = graphql.live
    app.state.compiled_operations = schema.compiled_operations
    return app
