"""The Starlette application: /graphql (Apollo Federation v2 subgraph), /healthz, /readyz."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio
import orjson
import strawberry
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from auth import server as oauth_server
from auth.backend import BearerTokenBackend, on_authentication_error, principal_of
from auth.tokens import KeyCache, RemoteKeys, TokenVerifier
from gateway import exports
from gateway.audit import AuditMutations, CountApiTransactions
from gateway.background import run_background_jobs
from gateway.context import Context
from gateway.settings import Settings
from infra.database import Database
from infra.telemetry import configure_providers, instrument_engine
from partners.directory import ConnectorDirectory
from resolvers.dataloaders import Loaders
from resolvers.mutations import Mutation
from resolvers.queries import Query
from schema.extensions import MaskUnexpectedErrors, OperationTelemetry, add_error_codes

# Composes with both Apollo's and The Guild's composition (the latter accepts up to 2.9).
FEDERATION_VERSION: Final = "2.9"


class Schema(strawberry.federation.Schema):
    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        """Client errors are answers, not incidents: only the unexpected ones are logged, with
        their trace id, by MaskUnexpectedErrors."""


def build_schema() -> Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        federation_version=FEDERATION_VERSION,
        extensions=[
            OperationTelemetry,
            MaskUnexpectedErrors,
            AuditMutations,
            CountApiTransactions,
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
        ],
    )


class GraphQLApp(GraphQL[Context, None]):
    def __init__(
        self, schema: Any, db: Database, settings: Settings, directory: ConnectorDirectory
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if settings.is_development else None)
        self.db = db
        self.settings = settings
        self.directory = directory

    async def get_context(self, request: Any, response: Any) -> Context:
        principal = principal_of(request)
        return Context(
            db=self.db,
            program=self.settings.program,
            principal=principal,
            loaders=Loaders(
                self.db,
                self.settings.program,
                principal,
                self.directory,
                self.settings.partner_balance_deadline_seconds,
            ),
            directory=self.directory,
            request=request,
            response=response,
        )

    async def process_result(self, request: Any, result: Any) -> Any:
        add_error_codes(result.errors or [])
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def create_app(settings: Settings | None = None, db: Database | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    configure_providers(settings.traces_exporter, settings.metrics_exporter)
    owns_db = db is None
    database = db or Database(settings.database_url, pool_size=settings.database_pool_size)
    instrument_engine(database.engine)
    directory = ConnectorDirectory(timeout=settings.connector_timeout_seconds)
    graphql = GraphQLApp(build_schema(), database, settings, directory)
    token_settings = settings.token_settings()
    keys = KeyCache(database, token_settings)
    member_keys = (
        RemoteKeys(settings.member_jwks_url, token_settings.jwks_cache)
        if settings.member_jwks_url
        else None
    )
    verifier = TokenVerifier(database, token_settings, keys, member_keys)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            async with database.read() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as error:  # any failure means "not ready", and says why
            return JSONResponse({"status": "unavailable", "error": type(error).__name__}, 503)
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Objects alive after start-up are never garbage: keep the collector off them.
        gc.collect()
        gc.freeze()
        async with anyio.create_task_group() as jobs:
            if settings.background_jobs:
                jobs.start_soon(run_background_jobs, database, directory, settings)
            yield
            jobs.cancel_scope.cancel()
        await directory.close()
        if owns_db:
            await database.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *oauth_server.routes(database, token_settings, keys),
            *exports.routes(database),
        ],
        middleware=[
            Middleware(OpenTelemetryMiddleware),
            Middleware(
                AuthenticationMiddleware,
                backend=BearerTokenBackend(verifier),
                on_error=on_authentication_error,
            ),
        ],
        lifespan=lifespan,
    )
    app.state.db = database
    app.state.settings = settings
    app.state.keys = keys
    app.state.directory = directory
    return app
