"""Schema extensions: stable error codes with unexpected errors masked, and one span plus
counters per GraphQL operation (no per-field hooks: those cost on every field)."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from graphql import GraphQLError
from opentelemetry import metrics, propagate, trace
from sqlalchemy.exc import SQLAlchemyError
from strawberry.extensions import MaskErrors, SchemaExtension

from infra.database import is_transient
from infra.telemetry import tracing
from loyalty.errors import DomainError

logger = logging.getLogger("pointgate.errors")
tracer = trace.get_tracer("pointgate.graphql")
meter = metrics.get_meter("pointgate.graphql")
operations_counter = meter.create_counter(
    "pointgate.graphql.operations", description="GraphQL operations executed"
)
errors_counter = meter.create_counter(
    "pointgate.graphql.errors", description="GraphQL errors returned, by code"
)

INTERNAL = "INTERNAL_SERVER_ERROR"
UNAVAILABLE = "SERVICE_UNAVAILABLE"
RETRY_AFTER_SECONDS = 2


def _trace_id() -> str:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def _is_unexpected(error: GraphQLError) -> bool:
    # Errors raised while executing fields (they have a path) are bugs unless the domain raised
    # them on purpose; errors before execution (syntax, validation, variables) are the client's.
    # The database failing is never the client's fault, wherever it surfaces.
    if is_transient(error.original_error):
        return True
    # Nor is a statement the database refused: its message would show the SQL (the policy's
    # conditions included) and its parameters.
    if isinstance(error.original_error, SQLAlchemyError):
        return True
    return error.path is not None and not isinstance(error.original_error, DomainError)


# Strawberry's built-in limiters report plain messages; these give them stable codes.
LIMIT_CODES = (
    ("exceeds maximum operation depth", "QUERY_TOO_DEEP"),
    ("aliases found. Allowed:", "TOO_MANY_ALIASES"),
    ("Document contains more than", "TOO_MANY_TOKENS"),
    ("GraphQL introspection has been disabled", "INTROSPECTION_DISABLED"),
)


def _client_error_code(error: GraphQLError) -> str:
    for fragment, code in LIMIT_CODES:
        if fragment in error.message:
            return code
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.original_error is not None or error.message.startswith("Variable "):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


class MaskUnexpectedErrors(MaskErrors):
    """Unexpected errors are logged with the trace id and replaced by a message that tells the
    client nothing but that id; in development (`show_details`) the message stays, for the
    developer at the keyboard."""

    def __init__(self, show_details: bool = False) -> None:
        super().__init__(should_mask_error=_is_unexpected, error_message="Internal server error")
        self.show_details = show_details
        # One traceback per failure: the errors of a failed batch share their exception.
        self.logged: set[int] = set()

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        trace_id = _trace_id()
        if is_transient(error.original_error):
            logger.warning(
                "database unavailable in %s (trace_id=%s): %s",
                ".".join(str(part) for part in error.path or ()) or "operation",
                trace_id,
                error.original_error,
            )
            return GraphQLError(
                message="the service is temporarily unavailable; retry shortly",
                nodes=error.nodes, source=error.source, positions=error.positions,
                path=error.path,
                extensions={"code": UNAVAILABLE, "retryable": True,
                            "retryAfter": RETRY_AFTER_SECONDS, "traceId": trace_id},
            )  # fmt: skip
        failure = error.original_error or error
        where = ".".join(str(part) for part in error.path or ())
        if id(failure) in self.logged:
            logger.error("unexpected error in %s (trace_id=%s): the same failure as logged above",
                         where, trace_id)  # fmt: skip
        else:
            self.logged.add(id(failure))
            logger.error("unexpected error in %s (trace_id=%s)", where, trace_id,
                         exc_info=failure)  # fmt: skip
        return GraphQLError(
            message=f"{self.error_message}: {error.message}"
            if self.show_details
            else self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": INTERNAL, "traceId": trace_id},
        )


def add_error_codes(errors: list[GraphQLError]) -> None:
    """Give every error without a code the code of its class, and count errors by code. Called
    on the final result, since parse errors can leave before operation hooks see them."""
    for error in errors:
        extensions = error.extensions or {}
        if "code" not in extensions:
            extensions = error.extensions = {**extensions, "code": _client_error_code(error)}
        errors_counter.add(1, {"code": extensions["code"]})


def name_operation(span: trace.Span, name: str, operation_type: str) -> None:
    """The operation's span named and counted (also for compiled operations answered before
    Strawberry runs: gateway.app.GraphQLApp.compiled_answer)."""
    span.update_name(f"graphql {name}")
    span.set_attribute("graphql.operation.name", name)
    span.set_attribute("graphql.operation.type", operation_type)
    operations_counter.add(1, {"graphql.operation.type": operation_type})


# The span of the operation the HTTP view is serving, opened before Strawberry runs so that a
# compiled answer and the general path share it (one span per operation either way).
_open_operation: ContextVar[trace.Span | None] = ContextVar("open_operation", default=None)


@contextmanager
def operation_span(headers: Mapping[str, str] | None = None) -> Iterator[trace.Span]:
    """The operation's span, continuing the caller's `traceparent` (when no HTTP server span
    did already). With no tracer provider installed (no exporter) it is a non-recording span
    that still has ids, so errors and log lines name a trace at almost no cost."""
    current = trace.get_current_span()
    parent = None
    if headers is not None and "traceparent" in headers and not current.is_recording():
        parent = propagate.extract(headers)
    if not tracing():
        caller = trace.get_current_span(parent).get_span_context()
        trace_id = caller.trace_id if caller.is_valid else random.getrandbits(128)
        span: trace.Span = trace.NonRecordingSpan(
            trace.SpanContext(trace_id, random.getrandbits(64), is_remote=False)
        )
        with trace.use_span(span):
            yield from _opened(span)
        return
    with tracer.start_as_current_span("graphql operation", context=parent) as span:
        yield from _opened(span)


def _opened(span: trace.Span) -> Iterator[trace.Span]:
    token = _open_operation.set(span)
    try:
        yield span
    finally:
        _open_operation.reset(token)


class OperationTelemetry(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        opened = _open_operation.get()
        if opened is not None:  # the HTTP view's (operation_span)
            yield
            self.name(opened)
            return
        with tracer.start_as_current_span("graphql operation") as span:
            yield
            self.name(span)

    def name(self, span: trace.Span) -> None:
        # The name and type are known once the document is parsed.
        context = self.execution_context
        try:
            operation_type = context.operation_type.value
        except RuntimeError:  # the document did not parse
            operation_type = "unknown"
        name_operation(span, context.operation_name or "anonymous", operation_type)
