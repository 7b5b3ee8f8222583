"""Every GraphQL mutation goes into the audit log with the principal that asked for it, and a
mutation that committed always has its row (auth.audit.Audited: written in the mutation's first
commit; a mutation that committed nothing gets its row afterwards)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.extensions import FieldExtension

from auth import audit
from infra.database import is_transient
from loyalty.errors import DomainError


def outcome_of(error: BaseException) -> str:
    if isinstance(error, DomainError):
        return error.code
    if isinstance(error, GraphQLError):
        code = (error.extensions or {}).get("code")
        return str(code) if code else outcome_of(error.original_error or Exception())
    return "SERVICE_UNAVAILABLE" if is_transient(error) else "INTERNAL_SERVER_ERROR"


class AuditMutation(FieldExtension):
    """On every root mutation field (added by `gateway.graph.build_schema`)."""

    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        raise TypeError("mutations are resolved asynchronously")

    async def resolve_async(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        context = info.context
        async with audit.audited(context.db, context.principal, f"mutation.{info.field_name}",
                                 outcome_of=outcome_of):  # fmt: skip
            return await next_(source, info, **kwargs)
