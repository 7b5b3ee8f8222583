"""The SQL pieces a compiled operation is built from: JSON objects and lists in the order the
general path answers them, scalars written as Strawberry serialises them, cursors as
schema.pagination encodes them, and the marker of an object the caller may not see.

The statement writes the response's JSON as text, by concatenation (`||`), not with
json_build_object: PostgreSQL's JSON constructors look up how to write each argument on every
call, which made a nested page cost about twice PostGraphile's statement over the same rows
(bench/side_by_side.py). Each value is written by its SQL type (`json_value`): numbers and
booleans as their text, text escaped by to_json, `PlainText` (digits, ISO instants, enum
names) quoted as it is, `JsonText` (objects and lists written here) as it is, null as null.
A value that cannot be null (a NOT NULL column of a table, JSON written here, `never_null`)
is written without the `coalesce(..., 'null')`, and adjacent constants around it are joined:
fewer concatenations per row (bench/side_by_side.py, PostgreSQL's time per statement)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Integer,
    Numeric,
    Select,
    Table,
    Text,
    case,
    cast,
    func,
    literal_column,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import Cast, ColumnClause, Label
from sqlalchemy.sql.selectable import Alias, ScalarSelect
from sqlalchemy.types import TypeDecorator

# Stands for a non-null object the caller may not see (or that does not exist): a response
# holding it is answered by the general path instead, with its error.
MISSING = "pointgate:compiled:missing:6f1d"


# The key of `{"$sealed": ciphertext}`, which stands for a value stored sealed (loyalty.sealing)
# until the statement's answer is opened in Python (`finished`); no GraphQL response key can be it.
SEALED = "$sealed"
# The key of a member's id, first in each member object of a plan that records whose data the
# caller read (auth.privacy.reads_recorded); `finished` takes it out.
MEMBER_MARK = "$m"


class Unplannable(Exception):
    """The operation selects something only the general path answers."""


class JsonText(TypeDecorator[str]):
    """Text that is a JSON document already (an object or a list written here); with
    `never_null`, one that is never null."""

    impl = Text
    cache_ok = True

    def __init__(self, never_null: bool = False) -> None:
        super().__init__()
        self.never_null = never_null


class PlainText(TypeDecorator[str]):
    """Text that a JSON string holds as it is: no quote, backslash or control character."""

    impl = Text
    cache_ok = True

    def __init__(self, never_null: bool = False) -> None:
        super().__init__()
        self.never_null = never_null


def never_null(expression: Any) -> bool:
    """Whether an expression is never null: a NOT NULL column of a table or of an alias of
    one, a constant written here, JSON text written here (a row's, not a scalar subquery's,
    which may find no row), or such a value cast."""
    while isinstance(expression, Label | Cast):
        expression = expression.element if isinstance(expression, Label) else expression.clause
    if isinstance(expression, ScalarSelect):
        return False
    kind = expression.type
    if isinstance(kind, JsonText | PlainText):
        return kind.never_null
    if isinstance(expression, Column):
        return not expression.nullable and isinstance(expression.table, Table | Alias)
    return isinstance(expression, ColumnClause) and expression.is_literal \
        and expression.name.startswith("'")  # fmt: skip


def _literal(value: str, type_: Any) -> ColumnElement[Any]:
    quoted = value.replace("'", "''")
    return literal_column(f"'{quoted}'", type_)


def _concat(parts: Sequence[str | ColumnElement[Any]]) -> ColumnElement[Any]:
    """The parts one after another, as JSON text (adjacent constants joined here); never null
    when no part is."""
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
    return type_coerce(written, JsonText(all(map(never_null, pieces))))


def _json_parts(expression: Any) -> list[str | ColumnElement[Any]]:
    """A value as JSON text, written by its SQL type, as parts for `_concat`."""
    kind = expression.type
    if isinstance(kind, JsonText):
        return [expression]
    if isinstance(kind, PlainText):
        return ['"', expression, '"']
    if isinstance(kind, Integer | Numeric | Boolean):
        return [cast(expression, Text)]
    return [cast(func.to_json(expression), Text)]


def _value_parts(expression: Any) -> list[str | ColumnElement[Any]]:
    """The parts of a value (null as `null`): bare when it cannot be null, so that the
    constants around it join the constants of the object holding it."""
    if never_null(expression):  # each part is then never null: say so to `_concat`
        parts = _json_parts(expression)
        return [p if isinstance(p, str) else type_coerce(p, JsonText(True)) for p in parts]
    written = _concat(_json_parts(expression))
    return [type_coerce(func.coalesce(written, literal_column("'null'", Text)), JsonText(True))]


def json_value(expression: Any) -> ColumnElement[Any]:
    """A value as JSON text, written by its SQL type; null as `null`."""
    return _concat(_value_parts(expression))


def json_object(pairs: Sequence[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
    parts: list[str | ColumnElement[Any]] = ["{"]
    for n, (key, value) in enumerate(pairs):
        # GraphQL names are [_A-Za-z][_0-9A-Za-z]*: nothing to escape.
        parts += [("," if n else "") + f'"{key}":', *_value_parts(value)]
    return _concat([*parts, "}"])


def json_array(items: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    """A list of a fixed number of values."""
    parts: list[str | ColumnElement[Any]] = ["["]
    for n, item in enumerate(items):
        parts += [","] * bool(n) + _value_parts(item)
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
    listed = _concat(["[", func.coalesce(joined, literal_column("''", Text)), "]"])
    return type_coerce(listed, JsonText(True))


def json_rows(items: Select[Any]) -> ColumnElement[Any]:
    """A list of the rows of `items` (one column: JSON text, never null), in their order,
    `[]` without any: `array_to_string(ARRAY(subquery))`, cheaper for PostgreSQL than an
    aggregate over an ordered subquery."""
    listed = func.array_to_string(func.array(items.scalar_subquery()), literal_column("','"))
    return type_coerce(_concat(["[", listed, "]"]), JsonText(True))


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
    return type_coerce(found, JsonText(True))


def json_typed(expression: Any) -> ColumnElement[Any]:
    """An expression known to be JSON text whose SQL type says otherwise (a CASE of them)."""
    return type_coerce(expression, JsonText())


def written(value: int) -> ColumnElement[Any]:
    """An integer the document fixes, written into the statement (not a parameter)."""
    return literal_column(str(int(value)), BigInteger())


def plain(expression: Any, of: Any = None) -> ColumnElement[Any]:
    """Text known to need no JSON escaping (see `PlainText`), never null where `expression`
    (or the value `of` which it is computed) cannot be."""
    return type_coerce(expression, PlainText(never_null(expression if of is None else of)))


def iso_instant(column: Any) -> ColumnElement[Any]:
    """As Python's `datetime.isoformat()` writes a UTC instant (what Strawberry answers): the
    microseconds only when there are some. One to_char per value (three, with a CASE on the
    fraction, cost the nested query about a tenth of its time)."""
    utc = column.op("AT TIME ZONE")(literal_column("'UTC'"))
    written = func.to_char(utc, literal_column('\'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\''))
    return plain(func.replace(written, literal_column("'.000000+'"), literal_column("'+'")), column)


def iso_date(column: Any) -> ColumnElement[Any]:
    """As `date.isoformat()` writes a date."""
    return plain(func.to_char(column, literal_column("'YYYY-MM-DD'")), column)


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


def sealed_or_plain(plain: ColumnElement[Any], sealed: ColumnElement[Any]) -> ColumnElement[Any]:
    """A string stored in clear (`plain`) or sealed (`sealed`, where not null): the sealed one
    is written `{"$sealed": <ciphertext>}`, for `finished` to put in clear after the statement
    (the database never holds the data key). Ciphertexts are base64url: no escaping."""
    raw = type_coerce(sealed, PlainText(True))
    wrapped = _concat([f'{{"{SEALED}":"', raw, '"}'])
    return json_typed(case((sealed.is_(None), _concat(_json_parts(plain))), else_=wrapped))


def finished(answer: str, open_sealed: Callable[[str], str], note: Callable[[int], None]) -> str:
    """A statement's answer with each member's mark taken out (`note`d) and each sealed value
    put in clear, by substitution in the text (no parsing: JSON escapes every quote inside a
    string, so `{"$` only ever starts an object this module wrote)."""
    if '{"$m":' in answer:
        answer = _MARKED.sub(lambda found: _noted(note, found[1]), answer)
    if '{"$sealed":' in answer:
        answer = _SEALED_VALUE.sub(lambda found: orjson.dumps(open_sealed(found[1])).decode(),
                                   answer)  # fmt: skip
    return answer


_MARKED = re.compile(r'\{"\$m":(\d+),?')
_SEALED_VALUE = re.compile(r'\{"\$sealed":"([^"]*)"\}')


def _noted(note: Callable[[int], None], member_id: str) -> str:
    note(int(member_id))
    return "{"
