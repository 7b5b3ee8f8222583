"""What may enter, checked in one place for every root field with arguments before its
resolver runs (`InputBoundary`, added by gateway.graph.build_schema): text at most the argument's
own maximum length (`MAX_LENGTH`, else `DEFAULT_MAX_LENGTH`; its column holds at least that
much), no control characters, and idempotency keys not empty; numbers within their bounds and
instants with a zone, in range (loyalty.bounds: one table by argument name, docs/bounds.md).
A refusal is VALIDATION naming the argument by its path (`input.displayName`), before anything
is read or written. (Variables and literals met schema.limits' coarser checks earlier: 2,000
characters, no control characters.)"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types.unset import UnsetType

from loyalty import bounds
from loyalty.errors import ValidationFailed
from schema.limits import CONTROL

DEFAULT_MAX_LENGTH = 255
# Characters, by argument or input field (their columns are at least this long).
MAX_LENGTH = {
    "idempotency_key": 200,
    "display_name": 200,
    "name": 200,
    "description": 2000,
    "source": 100,
    "external_order_id": 200,
    "reference": 200,
    "url": 500,
    "secret": 200,
    "currency": 3,
    "settlement_currency": 3,
    "timezone": 64,
    "code": 64,
    "referral_code": 64,
    "action": 64,
    "subject": 200,
}
NOT_EMPTY = frozenset({"idempotency_key"})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _leaves(value: Any, name: str, path: str) -> Iterator[tuple[str, str, Any]]:
    """(argument name, its path, value) for every leaf value (text, number, instant) in an
    argument value."""
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaves(item, name, f"{path}[{index}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if not isinstance(item, UnsetType):
                yield from _leaves(item, field.name, f"{path}.{_camel(field.name)}")
    elif value is not None:
        yield name, path, value


def check_arguments(arguments: dict[str, Any]) -> None:
    for argument, value in arguments.items():
        for name, path, text in _leaves(value, argument, _camel(argument)):
            if not isinstance(text, str):  # a number, an instant, an enum
                out_of_bounds = bounds.problem(name, text)
                if out_of_bounds is not None:
                    raise ValidationFailed(f"{path} {out_of_bounds}", argument=path)
                continue
            if not CONTROL.isdisjoint(text):
                raise ValidationFailed(f"{path} holds a control character", argument=path)
            limit = MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH)
            if len(text) > limit:
                raise ValidationFailed(f"{path} has at most {limit} characters", argument=path)
            if name in NOT_EMPTY and not text.strip():
                raise ValidationFailed(f"{path} must not be empty", argument=path)


class InputBoundary(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        check_arguments(kwargs)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        check_arguments(kwargs)
        return await next_(source, info, **kwargs)
