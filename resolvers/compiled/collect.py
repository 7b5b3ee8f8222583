"""The fields an operation selects on an object type, collected as graphql-core's executor
collects them: fragments spread and inlined where their type condition applies, `@skip` and
`@include` applied, aliases kept, and the fields of one response key merged in the order they
first appear."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    Node,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_directive_values,
    is_abstract_type,
)

from resolvers.compiled.sql import Unplannable

Fields = dict[str, list[FieldNode]]


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def conditional_nodes(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> list[Node]:
    """Every selection of the operation and its fragments that carries `@skip` or `@include`,
    in document order: their outcomes are what a plan of this operation depends on."""
    found: list[Node] = []
    for root in (operation, *fragments.values()):
        found.extend(node for node in _selections(root.selection_set) if node.directives)
    return found


def _selections(selection_set: SelectionSetNode | None) -> Iterator[Any]:
    for selection in selection_set.selections if selection_set else ():
        yield selection
        if isinstance(selection, FieldNode | InlineFragmentNode):
            yield from _selections(selection.selection_set)


def included(node: Any, variables: Any) -> bool:
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip is not None and skip["if"] is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return include is None or include["if"] is True


def collect(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    variables: Any,
    type_name: str,
    selection_sets: Iterable[SelectionSetNode],
) -> Fields:
    fields: Fields = {}
    visited: set[str] = set()
    for selection_set in selection_sets:
        _visit(schema, fragments, variables, type_name, selection_set, fields, visited)
    return fields


def _applies(schema: GraphQLSchema, condition: Any, type_name: str) -> bool:
    if condition is None or condition.name.value == type_name:
        return True
    named = schema.get_type(condition.name.value)
    runtime = schema.get_type(type_name)
    return named is not None and is_abstract_type(named) and schema.is_sub_type(named, runtime)  # type: ignore[arg-type]


def _visit(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    variables: Any,
    type_name: str,
    selection_set: SelectionSetNode,
    fields: Fields,
    visited: set[str],
) -> None:
    for selection in selection_set.selections:
        if not included(selection, variables):
            continue
        if isinstance(selection, FieldNode):
            key = selection.alias.value if selection.alias else selection.name.value
            fields.setdefault(key, []).append(selection)
        elif isinstance(selection, InlineFragmentNode):
            if _applies(schema, selection.type_condition, type_name):
                _visit(schema, fragments, variables, type_name, selection.selection_set, fields,
                       visited)  # fmt: skip
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if name in visited or fragment is None:
                continue
            visited.add(name)
            if _applies(schema, fragment.type_condition, type_name):
                _visit(schema, fragments, variables, type_name, fragment.selection_set, fields,
                       visited)  # fmt: skip


def argument_node(node: FieldNode, name: str) -> Any:
    """The value node of a field's argument as the document writes it, None without one."""
    return next((a.value for a in node.arguments or () if a.name.value == name), None)


def unfiltered(node: FieldNode, variables: Any, what: str) -> None:
    """A list field's `filter:` takes the general path unless it is null (written so, or a
    variable null in this request: plans are kept per variables' nullness, as a router's
    generated query passes every argument as a variable)."""
    given = argument_node(node, "filter")
    if given is None or isinstance(given, NullValueNode):
        return
    if isinstance(given, VariableNode) and variables.coerced.get(given.name.value) is None:
        return
    raise Unplannable(f"{what}(filter:) takes the general path")
