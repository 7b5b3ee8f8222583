"""Log lines an operator can search: JSON in production with time, level, logger, the trace and
span ids and the exception; one traceback per failure."""

from __future__ import annotations

import logging

import orjson
from opentelemetry import trace

from infra.logs import JsonLines, Readable
from tests.conftest import graphql

TRACE = trace.SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=False)


def a_record(exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("pointgate.errors", logging.ERROR, __file__, 1, "boom %s", ("x",),
                             exc_info)  # fmt: skip


def test_a_production_line_is_json_with_time_level_logger_and_the_trace():
    try:
        raise RuntimeError("broken")
    except RuntimeError as error:
        record = a_record((RuntimeError, error, error.__traceback__))

    with trace.use_span(trace.NonRecordingSpan(TRACE)):
        line = orjson.loads(JsonLines().format(record))

    assert line["level"] == "ERROR" and line["logger"] == "pointgate.errors"
    assert line["message"] == "boom x" and line["time"].endswith("+00:00")
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["span_id"] == "00f067aa0ba902b7"
    assert "RuntimeError: broken" in line["exception"]


def test_a_development_line_is_readable_and_names_the_trace():
    with trace.use_span(trace.NonRecordingSpan(TRACE)):
        line = Readable().format(a_record())

    assert " ERROR   pointgate.errors boom x [trace 4bf92f3577b34da6a3ce929d0e0e4736]" in line


async def test_a_failed_batch_of_entities_logs_one_traceback(client, db, monkeypatch, caplog):
    from resolvers import dataloaders

    async def broken(self, conn, keys):
        raise RuntimeError("the batch broke")

    monkeypatch.setattr(dataloaders.MemberByIdLoader, "load_batch", broken)
    members = ", ".join(f'{{__typename: "Member", id: "{n}"}}' for n in range(1, 5))
    query = f"{{ _entities(representations: [{members}]) {{ __typename }} }}"

    with caplog.at_level("ERROR", logger="pointgate.errors"):
        body = await graphql(client, query)

    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"] * 4
    assert caplog.text.count("Traceback") == 1
    assert caplog.text.count("the same failure as logged above") == 3
