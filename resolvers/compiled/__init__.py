"""Compiled operations: on PostgreSQL, a query whose selections are all plannable
(resolvers.compiled.plan) runs as one SQL statement that builds the response's JSON, and that
text goes into the response as it is (an `orjson.Fragment`, never decoded).

The extension acts where execution would start, so parsing, validation, limits, rate limits,
billing and the operation's span happen exactly as for any other operation; the root fields'
permission classes are asked as the general path asks them. Everything else (mutations, fields
that call partners, arguments the general path refuses, objects the caller may not see) runs on
the general path, which gives the same answer or its error."""

from __future__ import annotations

import inspect
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import orjson
from graphql import ExecutionResult, GraphQLSchema, get_variable_values
from opentelemetry import metrics
from strawberry.extensions import SchemaExtension

from auth.ownership import plan_parameters, plan_shape
from infra.errors import DomainError
from loyalty.program import Program
from resolvers.compiled.collect import conditional_nodes, fragments_of, included, operation_of
from resolvers.compiled.fields import FIELDS
from resolvers.compiled.plan import Fallback, Plan, compile_plan
from resolvers.compiled.sql import MISSING, Unplannable

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
    __slots__ = ("conditional", "fragments", "key", "operation")

    def __init__(self, key: tuple[str, str | None], document: Any,
                 operation_name: str | None) -> None:  # fmt: skip
        self.key = key
        self.operation = operation_of(document, operation_name)
        self.fragments = fragments_of(document)
        self.conditional = (
            conditional_nodes(self.operation, self.fragments) if self.operation else []
        )


class CompiledOperations:
    """The plans of one schema, per document (LRU), and how to run them."""

    def __init__(self, program: Program) -> None:
        self.schema: GraphQLSchema | None = None
        self.program = program
        self.documents: OrderedDict[tuple[str, str | None], _Document] = OrderedDict()
        self.plans: OrderedDict[tuple[Any, ...], Plan | None] = OrderedDict()
        self.dialect: Any = None
        # Queries answered by a compiled statement, and those that took the general path.
        self.outcomes: Counter[str] = Counter()

    def document(self, query: str, name: str | None, parsed: Any) -> _Document:
        key = (query, name)
        found = self.documents.get(key)
        if found is None:
            found = self.documents[key] = _Document(key, parsed, name)
            if len(self.documents) > DOCUMENTS:
                self.documents.popitem(last=False)
        else:
            self.documents.move_to_end(key)
        return found

    def plan_key(self, document: _Document, variables: Any, context: Any) -> tuple[Any, ...]:
        outcome = tuple(included(node, variables) for node in document.conditional)
        return (document.key, plan_shape(context.principal), outcome)

    def plan(self, document: _Document, variables: Any, context: Any) -> Plan | None:
        key = self.plan_key(document, variables, context)
        if key in self.plans:
            self.plans.move_to_end(key)
            return self.plans[key]
        try:
            plan: Plan | None = compile_plan(
                self.schema, document.operation, document.fragments, variables,  # type: ignore[arg-type]
                context.visible, self.program, self.dialect, FIELDS,
            )  # fmt: skip
        except Unplannable:
            plan = None
        self.plans[key] = plan
        if len(self.plans) > PLANS:
            self.plans.popitem(last=False)
        return plan

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] += 1
        outcomes_counter.add(1, {"outcome": outcome})

    async def run(self, execution: Any) -> str | None:
        """The response's data as JSON text, or None for the general path (from the
        extension, after validation: the document is registered here)."""
        context = execution.context
        if context.db.dialect != "postgresql" or execution.query is None:
            return None
        # Keyed by the operation name the request gave (None for a lone operation), as the
        # next request of the same document will give it (`known`).
        name = execution._provided_operation_name
        document = self.document(execution.query, name, execution.graphql_document)
        self.schema = self.schema or execution.schema._schema
        self.dialect = self.dialect or context.db.engine.dialect
        return await self.answer(document, execution.variables, context, compile=True)

    async def known(
        self, query: str, name: str | None, variables: Any, context: Any
    ) -> tuple[str, str] | None:
        """For a document this process validated and planned before (for the caller's shape),
        its name and answer without parsing or validating it again; else None."""
        document = self.documents.get((query, name))
        if document is None or document.operation is None:
            return None
        text = await self.answer(document, variables, context, compile=False)
        if text is None:
            return None
        operation_name = document.operation.name
        return (operation_name.value if operation_name else "anonymous"), text

    async def answer(
        self, document: _Document, raw_variables: Any, context: Any, *, compile: bool
    ) -> str | None:
        if document.operation is None or self.schema is None:
            return None
        variables = get_variable_values(
            self.schema, document.operation.variable_definitions or (), raw_variables or {}
        )
        if isinstance(variables, list):  # the general path reports them
            return None
        if compile:
            plan = self.plan(document, variables, context)
        else:
            plan = self.plans.get(self.plan_key(document, variables, context))
        if plan is None or not await _permitted(plan, context):
            return None
        if plan.sql is None:
            return plan.constant
        try:
            parameters = plan.parameters(
                variables, plan_parameters(context.principal), self.program
            )
        except (Fallback, DomainError):  # the general path answers it (a bad cursor, ...)
            return None
        async with context.db.read() as conn:
            text: str = (await conn.exec_driver_sql(plan.sql, parameters)).scalar_one()
        return None if MISSING in text else text


async def _permitted(plan: Plan, context: Any) -> bool:
    info = SimpleNamespace(context=context)
    for permission_classes in plan.permissions:
        for permission_class in permission_classes:
            try:
                allowed = permission_class().has_permission(None, info)
                if inspect.isawaitable(allowed):
                    allowed = await allowed
            except Exception:  # the general path raises it again, as the field's error
                return False
            if not allowed:
                return False
    return True


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
        yield
