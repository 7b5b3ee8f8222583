from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import graphql
from tests.factories import a_member_with_points

# growthValue is not plannable: this operation takes the general path on every database.
QUERY = "query Balance($id: ID!) { member(id: $id) { balance { available } growthValue } }"
COMPILED = "query Balance($id: ID!) { member(id: $id) { balance { available } } }"


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    # The global tracer provider can be set once per process: this session's is this one.
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
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
    assert [span.attributes["db.statement"][:22] for span in statements] == [
        "SELECT CAST(json_build"
    ]
    assert not any(span.name.startswith("dataloader") for span in finished)
    assert len({span.context.trace_id for span in finished}) == 1
