"""Compiled mutations: a mutation whose root fields each return a row of a table is answered
without Strawberry's execution of the operation. Each root field runs its own resolver exactly
as Strawberry runs it (graphql-core's resolver of the field: the arguments coerced and
converted, then the field's extensions, boundary, audit and permission, and the command it
calls), in order; after the commit, the payload's selection is read by the read plans
(resolvers.compiled.registry) by the row's id, one statement per root field, written as JSON.

Root fields run in order, each write and then its payload, as serial execution runs them. An
error of a root field is that field's error, located as graphql-core locates it; the roots are
non-null, so the data is null and no later field runs, as on the general path. A payload the
plans cannot write (an argument the general path refuses, `MISSING`: a nested object the
caller may not see) hands the operation to graphql-core from there, with the values the
resolvers returned so far: the general path's answer, and no write runs twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    execute,
    get_argument_values,
    get_named_type,
    located_error,
)
from graphql.pyutils import is_awaitable
from sqlalchemy import Integer, Table, bindparam, select

from infra.models import (
    campaigns,
    coupon_templates,
    coupons,
    exchanges,
    members,
    partners,
    purchases,
    rate_cards,
    redemptions,
    rewards,
)
from resolvers.compiled.collect import collect
from resolvers.compiled.permission import resolve_info
from resolvers.compiled.plan import Plan, Planner, planned
from resolvers.compiled.sql import MISSING, Unplannable
from schema.pagination import parse_id

# The payload types that are a table's row, read by id after the commit.
PAYLOAD_TABLES: dict[str, Table] = {
    "Member": members, "Purchase": purchases, "Redemption": redemptions, "Partner": partners,
    "Reward": rewards, "Exchange": exchanges, "RateCard": rate_cards, "Coupon": coupons,
    "CouponTemplate": coupon_templates, "Campaign": campaigns,
}  # fmt: skip
PAYLOAD_ID = "payload_id"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Write:
    """One root mutation field (response key, nodes) and the plan of its payload (None for the
    root's `__typename` and for a payload of its `identity`)."""

    key: str
    nodes: list[FieldNode]
    payload: Plan | None
    numbered: bool = True  # ids are numbers (else text: exchanges)
    # A payload of its `id` and `__typename` alone (response key, field): written from the id
    # the resolver returned, with no statement.
    identity: tuple[tuple[str, str], ...] | None = None

    def identified(self, value: Any, type_name: str) -> str:
        pairs = {
            key: str(value.id) if name == "id" else type_name for key, name in self.identity or ()
        }
        return orjson.dumps(pairs).decode()

    def key_of(self, value: Any) -> Any:
        """The id of the row the resolver returned, as its column holds it."""
        return parse_id(str(value.id)) if self.numbered else str(value.id)


def compile_writes(
    schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: Any, variables: Any,
    visible: Any, program: Any, dialect: Any, fields: Any, *, marks_members: bool = False,
) -> tuple[Write, ...]:  # fmt: skip
    root = schema.mutation_type
    if operation.operation.value != "mutation" or root is None:
        raise Unplannable("not a mutation")
    writes = []
    for key, nodes in collect(schema, fragments, variables, root.name,
                              [operation.selection_set]).items():  # fmt: skip
        name = nodes[0].name.value
        if name == "__typename":
            writes.append(Write(key, nodes, None))
            continue
        field = root.fields[name]
        table = PAYLOAD_TABLES.get(get_named_type(field.type).name)
        if table is None or not isinstance(field.type, GraphQLNonNull):
            raise Unplannable(f"Mutation.{name}'s payload is not a row read by its id")
        type_name = get_named_type(field.type).name
        selections = [node.selection_set for node in nodes if node.selection_set]
        chosen = collect(schema, fragments, variables, type_name, selections)
        if all(found[0].name.value in ("id", "__typename") for found in chosen.values()):
            identity = tuple((k, found[0].name.value) for k, found in chosen.items())
            writes.append(Write(key, nodes, None, identity=identity))
            continue
        planner = Planner(schema, fragments, variables, visible, program, fields,
                          marks_members=marks_members)  # fmt: skip
        row = planner.alias(table)
        payload = select(planner.object(type_name, nodes, row))
        payload = payload.where(row.c.id == bindparam(PAYLOAD_ID, type_=row.c.id.type))
        numbered = isinstance(row.c.id.type, Integer)
        writes.append(Write(key, nodes, planned(planner, payload, dialect), numbered))
    return tuple(writes)


async def run_writes(
    writes: tuple[Write, ...], schema: GraphQLSchema, parsed: Any, document: DocumentNode,
    variables: Any, raw_variables: Any, context: Any, root_value: Any, read: Any,
) -> ExecutionResult:  # fmt: skip
    """The operation's result. `parsed`: its operation and fragments; `read(plan, variables,
    id)`: the payload's JSON text (None, or holding MISSING, where the plans cannot answer)."""
    root = schema.mutation_type
    assert root is not None
    values: dict[str, Any] = {}
    parts = []
    for write in writes:  # in order: each write, then its payload, as serial execution does
        if write.payload is None and write.identity is None:
            parts.append((write.key, '"Mutation"'))
            continue
        field = root.fields[write.nodes[0].name.value]
        info = resolve_info(schema, root, write.key, write.nodes, parsed, variables, context,
                            root_value)  # fmt: skip
        try:
            arguments = get_argument_values(field, write.nodes[0], variables)
            value = field.resolve(root_value, info, **arguments)
            values[write.key] = await value if is_awaitable(value) else value
        except Exception as error:  # the field's error; non-null, so the data is null
            return ExecutionResult(None, [located_error(error, write.nodes, info.path.as_list())])
        if write.payload is None:  # its id alone
            parts.append(
                (write.key, write.identified(values[write.key], get_named_type(field.type).name))
            )
            continue
        try:
            text = await read(write.payload, variables, write.key_of(values[write.key]))
        except Exception as error:  # committed: the general path's completion answers it
            log.warning("a compiled payload read failed, completing it generally: %r", error)
            text = None
        if text is None or MISSING in text:
            # The general path from here on: this payload and any later root field.
            return await _completed(schema, document, parsed.operation, raw_variables, context,
                                    root_value, values)  # fmt: skip
        parts.append((write.key, text))
    body = ",".join(f"{orjson.dumps(key).decode()}:{text}" for key, text in parts)
    answer: Any = orjson.Fragment(f"{{{body}}}")  # written into the response as it is
    return ExecutionResult(answer, None)


async def _completed(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
    raw_variables: Any, context: Any, root_value: Any, values: dict[str, Any],
) -> ExecutionResult:  # fmt: skip
    """graphql-core's execution of the operation, where each root field that ran already has
    the value its resolver returned (the later ones run now): the general path's answer,
    without running a write twice."""

    def returned(next_: Any, source: Any, info: Any, **arguments: Any) -> Any:
        if info.path.prev is None and info.path.key in values:
            return values[info.path.key]
        return next_(source, info, **arguments)

    name = operation.name.value if operation.name else None
    result = execute(schema, document, root_value, context, raw_variables, name,
                     middleware=[returned])  # fmt: skip
    return await result if is_awaitable(result) else result  # type: ignore[return-value]
