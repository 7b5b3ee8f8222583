"""Relay connections with opaque cursors over keyset (id) pagination."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from loyalty.errors import NotFound, ValidationFailed

T = TypeVar("T")
Node = TypeVar("Node")

MAX_PAGE_SIZE = 100


def parse_id(value: strawberry.ID | str) -> int:
    """Database id from a GraphQL ID; a malformed id is answered like a missing one."""
    try:
        parsed = int(value)
    except (TypeError, ValueError):
        raise NotFound("no such object") from None
    if parsed <= 0 or parsed >= 2**63:
        raise NotFound("no such object")
    return parsed


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def encode_cursor(kind: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        prefix, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        # A key outside the ids' range (BIGINT, positive) was never handed out.
        if prefix == kind and key.isdigit() and 0 <= int(key) < 2**63:
            return int(key)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ValidationFailed("the cursor is not one this list handed out", argument="after")


def check_page_size(first: int) -> int:
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"first is between 0 and {MAX_PAGE_SIZE}", argument="first")
    return first


def build_connection(
    rows: Sequence[Any], first: int, kind: str, to_node: Callable[[Any], Node]
) -> Connection[Node]:
    """Rows were fetched with first + 1 to tell whether another page follows."""
    page = rows[:first]
    edges = [Edge(cursor=encode_cursor(kind, row.id), node=to_node(row)) for row in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
        ),
    )
