"""Query cost and input size limits: graphql-core validation rules, so an abusive operation is
refused before anything executes.

Cost: every field costs 1, and a field with a `first` argument multiplies what is below it by
that page size (the argument's default when absent, the page-size maximum when it is a
variable). A query asking 100 members with 100 referrals each with 100 referrals costs over a
million and is refused with QUERY_TOO_COMPLEX."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)

from schema.pagination import MAX_PAGE_SIZE


def _page_size(field: FieldNode, definition: Any) -> int:
    for argument in field.arguments or ():
        if argument.name.value == "first":
            if isinstance(argument.value, IntValueNode):
                return max(0, int(argument.value.value))
            if isinstance(argument.value, VariableNode):
                return MAX_PAGE_SIZE
    if definition is not None and "first" in definition.args:
        default = definition.args["first"].default_value
        return int(default) if isinstance(default, int) else MAX_PAGE_SIZE
    return 1


def cost_rule(max_cost: int) -> type[ValidationRule]:
    class QueryCostRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fragments = {
                definition.name.value: definition
                for definition in context.document.definitions
                if isinstance(definition, FragmentDefinitionNode)
            }

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            schema = self.context.schema
            root = {
                "query": schema.query_type,
                "mutation": schema.mutation_type,
                "subscription": schema.subscription_type,
            }[node.operation.value]
            cost = self._cost(node.selection_set, root, frozenset())
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"the operation costs {cost}, more than the budget of {max_cost}",
                        node,
                        extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost,
                                    "budget": max_cost},
                    )
                )  # fmt: skip

        def _cost(
            self, selections: SelectionSetNode | None, parent: Any, seen: frozenset[str]
        ) -> int:
            if selections is None or not isinstance(parent, GraphQLObjectType):
                return 0
            total = 0
            for selection in selections.selections:
                if isinstance(selection, FieldNode):
                    definition = parent.fields.get(selection.name.value)
                    child = get_named_type(definition.type) if definition else None
                    below = self._cost(selection.selection_set, child, seen)
                    total += 1 + _page_size(selection, definition) * below
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    target = (self.context.schema.get_type(condition.name.value)
                              if condition else parent)  # fmt: skip
                    total += self._cost(selection.selection_set, target, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is None or name in seen:  # cycles are another rule's error
                        continue
                    target = self.context.schema.get_type(fragment.type_condition.name.value)
                    total += self._cost(fragment.selection_set, target, seen | {name})
                if total > max_cost * 1000:  # no need to count on
                    return total
            return total

    return QueryCostRule


def input_list_rule(max_items: int) -> type[ValidationRule]:
    class InputListRule(ValidationRule):
        def enter_list_value(self, node: ListValueNode, *_: Any) -> None:
            if len(node.values) > max_items:
                self.report_error(
                    GraphQLError(
                        f"a list argument has at most {max_items} items",
                        node,
                        extensions={"code": "INPUT_TOO_LARGE", "limit": max_items},
                    )
                )

    return InputListRule


def oversized_variable(value: Any, max_items: int) -> bool:
    """Whether a variable value holds a list longer than `max_items`, at any depth."""
    if isinstance(value, list):
        return len(value) > max_items or any(oversized_variable(v, max_items) for v in value)
    if isinstance(value, dict):
        return any(oversized_variable(v, max_items) for v in value.values())
    return False
