"""The graph's schema: Query and Mutation with Apollo Federation v2, the abuse limits of the
settings, the error, telemetry and audit extensions, the input boundary on every field with
arguments, and (on PostgreSQL) compiled reads."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
)
from strawberry.schema.config import StrawberryConfig

from gateway.audit import AuditMutation
from gateway.settings import Settings
from resolvers.compiled import CompiledOperations, CompiledReads
from resolvers.live import Subscription
from resolvers.mutations import Mutation
from resolvers.queries import Query
from schema.boundary import InputBoundary
from schema.extensions import (
    MaskUnexpectedErrors,
    OperationTelemetry,
)
from schema.federation import Schema
from schema.limits import (
    limits_rule,
)
from schema.live import TYPES as LIVE_TYPES
from schema.scalars import BIG_INT, BOUNDED_DECIMAL, BigInt
from schema.validation import ValidationMemo, bounded_overlap_rule

# Composes with both Apollo's and The Guild's composition (the latter accepts up to 2.9).
FEDERATION_VERSION: Final = "2.9"


def build_schema(settings: Settings | None = None) -> Schema:
    """The schema with the abuse limits of `settings`; in production also without
    introspection (`_service { sdl }` stays available to the federation gateway)."""
    settings = settings or Settings()
    rule = limits_rule(settings.limits())  # once: the validation cache keys on rule classes
    overlap = bounded_overlap_rule(settings.limits())
    limits = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules([rule]),
    ]
    if not settings.is_development:
        limits.append(DisableIntrospection)
    operations = CompiledOperations(settings.program)
    if settings.compiled_reads:
        # One statement per plannable query on PostgreSQL (resolvers.compiled); the general
        # path answers the rest, and every query on SQLite.
        limits.append(lambda: CompiledReads(operations=operations))
    for field in Mutation.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if not any(isinstance(extension, AuditMutation) for extension in field.extensions):
            field.extensions.append(AuditMutation())
    for root in (Query, Mutation):
        for field in root.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            if field.arguments and not any(
                isinstance(extension, InputBoundary) for extension in field.extensions
            ):
                field.extensions.append(InputBoundary())
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(LIVE_TYPES.values()),  # (the subscription names only their interface)
        federation_version=FEDERATION_VERSION,
        config=StrawberryConfig(scalar_map={Decimal: BOUNDED_DECIMAL, BigInt: BIG_INT}),
        extensions=[
            OperationTelemetry,
            lambda: MaskUnexpectedErrors(show_details=settings.is_development),
            *limits,
            lambda: ParserCache(maxsize=512),
            lambda: ValidationMemo(overlap),
        ],
    )
    schema.compiled_operations = operations
    schema.limits_rule = rule
    return schema
