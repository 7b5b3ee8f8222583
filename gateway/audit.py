"""Every GraphQL mutation goes into the audit log with the principal that asked for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import FieldNode, OperationType, get_operation_ast
from strawberry.extensions import SchemaExtension

from auth import audit


class AuditMutations(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context
        if context.graphql_document is None:
            return
        operation = get_operation_ast(context.graphql_document, context.operation_name)
        if operation is None or operation.operation is not OperationType.MUTATION:
            return
        errors = {
            error.path[0]: (error.extensions or {}).get("code", "ERROR")
            for error in (context.result.errors if context.result else None) or []
            if error.path
        }
        app_context = context.context
        for selection in operation.selection_set.selections:
            if not isinstance(selection, FieldNode):
                continue
            key = selection.alias.value if selection.alias else selection.name.value
            await audit.record(
                app_context.db,
                app_context.principal,
                f"mutation.{selection.name.value}",
                outcome=str(errors.get(key, "OK")),
            )
