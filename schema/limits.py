"""Abuse limits as graphql-core validation rules, so an abusive operation is refused before
anything executes: depth, aliases, fragment spreads, directives, cost and input list sizes.

Every figure is computed in one pass that is linear in the document's size: a fragment's figures
are computed once and reused wherever it is spread, so a "fragment bomb" (F1 spreads F0 twice,
F2 spreads F1 twice, ...) costs thirty steps to measure, not 2^30. (Strawberry's own depth and
alias limiters walk every expansion, which is why they are not used.)

Cost: every field costs 1, and a field with a `first` argument multiplies what is below it by
that page size (the argument's default when absent, the page-size maximum when it is a
variable); `_entities` multiplies by its number of representations. A query asking 100 members
with 100 referrals each with 100 referrals costs over a million and is refused with
QUERY_TOO_COMPLEX."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from graphql import (
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_operation_ast,
    parse,
)

from schema.pagination import MAX_PAGE_SIZE

ENTITIES = "_entities"
# Figures are counted up to this: past it any limit is passed already, and an answer must be
# able to say the figure (JSON numbers of 64 bits; `first: 99999999999999999999` was a 500).
FIGURE_CAP = 10**15


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 15
    max_cost: int = 20_000
    max_fragment_spreads: int = 100
    max_directives: int = 30
    max_input_list: int = 100
    max_representations: int = 1000
    # How deeply a variable's JSON value may nest (lists in objects in lists ...).
    max_input_nesting: int = 32
    # Any string argument: at most this long, and no control characters (NUL included) but
    # tab and line breaks; each field's own, tighter limit is its domain's rule.
    max_string_length: int = 2000
    # Fields selected in one selection set (fragments' included): validation's overlapping-
    # fields rule is quadratic in it (1,990 copies of one field cost 250 ms).
    max_breadth: int = 200


CONTROL = frozenset(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127])


def text_problem(value: str, limits: Limits) -> str | None:
    if len(value) > limits.max_string_length:
        return f"a string has at most {limits.max_string_length} characters"
    if not CONTROL.isdisjoint(value):
        return "a string may not contain control characters"
    return None


@dataclass(frozen=True, slots=True)
class Figures:
    cost: int = 0
    depth: int = 0
    aliases: int = 0
    spreads: int = 0
    # Fields selected at this level (fragments' fields included), and the most at any level:
    # the overlapping-fields rule is quadratic in it.
    width: int = 0
    breadth: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.cost + other.cost,
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.spreads + other.spreads,
            self.width + other.width,
            max(self.breadth, other.breadth),
        )


NOTHING = Figures()


def _page_size(field: FieldNode, definition: Any, variables: Mapping[str, Any] | None) -> int:
    for argument in field.arguments or ():
        if argument.name.value == "first":
            value = argument.value
            if isinstance(value, IntValueNode):
                return min(max(0, int(value.value)), FIGURE_CAP)
            if isinstance(value, VariableNode):
                given = (variables or {}).get(value.name.value)
                return min(max(0, given), FIGURE_CAP) if isinstance(given, int) else MAX_PAGE_SIZE
    if definition is not None and "first" in definition.args:
        default = definition.args["first"].default_value
        return int(default) if isinstance(default, int) else MAX_PAGE_SIZE
    return 1


def _representations(field: FieldNode, variables: Mapping[str, Any] | None) -> int:
    """How many entities `_entities` is asked for: known for a literal list or a given
    variable; at validation time (variables unknown) one, checked again with the values."""
    for argument in field.arguments or ():
        if argument.name.value == "representations":
            value = argument.value
            if isinstance(value, ListValueNode):
                return len(value.values)
            if isinstance(value, VariableNode):
                given = (variables or {}).get(value.name.value)
                return len(given) if isinstance(given, list) else 1
    return 1


class Measure:
    """The figures of an operation, each fragment measured once."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.measured: dict[str, Figures] = {}
        self.visiting: set[str] = set()

    def operation(self, node: OperationDefinitionNode) -> Figures:
        root = {
            "query": self.schema.query_type,
            "mutation": self.schema.mutation_type,
            "subscription": self.schema.subscription_type,
        }[node.operation.value]
        return self.selections(node.selection_set, root)

    def selections(self, node: SelectionSetNode | None, parent: Any) -> Figures:
        """The figures of a selection set: its width, and its breadth counting it."""
        total = self.level(node, parent)
        return replace(total, breadth=max(total.breadth, total.width))

    def level(self, node: SelectionSetNode | None, parent: Any) -> Figures:
        total = NOTHING
        if node is None:
            return total
        fields = getattr(parent, "fields", {})  # objects and interfaces; unions have none
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, fields.get(selection.name.value))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.level(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value) + Figures(spreads=1)
        return total

    def field(self, node: FieldNode, definition: Any) -> Figures:
        alias = 1 if node.alias else 0
        if node.selection_set is None:
            return Figures(cost=1, aliases=alias, width=1)
        child = get_named_type(definition.type) if definition else None
        below = self.selections(node.selection_set, child)
        if node.name.value == ENTITIES:
            multiplier = _representations(node, self.variables)
        else:
            multiplier = _page_size(node, definition, self.variables)
        return Figures(
            cost=min(FIGURE_CAP, 1 + multiplier * below.cost),
            depth=1 + below.depth,
            aliases=alias + below.aliases,
            spreads=below.spreads,
            width=1,
            breadth=below.breadth,
        )

    def fragment(self, name: str) -> Figures:
        if name in self.measured:
            return self.measured[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:  # unknown or cyclic: other rules' errors
            return NOTHING
        self.visiting.add(name)
        target = self.schema.get_type(fragment.type_condition.name.value)
        # spread into a selection set, its fields count at that level
        figures = self.level(fragment.selection_set, target)
        self.visiting.discard(name)
        self.measured[name] = figures
        return figures


def over_limits(figures: Figures, limits: Limits) -> list[tuple[str, str, dict[str, Any]]]:
    """(code, message, extra extensions) for each limit the figures pass."""
    found = []
    if figures.depth > limits.max_depth:
        found.append(("QUERY_TOO_DEEP",
                      f"the operation is {figures.depth} levels deep, more than "
                      f"{limits.max_depth}", {"depth": figures.depth}))  # fmt: skip
    if figures.aliases > limits.max_aliases:
        found.append(("TOO_MANY_ALIASES",
                      f"{figures.aliases} aliases found. Allowed: {limits.max_aliases}",
                      {"aliases": figures.aliases}))  # fmt: skip
    if figures.spreads > limits.max_fragment_spreads:
        found.append(("TOO_MANY_FRAGMENTS",
                      f"fragments are spread {figures.spreads} times, more than "
                      f"{limits.max_fragment_spreads}", {"spreads": figures.spreads}))  # fmt: skip
    if figures.breadth > limits.max_breadth:
        found.append(("TOO_MANY_FIELDS",
                      f"{figures.breadth} fields are selected in one place, more than "
                      f"{limits.max_breadth}", {"fields": figures.breadth}))  # fmt: skip
    if figures.cost > limits.max_cost:
        found.append(("QUERY_TOO_COMPLEX",
                      f"the operation costs {figures.cost}, more than the budget of "
                      f"{limits.max_cost}", {"cost": figures.cost,
                                              "budget": limits.max_cost}))  # fmt: skip
    return found


def limits_rule(limits: Limits) -> type[ValidationRule]:
    """Build once at start-up: the validation cache keys on the rule classes."""

    class OperationLimitsRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.measure = Measure(context.schema, context.document)
            self.directives = 0
            self.argument: ArgumentNode | None = None

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            for code, message, extra in over_limits(self.measure.operation(node), limits):
                self.report_error(GraphQLError(message, node,
                                               extensions={"code": code, **extra}))  # fmt: skip

        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            self.directives += 1
            if self.directives == limits.max_directives + 1:
                self.report_error(
                    GraphQLError(
                        f"a document has at most {limits.max_directives} directives",
                        node,
                        extensions={"code": "TOO_MANY_DIRECTIVES",
                                    "limit": limits.max_directives},
                    )
                )  # fmt: skip

        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            self.argument = node

        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            problem = text_problem(node.value, limits)
            if problem is not None:
                argument = self.argument.name.value if self.argument is not None else None
                self.report_error(GraphQLError(problem, node, extensions={
                    "code": "VALIDATION", "argument": argument}))  # fmt: skip

        def enter_list_value(self, node: ListValueNode, *_: Any) -> None:
            # A router's representations have their own, larger cap (still bounded by cost).
            entities = (
                self.argument is not None
                and self.argument.value is node
                and (self.argument.name.value == "representations")
            )
            cap = limits.max_representations if entities else limits.max_input_list
            if len(node.values) > cap:
                self.report_error(
                    GraphQLError(f"a list argument has at most {cap} items", node,
                                 extensions={"code": "INPUT_TOO_LARGE", "limit": cap})
                )  # fmt: skip

    return OperationLimitsRule


@lru_cache(maxsize=256)
def _parsed(query: str) -> DocumentNode | None:
    try:
        return parse(query, max_tokens=10_000)
    except GraphQLError:
        return None  # the regular path reports the syntax error


def entities_figures(
    schema: GraphQLSchema, query: str, operation_name: str | None, variables: Mapping[str, Any]
) -> Figures | None:
    """The figures of an operation that fetches `_entities`, with the representations it really
    passes (validation, cached per document, cannot know them). None for other operations."""
    if ENTITIES not in query:
        return None
    document = _parsed(query)
    if document is None:
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    return Measure(schema, document, variables).operation(operation)


def representation_variables(query: str, operation_name: str | None) -> frozenset[str]:
    """Variables of type [_Any!]!: the representations a federation router sends."""
    if ENTITIES not in query:
        return frozenset()
    document = _parsed(query)
    operation = get_operation_ast(document, operation_name) if document else None
    if operation is None:
        return frozenset()
    return frozenset(
        definition.variable.name.value
        for definition in operation.variable_definitions or ()
        if get_named_type_name(definition.type) == "_Any"
    )


def get_named_type_name(node: Any) -> str:
    while hasattr(node, "type"):
        node = node.type
    return str(node.name.value)


def oversized_variables(
    variables: Mapping[str, Any], limits: Limits, representations: frozenset[str] = frozenset()
) -> tuple[str, str, dict[str, Any]] | None:
    """(code, why, extensions) when the variables are too large (a list too long, nesting too
    deep) or hold a string no argument accepts (named by its path, `input.displayName`); None
    when they are fine. Walks without recursion, so no nesting depth can exhaust the stack."""
    stack: list[tuple[Any, int, int, str]] = [
        (value, 0,
         limits.max_representations if name in representations else limits.max_input_list, name)
        for name, value in variables.items()
    ]  # fmt: skip
    while stack:
        value, depth, cap, path = stack.pop()
        if depth > limits.max_input_nesting:
            return (
                "INPUT_TOO_LARGE",
                f"a variable nests deeper than {limits.max_input_nesting} levels",
                {},
            )
        if isinstance(value, str):
            problem = text_problem(value, limits)
            if problem is not None:
                return "VALIDATION", f"{path}: {problem}", {"argument": path}
        elif isinstance(value, list):
            if len(value) > cap:
                return "INPUT_TOO_LARGE", f"a list variable has at most {cap} items", {}
            stack.extend((item, depth + 1, limits.max_input_list, f"{path}[{index}]")
                         for index, item in enumerate(value))  # fmt: skip
        elif isinstance(value, dict):
            stack.extend((item, depth + 1, limits.max_input_list, f"{path}.{key}")
                         for key, item in value.items())  # fmt: skip
    return None
