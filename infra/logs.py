"""How the process logs: JSON lines in production (time, level, logger, message, trace and span
ids, the exception), a readable line in development; configured once per process for the
`pointgate` loggers (gateway.app.create_app)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson
from opentelemetry import trace

HANDLER_NAME = "pointgate"


def _ids() -> dict[str, str]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_ids(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class Readable(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = _ids()
        return f"{line} [trace {ids['trace_id']}]" if ids and "\n" not in line else line


def configure_logging(*, development: bool, level: int = logging.INFO) -> None:
    """Once per process: the `pointgate` loggers write to stderr in the chosen format."""
    logger = logging.getLogger("pointgate")
    if any(handler.get_name() == HANDLER_NAME for handler in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(Readable() if development else JsonLines())
    logger.addHandler(handler)
    logger.setLevel(level)
