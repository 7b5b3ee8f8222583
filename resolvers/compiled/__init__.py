"""Compiled operations: on PostgreSQL, a query whose selections are all plannable
(resolvers.compiled.plan) runs as one SQL statement that builds the response's JSON, and that
text goes into the response as it is (an `orjson.Fragment`, never decoded).

The extension acts where execution would start, so parsing, validation, limits, rate limits,
billing and the operation's span happen exactly as for any other operation; the root fields'
permission classes are asked as the general path asks them. A mutation whose payloads are rows
runs its root fields' resolvers and reads the payloads by the same plans after the commit
(resolvers.compiled.writes). Everything else (fields that call partners, arguments the general
path refuses, objects the caller may not see) runs on the general path, which gives the same
answer or its error."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import ExecutionResult, GraphQLSchema, OperationDefinitionNode, get_variable_values
from opentelemetry import metrics
from strawberry.extensions import SchemaExtension

from auth.ownership import plan_parameters, plan_shape
from auth.privacy import reads_recorded
from loyalty import data_reads, sealing
from loyalty.errors import DomainError
from loyalty.program import Program
from resolvers.compiled.collect import conditional_nodes, fragments_of, included, operation_of
from resolvers.compiled.permission import permitted
from resolvers.compiled.plan import Fallback, Plan, compile_plan
from resolvers.compiled.registry import FIELDS
from resolvers.compiled.sql import MISSING, Unplannable, finished
from resolvers.compiled.writes import PAYLOAD_ID, compile_writes, run_writes
from schema.graphql_schema import graphql_schema

meter = metrics.get_meter("pointgate.graphql")
outcomes_counter = meter.create_counter(
    "pointgate.graphql.compiled", description="Queries by path: compiled or general"
)
# Documents remembered, and plans (one per document, caller shape and @skip/@include
# outcome), each least recently used first out: a document with many @include outcomes
# (2^12 of them) cannot grow the memory without bound (found from outside: 3,000 variants of
# one document took 80 MiB).
DOCUMENTS = 512
PLANS = 1024


class _Document:
    """A parsed document and the operation a request names in it."""

    __slots__ = ("conditional", "fragments", "key", "operation", "variables")

    def __init__(self, key: tuple[str, str | None], operation: Any, fragments: Any) -> None:
        self.key = key
        self.operation = operation
        self.fragments = fragments
        self.conditional = conditional_nodes(operation, fragments)
        self.variables = tuple(
            definition.variable.name.value for definition in operation.variable_definitions or ()
        )


class CompiledOperations:
    """The plans of one schema, per document (LRU), and how to run them."""

    def __init__(self, program: Program) -> None:
        self.schema: GraphQLSchema | None = None
        self.program = program
        # By query text and operation name; and the documents of one operation by query text
        # alone (a request may send such a document with or without its operation's name).
        self.named: OrderedDict[tuple[str, str | None], _Document | None] = OrderedDict()
        self.lone: OrderedDict[str, _Document] = OrderedDict()
        self.plans: OrderedDict[tuple[Any, ...], Plan | None] = OrderedDict()
        self.dialect: Any = None
        # Queries answered by a compiled statement, and those that took the general path.
        self.outcomes: Counter[str] = Counter()

    def document(self, query: str, name: str | None, parsed: Any) -> _Document | None:
        key = (query, name)
        if key in self.named:
            self.named.move_to_end(key)
            return self.named[key]
        operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
        operation = operation_of(parsed, name)
        found = None
        if operation is not None:
            found = _Document(key, operation, fragments_of(parsed))
            if len(operations) == 1:
                self.lone[query] = found
        self.named[key] = found
        if len(self.named) > DOCUMENTS:
            self.named.popitem(last=False)
        if len(self.lone) > DOCUMENTS:
            self.lone.popitem(last=False)
        return found

    def plan_key(self, document: _Document, variables: Any, caller: Caller) -> tuple[Any, ...]:
        """A plan holds for a document, a caller's shape, its @skip/@include outcome, and
        which variables are null (a null `filter:` is planned, another takes the general
        path: resolvers.compiled.plan.Planner.unfiltered)."""
        outcome = tuple(included(node, variables) for node in document.conditional)
        nulls = tuple(variables.coerced.get(name) is None for name in document.variables)
        return (document.key, plan_shape(caller.principal), outcome, nulls)

    def plan(self, document: _Document, variables: Any, caller: Caller) -> Plan | None:
        key = self.plan_key(document, variables, caller)
        if key in self.plans:
            self.plans.move_to_end(key)
            return self.plans[key]
        try:
            plan: Plan | None = compile_plan(
                self.schema, document.operation, document.fragments, variables,  # type: ignore[arg-type]
                caller.visible, self.program, self.dialect, FIELDS,
                marks_members=reads_recorded(caller.principal),
            )  # fmt: skip
        except Unplannable:
            plan = None
        self.plans[key] = plan
        if len(self.plans) > PLANS:
            self.plans.popitem(last=False)
        return plan

    def writes(self, document: _Document, variables: Any, caller: Caller) -> Any:
        """The compiled mutation of `document` for the caller's shape (None: general path)."""
        key = ("write", *self.plan_key(document, variables, caller))
        if key not in self.plans:
            try:
                self.plans[key] = compile_writes(  # type: ignore[assignment]
                    self.schema, document.operation, document.fragments, variables,  # type: ignore[arg-type]
                    caller.visible, self.program, self.dialect, FIELDS,
                    marks_members=reads_recorded(caller.principal),
                )  # fmt: skip
            except Unplannable:
                self.plans[key] = None
            if len(self.plans) > PLANS:
                self.plans.popitem(last=False)
        self.plans.move_to_end(key)
        return self.plans[key]

    async def write(self, execution: Any) -> ExecutionResult | None:
        """A mutation's result, its writes run by their own resolvers and its payloads read by
        the plans (resolvers.compiled.writes); None for the general path."""
        found = self.registered(execution)
        if found is None:
            return None
        document, caller = found
        assert self.schema is not None  # (set by registered)
        variables = get_variable_values(
            self.schema, document.operation.variable_definitions or (), execution.variables or {}
        )
        writes = None if isinstance(variables, list) else self.writes(document, variables, caller)
        if writes is None:
            return None

        async def read(plan: Plan, variables: Any, payload_id: Any) -> str | None:
            given = {**plan_parameters(caller.principal), PAYLOAD_ID: payload_id}
            try:
                parameters = plan.parameters(variables, given, self.program)
            except (Fallback, DomainError):  # the general path answers it (a page size, ...)
                return None
            async with caller.db.read() as conn:
                found = (await conn.exec_driver_sql(plan.sql, parameters)).scalar()
            return None if found is None else finished(found, sealing.open_sealed, data_reads.note)

        return await run_writes(writes, self.schema, document, execution.graphql_document,
                                variables, execution.variables, execution.context,
                                execution.root_value, read)  # fmt: skip

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] += 1
        outcomes_counter.add(1, {"outcome": outcome})

    async def run(self, execution: Any) -> str | None:
        """The response's data as JSON text, or None for the general path (from the
        extension, after validation: the document is registered here)."""
        found = self.registered(execution)
        if found is None:
            return None
        document, caller = found
        return await self.answer(document, execution.variables, caller, compile=True)

    def registered(self, execution: Any) -> tuple[_Document, Caller] | None:
        """The executed document, registered, and its caller (None: the general path's)."""
        context = execution.context
        if context.db.dialect != "postgresql" or execution.query is None:
            return None
        # Strawberry's `operation_name`: the one the request gave, else the lone operation's.
        document = self.document(execution.query, execution.operation_name,
                                 execution.graphql_document)  # fmt: skip
        if document is None:
            return None
        self.schema = self.schema or graphql_schema(execution.schema)
        self.dialect = self.dialect or context.db.engine.dialect
        caller = Caller(context.principal, context.db, context.visible, lambda: _ready(context))
        return document, caller

    async def known(
        self, query: str, name: str | None, variables: Any, caller: Caller
    ) -> tuple[str, str] | None:
        """For a document this process validated and planned before (for the caller's shape),
        its name and answer without parsing or validating it again; else None."""
        document = self.named.get((query, name))
        if document is None and name is None:  # a lone operation, sent without its name
            document = self.lone.get(query)
        if document is None or caller.db.dialect != "postgresql":
            return None
        text = await self.answer(document, variables, caller, compile=False)
        if text is None:
            return None
        operation_name = document.operation.name
        return (operation_name.value if operation_name else "anonymous"), text

    async def answer(
        self, document: _Document, raw_variables: Any, caller: Caller, *, compile: bool
    ) -> str | None:
        if self.schema is None:
            return None
        variables = get_variable_values(
            self.schema, document.operation.variable_definitions or (), raw_variables or {}
        )
        if isinstance(variables, list):  # the general path reports them
            return None
        if compile:
            plan = self.plan(document, variables, caller)
        else:
            plan = self.plans.get(self.plan_key(document, variables, caller))
        if plan is None:
            return None
        if plan.roots and not await permitted(
            plan, self.schema, document, variables, await caller.make_context()
        ):
            return None
        if plan.sql is None:
            return plan.constant
        try:
            parameters = plan.parameters(variables, plan_parameters(caller.principal), self.program)
        except (Fallback, DomainError):  # the general path answers it (a bad cursor, ...)
            return None
        async with caller.db.read() as conn:
            text: str = (await conn.exec_driver_sql(plan.sql, parameters)).scalar_one()
        return None if MISSING in text else finished(text, sealing.open_sealed, data_reads.note)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks (what plans and parameters depend on), and how to make the request's context
    when a root field's permission is asked (only then: `{ __typename }` needs none)."""

    principal: Any
    db: Any
    visible: Any
    make_context: Callable[[], Awaitable[Any]]


async def _ready(context: Any) -> Any:
    return context


class CompiledReads(SchemaExtension):
    """Runs a plannable operation as its compiled statement instead of executing it."""

    def __init__(self, *, operations: CompiledOperations) -> None:
        self.operations = operations

    async def on_execute(self) -> AsyncIterator[None]:  # type: ignore[override]
        execution = self.execution_context
        if execution.operation_type.value == "query":
            text = await self.operations.run(execution)
            self.operations.count("compiled" if text is not None else "general")
            if text is not None:
                # The text goes into the response as it is (orjson writes a Fragment verbatim).
                answer: Any = orjson.Fragment(text)
                execution.result = ExecutionResult(data=answer, errors=None)
        elif execution.operation_type.value == "mutation":
            result = await self.operations.write(execution)
            self.operations.count("compiled" if result is not None else "general")
            if result is not None:
                execution.result = result
        yield
