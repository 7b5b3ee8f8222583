"""The graphql-core schema under a Strawberry schema: the one place Pointgate reads it.

Strawberry builds a `graphql.GraphQLSchema` and keeps it as `Schema._schema`, with no public
accessor (checked up to strawberry-graphql 0.3xx); validation of cached documents, the variable
limits and compiled operations need it. Reading it here only keeps a Strawberry upgrade that
renames it to one line, which tests/schema/test_graphql_schema.py would catch."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLSchema


def graphql_schema(schema: Any) -> GraphQLSchema:
    found = schema._schema
    assert isinstance(found, GraphQLSchema)
    return found
