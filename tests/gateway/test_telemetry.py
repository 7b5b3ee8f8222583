from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import graphql
from tests.factories import a_member_with_points

QUERY = "query Balance($id: ID!) { member(id: $id) { balance { available } } }"


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
