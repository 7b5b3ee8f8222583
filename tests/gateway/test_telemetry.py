from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from infra.telemetry import add_span_processor
from partners import registry
from tests.conftest import graphql
from tests.factories import a_member_with_points

# Query.program has no plan (resolvers.compiled.registry.UNPLANNABLE): the general path answers.
QUERY = "query Balance($id: ID!) { member(id: $id) { balance { available } } program { currency } }"
COMPILED = "query Balance($id: ID!) { member(id: $id) { balance { available } } }"


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    # The process's one tracer provider (the app installs it, exporting or not) exports to
    # memory from now on.
    exporter = InMemorySpanExporter()
    add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_one_request_is_one_trace_of_http_operation_loader_and_sql_spans(client, db, spans):
    member = await a_member_with_points(db, 5)
    spans.clear()

    body = await graphql(client, QUERY, {"id": str(member.id)})

    assert body["data"]["member"]["balance"]["available"] == 5
    finished = spans.get_finished_spans()
    names = [span.name for span in finished]
    assert "POST /graphql" in names
    assert "graphql Balance" in names
    assert "dataloader MemberByIdLoader" in names
    assert "dataloader BalanceByMemberLoader" in names
    assert any(span.attributes.get("db.statement", "").startswith("SELECT") for span in finished)
    assert len({span.context.trace_id for span in finished}) == 1
    operation = next(span for span in finished if span.name == "graphql Balance")
    assert operation.attributes["graphql.operation.type"] == "query"


async def test_a_compiled_operation_is_one_trace_with_its_statement_in_the_operation(
    client, db, spans
):
    if db.dialect != "postgresql":
        pytest.skip("operations are compiled on PostgreSQL only")
    member = await a_member_with_points(db, 5)
    await graphql(client, COMPILED, {"id": str(member.id)})  # plans it
    spans.clear()

    body = await graphql(client, COMPILED, {"id": str(member.id)})

    assert body["data"]["member"]["balance"]["available"] == 5
    finished = spans.get_finished_spans()
    operation = next(span for span in finished if span.name == "graphql Balance")
    # (Without the app's lifespan the token check reads the database too, before the operation.)
    statements = [
        span
        for span in finished
        if "db.statement" in span.attributes and span.parent.span_id == operation.context.span_id
    ]
    # The compiled statement writes the response's JSON from its first key on.
    assert [span.attributes["db.statement"][:20] for span in statements] == [
        """SELECT '{"member":' """
    ]
    assert not any(span.name.startswith("dataloader") for span in finished)
    assert len({span.context.trace_id for span in finished}) == 1


async def test_a_masked_error_carries_the_trace_id_of_the_callers_traceparent(
    client, monkeypatch, caplog
):
    """With no exporter configured too: the operation continues the caller's trace, and the
    masked error and its log line name that trace."""

    async def broken(*_args, **_kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(registry, "list_partners", broken)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}

    with caplog.at_level("ERROR", logger="pointgate.errors"):
        # `program` has no plan: the operation takes the general path, which lists partners.
        body = await graphql(client, "{ partners { code } program { __typename } }",
                             headers=parent)  # fmt: skip
        unrelated = await graphql(client, "{ partners { code } program { __typename } }")

    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR",
                                               "traceId": trace_id}  # fmt: skip
    assert f"trace_id={trace_id}" in caplog.text
    assert len(unrelated["errors"][0]["extensions"]["traceId"]) == 32  # a trace of its own
    assert unrelated["errors"][0]["extensions"]["traceId"] not in ("", trace_id)


def test_the_service_is_named_by_otel_service_name_when_set(monkeypatch):
    from infra.telemetry import _resource

    assert _resource().attributes["service.name"] == "pointgate"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "pointgate-eu-1")
    assert _resource().attributes["service.name"] == "pointgate-eu-1"


async def test_statements_get_no_tracer_until_spans_or_metrics_are_recorded(monkeypatch):
    from sqlalchemy.ext.asyncio import create_async_engine

    from infra import telemetry

    monkeypatch.setattr(telemetry, "_tracing", False)
    monkeypatch.setattr(telemetry, "_exporting", False)
    engine = create_async_engine("sqlite+aiosqlite://")

    def hooks() -> int:
        return len(engine.sync_engine.dispatch.before_cursor_execute)

    try:
        telemetry.instrument_engine(engine)
        assert hooks() == 0

        monkeypatch.setattr(telemetry, "_tracing", True)  # a provider installed later
        telemetry._instrument_engines()
        assert hooks() == 1
        telemetry._instrument_engines()  # once per engine
        assert hooks() == 1
    finally:
        await engine.dispose()
