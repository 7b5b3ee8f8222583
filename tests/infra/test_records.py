"""The typed records (infra.records, infra.partner_records) say exactly what their tables hold:
every column, by name, with its Python type, None where it is nullable."""

from __future__ import annotations

import inspect
import re
import typing

import pytest

from infra import partner_records, records
from infra.models.base import metadata

RECORDS = [
    cls
    for module in (records, partner_records)
    for _, cls in inspect.getmembers(module, inspect.isclass)
    if cls.__module__ == module.__name__
]


def table_of(cls: type) -> str:
    found = re.search(r"A row of `(\w+)`", cls.__doc__ or "")
    assert found, cls
    return found[1]


def python_type(column) -> type:
    try:
        found = column.type.python_type
    except NotImplementedError:
        found = object
    if found is object:
        found = column.type.impl.python_type
    return str if issubclass(found, str) else found  # enums are stored as their names


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_a_record_declares_its_tables_columns_with_their_types(cls):
    table = metadata.tables[table_of(cls)]
    hints = typing.get_type_hints(cls)

    assert list(hints) == [column.name for column in table.columns]
    for column in table.columns:
        declared = set(typing.get_args(hints[column.name])) or {hints[column.name]}
        wanted = {python_type(column)} | ({type(None)} if column.nullable else set())
        assert declared == wanted, column.name
