"""One row mapper for every GraphQL type built from a database row.

A type's data fields (its resolvers excepted) take the row's column of the same name, converted
to the field's type: an `ID` from the column's value, an enum by value, None kept as None.
A field whose column has another name is named in the class's `__columns__`; fields that are
not a column (money at the program's exponent) are passed in by the caller. The builder for
each type (and set of passed-in fields) is compiled once, so mapping a row costs what a
hand-written constructor call does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self, TypeVar

import strawberry
from strawberry.types.base import StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition

T = TypeVar("T")

_BUILDERS: dict[tuple[type, frozenset[str]], Callable[..., Any]] = {}


def from_row(cls: type[T], row: Any, **given: Any) -> T:
    """An instance of strawberry type `cls` from `row`, with the `given` fields as passed."""
    key = (cls, frozenset(given))
    build = _BUILDERS.get(key)
    if build is None:
        build = _BUILDERS[key] = _compile(cls, key[1])
    return build(row, given)  # type: ignore[no-any-return]


def _converter(field_type: Any) -> tuple[str, Any] | None:
    """How a column's value becomes the field's: (expression template, helper) or None."""
    optional = isinstance(field_type, StrawberryOptional)
    inner = field_type.of_type if optional else field_type
    if inner is strawberry.ID:
        helper: Any = strawberry.ID
        template = "{h}(str({v}))"
    elif isinstance(inner, StrawberryEnumDefinition):
        # The member by its value from the enum's own map: what Enum(value) finds, without
        # the call's overhead on every row.
        helper, template = inner.wrapped_cls._value2member_map_, "{h}[{v}]"
    else:
        return None
    if optional:
        template = f"None if {{v}} is None else {template}"
    return template, helper


def _compile(cls: type, given: frozenset[str]) -> Callable[..., Any]:
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    # A field whose column has another name says so in the class's `__columns__`.
    columns: dict[str, str] = getattr(cls, "__columns__", {})
    helpers: dict[str, Any] = {"cls": cls}
    arguments = []
    for field in definition.fields:
        name = field.python_name
        if field.base_resolver is not None:
            continue
        if name in given:
            arguments.append(f"{name}=given[{name!r}]")
            continue
        value = f"row.{columns.get(name, name)}"
        converter = _converter(field.type)
        if converter is not None:
            template, helper = converter
            helpers[f"h_{name}"] = helper
            value = template.format(h=f"h_{name}", v=value)
        arguments.append(f"{name}={value}")
    source = f"def build(row, given):\n    return cls({', '.join(arguments)})\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<row mapper for {cls.__name__}>", "exec"), helpers, namespace)
    return namespace["build"]  # type: ignore[no-any-return]


class Row:
    """A GraphQL type built from a database row: `Type.from_row(row, **given)`."""

    @classmethod
    def from_row(cls, row: Any, **given: Any) -> Self:
        return from_row(cls, row, **given)
