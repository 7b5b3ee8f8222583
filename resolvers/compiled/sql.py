"""The SQL pieces a compiled operation is built from: JSON objects and lists in the order the
general path answers them, scalars written as Strawberry serialises them, cursors as
schema.pagination encodes them, and the marker of an object the caller may not see.

The statement writes the response's JSON as text, by concatenation (`||`), not with
json_build_object: PostgreSQL's JSON constructors look up how to write each argument on every
call, which made a nested page cost about twice PostGraphile's statement over the same rows
(bench/side_by_side.py). Each value is written by its SQL type (`json_value`): numbers and
booleans as their text, text escaped by to_json, `PlainText` (digits, ISO instants, enum
names) quoted as it is, `JsonText` (objects and lists written here) as it is, null as null."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Integer,
    Numeric,
    Text,
    case,
    cast,
    func,
    literal_column,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.types import TypeDecorator

# Stands for a non-null object the caller may not see (or that does not exist): a response
# holding it is answered by the general path instead, with its error.
MISSING = "pointgate:compiled:missing:6f1d"


class Unplannable(Exception):
    """The operation selects something only the general path answers."""


class JsonText(TypeDecorator[str]):
    """Text that is a JSON document already (an object or a list written here)."""

    impl = Text
    cache_ok = True


class PlainText(TypeDecorator[str]):
    """Text that a JSON string holds as it is: no quote, backslash or control character."""

    impl = Text
    cache_ok = True


def _literal(value: str, type_: Any) -> ColumnElement[Any]:
    quoted = value.replace("'", "''")
    return literal_column(f"'{quoted}'", type_)


def _concat(parts: Sequence[str | ColumnElement[Any]]) -> ColumnElement[Any]:
    """The parts one after another, as JSON text (adjacent constants joined here)."""
    merged: list[str | ColumnElement[Any]] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    pieces = [_literal(p, Text) if isinstance(p, str) else p for p in merged]
    written = pieces[0]
    for piece in pieces[1:]:
        written = written.concat(piece)
    return type_coerce(written, JsonText())


def json_value(expression: Any) -> ColumnElement[Any]:
    """A value as JSON text, written by its SQL type; null as `null`."""
    kind = expression.type
    if isinstance(kind, JsonText):
        written = expression
    elif isinstance(kind, PlainText):
        written = _concat(['"', expression, '"'])
    elif isinstance(kind, Integer | Numeric | Boolean):
        written = cast(expression, Text)
    else:
        written = cast(func.to_json(expression), Text)
    return type_coerce(func.coalesce(written, literal_column("'null'", Text)), JsonText())


def json_object(pairs: Sequence[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
    parts: list[str | ColumnElement[Any]] = ["{"]
    for n, (key, value) in enumerate(pairs):
        # GraphQL names are [_A-Za-z][_0-9A-Za-z]*: nothing to escape.
        parts += [("," if n else "") + f'"{key}":', json_value(value)]
    return _concat([*parts, "}"])


def json_array(items: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    """A list of a fixed number of values."""
    parts: list[str | ColumnElement[Any]] = ["["]
    for n, item in enumerate(items):
        parts += [","] * bool(n) + [json_value(item)]
    return _concat([*parts, "]"])


def json_list(item: ColumnElement[Any], *order: Any, condition: Any = None) -> ColumnElement[Any]:
    """An aggregate: the items in `order` (or in the order the rows come, when the rows are an
    ordered subquery and nothing else happens at this level, as PostgreSQL's documentation on
    aggregates says), `[]` when there are none; with `condition`, of the rows meeting it."""
    separator = literal_column("','", Text)
    joined: Any = func.string_agg(
        json_value(item), aggregate_order_by(separator, *order) if order else separator
    )
    if condition is not None:
        joined = joined.filter(condition)
    return _concat(["[", func.coalesce(joined, literal_column("''", Text)), "]"])


def text(value: str) -> ColumnElement[Any]:
    """A string constant written into the statement (names, markers and the program's own
    catalogue, never a client's input), typed: to_json takes no untyped literal."""
    return cast(_literal(value, Text), Text)


def json_text(value: str) -> ColumnElement[Any]:
    """A constant JSON document (quoted as `text` quotes)."""
    return _literal(value, JsonText())


def present(expression: ColumnElement[Any]) -> ColumnElement[Any]:
    """A non-null object, or the MISSING marker."""
    found = func.coalesce(expression, json_text(f'"{MISSING}"'))
    return type_coerce(found, JsonText())


def json_typed(expression: Any) -> ColumnElement[Any]:
    """An expression known to be JSON text whose SQL type says otherwise (a CASE of them)."""
    return type_coerce(expression, JsonText())


def written(value: int) -> ColumnElement[Any]:
    """An integer the document fixes, written into the statement (not a parameter)."""
    return literal_column(str(int(value)), BigInteger())


def plain(expression: Any) -> ColumnElement[Any]:
    """Text known to need no JSON escaping (see `PlainText`)."""
    return type_coerce(expression, PlainText())


def iso_instant(column: Any) -> ColumnElement[Any]:
    """As Python's `datetime.isoformat()` writes a UTC instant (what Strawberry answers): the
    microseconds only when there are some. One to_char per value (three, with a CASE on the
    fraction, cost the nested query about a tenth of its time)."""
    utc = column.op("AT TIME ZONE")(literal_column("'UTC'"))
    written = func.to_char(utc, literal_column('\'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\''))
    return plain(func.replace(written, literal_column("'.000000+'"), literal_column("'+'")))


def iso_date(column: Any) -> ColumnElement[Any]:
    """As `date.isoformat()` writes a date."""
    return plain(func.to_char(column, literal_column("'YYYY-MM-DD'")))


def half_even(value: Any, places: int) -> ColumnElement[Any]:
    """`Decimal.quantize` (half to even) of a non-negative number, as text: PostgreSQL's
    round() takes halves away from zero."""
    scaled = value * 10**places
    floor = func.floor(scaled)
    tie = (scaled - floor == 0.5) & (func.mod(floor, 2) == 0)
    rounded = case((tie, floor / 10**places), else_=func.round(value, places))
    return plain(cast(func.round(rounded, places), Text))


def cursor(kind: str, key: Any) -> ColumnElement[Any]:
    """schema.pagination.encode_cursor in SQL: urlsafe base64 of "kind:id" (under 57 bytes,
    so one line of base64: plain text)."""
    raw = func.convert_to(literal_column(f"'{kind}:'").concat(cast(key, Text)),
                          literal_column("'UTF8'"))  # fmt: skip
    encoded = func.encode(raw, literal_column("'base64'"))
    return plain(func.translate(encoded, literal_column("'+/'"), literal_column("'-_'")))
