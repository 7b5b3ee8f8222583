"""Every GraphQL mutation goes into the audit log with the principal that asked for it, and a
mutation that committed always has its row (auth.audit.Audited: written in the mutation's first
commit; a mutation that committed nothing gets its row afterwards)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry import UNSET
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


# The arguments that name what a mutation acts on, looked for in this order (at the top level
# and in `input`); the first one given is the row's target, as "<name>:<value>". A member named
# by an identity (an e-mail, a phone number) is not written: the log keeps no contact data.
TARGETS = ("id", "member", "member_id", "quote_id", "exchange_id", "partner_id", "campaign_id",
           "template_id", "reward_id", "client_id", "code", "order_id", "period")  # fmt: skip


def target_of(arguments: dict[str, Any]) -> str | None:
    """What a mutation's arguments say it acts on, e.g. "member:42", "quote:9f0c…"."""
    scopes = [arguments, vars(arguments["input"]) if hasattr(arguments.get("input"), "__dict__")
              else {}]  # fmt: skip
    for name in TARGETS:
        for scope in scopes:
            value = scope.get(name)
            if name == "member":
                value = getattr(value, "id", None)
            if value is not None and value is not UNSET:
                return f"{name.removesuffix('_id')}:{value}"
    return None


class AuditMutation(FieldExtension):
    """On every root mutation field (added by `gateway.graph.build_schema`)."""

    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        raise TypeError("mutations are resolved asynchronously")

    async def resolve_async(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        context = info.context
        async with audit.audited(context.db, context.principal, f"mutation.{info.field_name}",
                                 target_of(kwargs), outcome_of=outcome_of):  # fmt: skip
            return await next_(source, info, **kwargs)
