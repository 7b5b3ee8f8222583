"""A compiled operation's root fields' permissions, asked as Strawberry asks them: each root
field's own `PermissionExtension` (the one Strawberry runs for its `permission_classes`) is run
with a `strawberry.Info` for that field, the field's arguments, and no source; it passes only
when every permission returns a real boolean True, exactly as on the general path. A denial (or
any error) sends the operation down the general path, which raises it as the field's error."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry
from graphql import (
    FieldNode,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    get_argument_values,
)
from graphql.pyutils import Path, is_awaitable
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.permission import PermissionExtension

from resolvers.compiled.plan import Plan

ALLOWED = object()


async def _gather(values: Any) -> list[Any]:
    return list(await asyncio.gather(*values))


# What graphql-core's executor gives resolvers to run more work: here only for completeness (a
# permission reads the context), with no abort signal.
HELPERS = GraphQLResolveInfoHelpers(gather=_gather, track=lambda value: None)


async def _allowed(source: Any, info: Any, **kwargs: Any) -> object:
    return ALLOWED


def resolve_info(
    schema: GraphQLSchema, root: GraphQLObjectType, key: str, nodes: list[FieldNode],
    document: Any, variables: Any, context: Any, root_value: Any = None,
) -> GraphQLResolveInfo:  # fmt: skip
    """The `info` graphql-core's executor gives the root field `nodes` (response key `key`)."""
    field = root.fields[nodes[0].name.value]
    return GraphQLResolveInfo(
        nodes[0].name.value, nodes, field.type, root, Path(None, key, root.name), schema,
        document.fragments, root_value, document.operation, variables, context, is_awaitable,
        None, HELPERS,
    )  # fmt: skip


async def permitted(
    plan: Plan, schema: GraphQLSchema, document: Any, variables: Any, context: Any
) -> bool:
    root = schema.query_type
    assert root is not None
    for key, nodes in plan.roots:
        field = root.fields[nodes[0].name.value]
        definition = field.extensions["strawberry-definition"]
        checks = [e for e in definition.extensions if isinstance(e, PermissionExtension)]
        if not checks:
            continue
        raw = resolve_info(schema, root, key, nodes, document, variables, context)
        info = strawberry.Info(_raw_info=raw, _field=definition)
        try:
            arguments = get_argument_values(field, nodes[0], variables)
            names = {a.graphql_name or a.python_name: a.python_name for a in definition.arguments}
            kwargs = {names.get(name, name): value for name, value in arguments.items()}
            for check in checks:
                if await check.resolve_async(_allowed, None, info, **kwargs) is not ALLOWED:
                    return False
        except Exception:  # a denial raises; the general path raises it again
            return False
    return True
