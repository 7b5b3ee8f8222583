"""Validation that an attacker cannot make expensive: the overlapping-fields rule skips a
document too wide for it (schema.limits refuses it with TOO_MANY_FIELDS), and a document that
validated once is not validated again for another spelling of itself.

Strawberry's ValidationCache keys on the parsed document, whose source location a trailing
comment or other whitespace changes, so `{ program { currency ... } } # 1`, `# 2`, ... each
paid a full validation (found from outside: ~250 ms each for 1,990 copies of a field)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    OperationDefinitionNode,
    OverlappingFieldsCanBeMergedRule,
    ValidationContext,
    print_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from schema.graphql_schema import graphql_schema
from schema.limits import Limits, Measure

VALID_DOCUMENTS = 1024


def bounded_overlap_rule(limits: Limits) -> type[OverlappingFieldsCanBeMergedRule]:
    """Build once at start-up (the validation cache keys on rule classes)."""

    class BoundedOverlappingFieldsRule(OverlappingFieldsCanBeMergedRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.skip = _breadth(context.schema, context.document) > limits.max_breadth

        def enter_selection_set(self, *args: Any) -> None:
            if not self.skip:
                super().enter_selection_set(*args)

    return BoundedOverlappingFieldsRule


def _breadth(schema: Any, document: DocumentNode) -> int:
    measure = Measure(schema, document)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return max((measure.operation(o).breadth for o in operations), default=0)


# Printed documents (comments and insignificant whitespace gone) that validated, with the
# rules they validated under; shared by every request, least recently used first out.
_valid: OrderedDict[tuple[str, tuple[Any, ...]], None] = OrderedDict()


class ValidationMemo(SchemaExtension):
    """Validates a document once per printed form and set of rules; swaps graphql-core's
    overlapping-fields rule for the bounded one."""

    def __init__(self, overlap_rule: type[OverlappingFieldsCanBeMergedRule]) -> None:
        self.overlap_rule = overlap_rule

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        assert document is not None
        rules = tuple(
            self.overlap_rule if rule is OverlappingFieldsCanBeMergedRule else rule
            for rule in execution.validation_rules
        )
        # The text as sent first (no printing on the hot path), then its printed form.
        as_sent = (execution.query or "", rules)
        if as_sent in _valid or (printed := (print_ast(document), rules)) in _valid:
            _remember(as_sent)
            execution.pre_execution_errors = []
        else:
            errors = validate_document(graphql_schema(execution.schema), document, rules)
            if not errors:
                _remember(printed)
                _remember(as_sent)
            execution.pre_execution_errors = errors
        yield


def _remember(key: tuple[str, tuple[Any, ...]]) -> None:
    _valid[key] = None
    _valid.move_to_end(key)
    if len(_valid) > VALID_DOCUMENTS:
        _valid.popitem(last=False)
