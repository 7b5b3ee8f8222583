"""The federation subgraph's schema: `_entities` answers every representation with an entity
or an error with a code, and client errors are not logged as incidents."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import strawberry
from graphql import ValidationRule
from strawberry.federation.schema import FederationAny

from auth.principal import PrincipalKind
from loyalty.errors import NotFound, Unauthenticated, ValidationFailed


class Schema(strawberry.federation.Schema):
    # resolvers.compiled.CompiledOperations (set by gateway.graph.build_schema)
    compiled_operations: Any
    # The limits as a validation rule, built once (the validation cache keys on it).
    limits_rule: type[ValidationRule]

    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        """Client errors are answers, not incidents: only the unexpected ones are logged, with
        their trace id, by MaskUnexpectedErrors."""

    def entities_resolver(
        self, info: strawberry.Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """Every representation answers an entity or an error with a code: a malformed one is
        VALIDATION, one the caller may not see NOT_FOUND (a router turns a bare null into
        "Cannot return null"); anonymous callers get UNAUTHENTICATED for the whole field."""
        if info.context.principal.kind is PrincipalKind.ANONYMOUS:
            raise Unauthenticated("fetching entities needs an access token")
        return [self._entity(info, index, item) for index, item in enumerate(representations)]

    def _entity(self, info: Any, index: int, representation: Any) -> Any:
        name = representation.get("__typename") if isinstance(representation, dict) else None
        entity = self._entity_class(name) if isinstance(name, str) else None
        if entity is None:
            return ValidationFailed(f"representation {index} names no entity of this subgraph",
                                    argument="representations")  # fmt: skip
        key = representation.get("id")
        if not isinstance(key, str | int) or isinstance(key, bool):
            return ValidationFailed(f"representation {index} needs an id",
                                    argument="representations")  # fmt: skip
        return _found(entity.resolve_reference(info=info, id=strawberry.ID(str(key))), entity, key)

    def _entity_class(self, name: str) -> Any:
        concrete = self.schema_converter.type_map.get(name)
        origin = getattr(getattr(concrete, "definition", None), "origin", None)
        return origin if hasattr(origin, "resolve_reference") else None


async def _found(pending: Awaitable[Any], entity_class: Any, key: Any) -> Any:
    entity = await pending
    if entity is None:
        raise NotFound(f"{entity_class.__name__} {key} does not exist")
    return entity
