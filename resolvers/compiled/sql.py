"""The SQL pieces a compiled operation is built from: JSON objects and lists in the order the
general path answers them, scalars written as Strawberry serialises them, cursors as
schema.pagination encodes them, and the marker of an object the caller may not see."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Text, case, cast, func, literal_column
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by

# Stands for a non-null object the caller may not see (or that does not exist): a response
# holding it is answered by the general path instead, with its error.
MISSING = "pointgate:compiled:missing:6f1d"
# json_build_object takes at most 100 arguments: 50 keys.
MAX_KEYS = 50


class Unplannable(Exception):
    """The operation selects something only the general path answers."""


def _key(name: str) -> ColumnElement[Any]:
    # GraphQL names are [_A-Za-z][_0-9A-Za-z]*: safe as SQL string literals.
    return literal_column(f"'{name}'")


def json_object(pairs: Sequence[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
    if len(pairs) > MAX_KEYS:
        raise Unplannable(f"more than {MAX_KEYS} fields on one object")
    arguments = [part for key, value in pairs for part in (_key(key), value)]
    return func.json_build_object(*arguments, type_=JSON)


def text(value: str) -> ColumnElement[Any]:
    """A string constant written into the statement (names, markers and the program's own
    catalogue, never a client's input)."""
    quoted = value.replace("'", "''")
    return literal_column(f"'{quoted}'", Text)


def json_text(value: str) -> ColumnElement[Any]:
    """A constant JSON document (quoted as `text` quotes)."""
    return cast(text(value), JSON)


def empty_list() -> ColumnElement[Any]:
    return json_text("[]")


def json_list(item: ColumnElement[Any], *order: Any) -> ColumnElement[Any]:
    """The items in `order`, `[]` when there are none."""
    return func.coalesce(func.json_agg(aggregate_order_by(item, *order)), empty_list())


def present(expression: ColumnElement[Any]) -> ColumnElement[Any]:
    """A non-null object, or the MISSING marker."""
    return func.coalesce(expression, json_text(f'"{MISSING}"'))


def iso_instant(column: Any) -> ColumnElement[Any]:
    """As Python's `datetime.isoformat()` writes a UTC instant (what Strawberry answers): the
    microseconds only when there are some. One to_char per value (three, with a CASE on the
    fraction, cost the nested query about a tenth of its time)."""
    utc = column.op("AT TIME ZONE")(literal_column("'UTC'"))
    written = func.to_char(utc, literal_column('\'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\''))
    return func.replace(written, literal_column("'.000000+'"), literal_column("'+'"))


def iso_date(column: Any) -> ColumnElement[Any]:
    """As `date.isoformat()` writes a date."""
    return func.to_char(column, literal_column("'YYYY-MM-DD'"))


def half_even(value: Any, places: int) -> ColumnElement[Any]:
    """`Decimal.quantize` (half to even) of a non-negative number, as text: PostgreSQL's
    round() takes halves away from zero."""
    scaled = value * 10**places
    floor = func.floor(scaled)
    tie = (scaled - floor == 0.5) & (func.mod(floor, 2) == 0)
    rounded = case((tie, floor / 10**places), else_=func.round(value, places))
    return cast(func.round(rounded, places), Text)


def cursor(kind: str, key: Any) -> ColumnElement[Any]:
    """schema.pagination.encode_cursor in SQL: urlsafe base64 of "kind:id"."""
    raw = func.convert_to(literal_column(f"'{kind}:'").concat(cast(key, Text)),
                          literal_column("'UTF8'"))  # fmt: skip
    encoded = func.encode(raw, literal_column("'base64'"))
    return func.translate(encoded, literal_column("'+/'"), literal_column("'-_'"))
