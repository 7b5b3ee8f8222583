"""Planning an operation into one PostgreSQL statement that builds the response's JSON.

The plan walks the operation's selections (resolvers.compiled.collect). Every field it meets
must have a declared plan (resolvers.compiled.fields: a column, or an expression the domain
provides); a field without one makes the operation `Unplannable`, and it takes the general
path. Each object is read from its own alias of its table (its "source"), so a member nested
in a member's referrer refers to its own row, never to the enclosing one; the caller's
conditions (loyalty.visibility, decided by auth.ownership) are adapted to that alias. Lists
and connection pages are subqueries ordered and limited exactly as the general path's loaders
read them, written as JSON text (resolvers.compiled.sql).

A plan depends on the document, the operation, which `@skip`/`@include` selections apply and
the caller's shape (auth.ownership.plan_shape), never on argument values (but page sizes the
document writes), the caller's ids or the time: those are parameters, read per request
(`Plan.parameters`). Errors are the general path's to give: an argument it would refuse raises
`Fallback` before the statement runs, and a non-null object the caller may not see comes back
as `MISSING`, after which the operation runs again on the general path, which answers it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    VariableNode,
    get_argument_values,
    get_named_type,
)
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    Text,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.util import ClauseAdapter

from loyalty.errors import DomainError
from loyalty.program import Program
from loyalty.segment import Measures, instants
from loyalty.visibility import Visibility
from resolvers.compiled.collect import argument_node, collect
from resolvers.compiled.sql import (
    MEMBER_MARK,
    Unplannable,
    cursor,
    iso_date,
    iso_instant,
    json_list,
    json_object,
    json_rows,
    plain,
    text,
    written,
)
from schema.pagination import check_page_size, decode_cursor

LAST_ID = 2**63 - 1

# The instants a statement counts from (loyalty.segment.instants at the request's time), as
# parameters given per request.
CLOCK: dict[str, Any] = {
    name: bindparam(f"at_{name}", type_=DateTime(timezone=True))
    for name in ("now", "new_since", "recent_since", "previous_since", "window_start")
}


class Fallback(Exception):
    """This request's arguments need the general path (it gives their error)."""


# Parameter values read from one field's arguments (and the request's time).
Read = Callable[[dict[str, Any], datetime], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Binding:
    """Parameters read from one field's arguments, as the general path would read them."""

    field: GraphQLField
    node: FieldNode
    read: Read


@dataclass(frozen=True, slots=True)
class Plan:
    # None when the answer needs no database at all ({ __typename }): then `constant` is it.
    sql: str | None
    # Positional parameter names and the values fixed when the plan was compiled.
    order: tuple[str, ...]
    constants: dict[str, Any]
    bindings: tuple[Binding, ...]
    # The root fields (response key, nodes) whose permissions are asked per request
    # (resolvers.compiled.permission).
    roots: tuple[tuple[str, list[FieldNode]], ...]
    constant: str = ""

    def parameters(
        self, variables: Any, caller: dict[str, Any], program: Program
    ) -> tuple[Any, ...]:
        values = dict(caller)
        now = datetime.now(UTC)
        if any(name.startswith("at_") for name in self.order):
            values.update({f"at_{name}": at for name, at in instants(program, now).items()})
            values["at_now"] = now
        for binding in self.bindings:
            try:
                arguments = get_argument_values(binding.field, binding.node, variables)
                values.update(binding.read(arguments, now))
            except (DomainError, GraphQLError, ValueError, TypeError):
                raise Fallback from None
        return tuple(values.get(name, self.constants[name]) for name in self.order)


class Source:
    """What an object's fields read from when it is not a table's row: named expressions."""

    def __init__(self, **figures: Any) -> None:
        self.c = figures


# How a field is read: (planner, the field, its nodes, the object's source) -> SQL.
PlanField = Callable[["Planner", GraphQLField, list[FieldNode], Any], ColumnElement[Any]]


class Planner:
    def __init__(
        self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: Any,
        visible: Visibility, program: Program, fields: Mapping[tuple[str, str], PlanField], *,
        marks_members: bool = False,
    ) -> None:  # fmt: skip
        self.schema = schema
        # Each member object starts with its id under MEMBER_MARK (loyalty.data_reads).
        self.marks_members = marks_members
        self.fragments = fragments
        self.variables = variables
        self.visible = visible
        self.program = program
        self.fields = fields
        self.exponent = program.currency_exponent
        self._measures: Measures | None = None
        self.bindings: list[Binding] = []
        self.roots: list[tuple[str, list[FieldNode]]] = []
        self.count = 0
        self.aliases = 0
        self.typenames_only: dict[str, str] = {}

    # --- the operation and its root fields -------------------------------------------------

    def statement(self, operation: OperationDefinitionNode) -> Select[Any]:
        if operation.operation.value != "query":
            raise Unplannable("only queries are compiled")
        root = self.schema.query_type
        assert root is not None
        fields = collect(self.schema, self.fragments, self.variables, root.name,
                         [operation.selection_set])  # fmt: skip
        self.roots = [(key, nodes) for key, nodes in fields.items()
                      if nodes[0].name.value != "__typename"]  # fmt: skip
        pairs = [(key, self.field(root.name, nodes, None)) for key, nodes in fields.items()]
        if all(nodes[0].name.value == "__typename" for nodes in fields.values()):
            self.typenames_only = {key: root.name for key in fields}
        return select(json_object(pairs))

    # --- objects -----------------------------------------------------------------------------

    def object(self, type_name: str, nodes: list[FieldNode], source: Any) -> ColumnElement[Any]:
        """The selected fields of an object read from `source`, in selection order."""
        selections = [node.selection_set for node in nodes if node.selection_set]
        fields = collect(self.schema, self.fragments, self.variables, type_name, selections)
        pairs = [(key, self.field(type_name, found, source)) for key, found in fields.items()]
        if self.marks_members and type_name == "Member":
            pairs.insert(0, (MEMBER_MARK, source.c.id))
        return json_object(pairs)

    def field(self, type_name: str, nodes: list[FieldNode], source: Any) -> ColumnElement[Any]:
        name = nodes[0].name.value
        if name == "__typename":
            return text(type_name)
        plan = self.fields.get((type_name, name))
        if plan is None:
            raise Unplannable(f"{type_name}.{name} has no declared plan")
        object_type = self.schema.get_type(type_name)
        assert isinstance(object_type, GraphQLObjectType)
        return plan(self, object_type.fields[name], nodes, source)

    def scalar(self, expression: Any, field: GraphQLField) -> ColumnElement[Any]:
        """A value as Strawberry serialises the field's scalar."""
        named = get_named_type(field.type)
        if isinstance(named, GraphQLEnumType):
            definition = named.extensions["strawberry-definition"]
            if any(value.name != value.value for value in definition.values):
                raise Unplannable(f"enum {named.name} is not stored by name")
            return plain(cast(expression, Text))  # enum names: [_A-Za-z][_0-9A-Za-z]*
        if named.name == "ID":
            as_text = cast(expression, Text)
            return plain(as_text) if isinstance(expression.type, Integer) else as_text
        if named.name in ("String", "Int", "BigInt", "Boolean"):
            return expression  # type: ignore[no-any-return]
        if named.name == "DateTime":
            return iso_instant(expression)
        if named.name == "Date":
            return iso_date(expression)
        if named.name == "Decimal":  # amounts at the program's currency exponent (priced)
            return plain(cast(func.round(expression, written(self.exponent)), Text), expression)
        raise Unplannable(f"scalar {named.name}")

    def alias(self, table: Any) -> Any:
        self.aliases += 1
        return table.alias(f"{table.name}_{self.aliases}")

    @staticmethod
    def over(source: Any, expression: Any) -> Any:
        """An expression written over a table, made to read `source` (an alias of it)."""
        return ClauseAdapter(source).traverse(expression)

    def rows(
        self, type_name: str, nodes: list[FieldNode], source: Any, condition: Any, *order: Any
    ) -> ColumnElement[Any]:
        """A list of objects: the rows of `source` meeting `condition`, in `order`."""
        item = self.object(type_name, nodes, source)
        items = select(item).select_from(source).where(condition).order_by(*order)
        return json_rows(items.correlate_except(source))

    def one(
        self, type_name: str, nodes: list[FieldNode], source: Any, condition: Any
    ) -> ColumnElement[Any]:
        """The object of the row of `source` meeting `condition` (null without one)."""
        found = select(self.object(type_name, nodes, source)).where(condition)
        return found.correlate_except(source).scalar_subquery()

    def measures(self) -> Measures:
        """Lifecycle and segment as loyalty.segment computes them, over the caller's scopes,
        at the request's time (parameters: `CLOCK`), written over `members`."""
        if self._measures is None:
            self._measures = Measures(
                self.program, None, self.visible.aggregated_purchases,
                self.visible.aggregated_interactions, at=CLOCK,
            )  # fmt: skip
        return self._measures

    # --- connections -------------------------------------------------------------------------

    def connection(
        self,
        field: GraphQLField,
        nodes: list[FieldNode],
        source: Any,
        condition: Any,
        kind: str,
        *,
        ascending: bool,
        ordered_by: tuple[Any, ...] = (),
    ) -> ColumnElement[Any]:
        """A page as schema.pagination.build_connection makes it: `first` rows after the
        cursor's id in id order (one more with pageInfo: does another page follow?).
        With `ordered_by`, rows in that order and cursors their positions (kind "offset", as
        for exchanges, whose ids are random)."""
        given = argument_node(nodes[0], "after")  # none: from the start, no condition
        after = None if given is None or isinstance(given, NullValueNode) else self.parameter()
        first, limit = self.page_size(field, nodes[0])

        def read(args: dict[str, Any], now: datetime) -> dict[str, Any]:
            size = check_page_size(args["first"])
            after_id = decode_cursor(kind, args.get("after"))
            if after_id is None:
                after_id = 0 if ascending else LAST_ID
            values = {} if after is None else {after.key: after_id}
            if isinstance(first, BindParameter):
                values.update({first.key: size, limit.key: size + 1})
            return values

        self.bind(field, nodes, read)
        connection_type = get_named_type(field.type).name
        node_type = connection_type.removesuffix("Connection")
        node_columns: list[Any] = []

        def node_column(node_nodes: list[FieldNode]) -> Callable[[Any], Any]:
            label = f"node{len(node_columns)}"
            node_columns.append(self.object(node_type, node_nodes, source).label(label))
            return lambda page: page.c[label]

        selections = [node.selection_set for node in nodes if node.selection_set]
        fields = collect(self.schema, self.fragments, self.variables, connection_type, selections)
        # pageInfo needs one row more (is there another page?) and the rows' numbers.
        paged = any(found[0].name.value == "pageInfo" for found in fields.values())
        if callable(source):  # rows read knowing the page: (cursor or None, rows wanted)
            source = source(after, limit if paged else first)
        builders = self.page_builders(connection_type, fields, kind, first, node_column,
                                      ascending, paged)  # fmt: skip
        page = self.page(source, condition, node_columns, after, ordered_by, ascending, paged)
        rows = page.limit(limit if paged else first).correlate_except(source).subquery()
        return select(
            json_object([(key, build(rows)) for key, build in builders])
        ).scalar_subquery()

    @staticmethod
    def page(source: Any, condition: Any, node_columns: list[Any], after: Any,
             ordered_by: tuple[Any, ...], ascending: bool, paged: bool) -> Select[Any]:  # fmt: skip
        """The rows after the cursor: key (id, or position), number on the page, nodes."""
        if ordered_by:
            number = func.row_number().over(order_by=ordered_by)
            # Window functions count before OFFSET: `number` is the row's position overall.
            position = number if after is None else number - after
            page = select(number.label("key"), position.label("n"), *node_columns)
            page = page.where(condition).order_by(*ordered_by)
            return page if after is None else page.offset(after)
        order = source.c.id.asc() if ascending else source.c.id.desc()
        numbered = [func.row_number().over(order_by=order).label("n")] if paged else []
        page = select(source.c.id.label("key"), *numbered, *node_columns)
        page = page.where(condition).order_by(order)
        if after is None:
            return page
        return page.where(source.c.id > after if ascending else source.c.id < after)

    def page_size(self, field: GraphQLField, node: FieldNode) -> tuple[Any, Any]:
        """`first` and `first + 1`, written into the statement when the document fixes them:
        with LIMIT $n PostgreSQL's generic plan looked dearer than a custom one, so it planned
        every execution again (0.4-0.55 ms of the nested query's 3 ms)."""
        given = argument_node(node, "first")
        size: Any = None
        if isinstance(given, IntValueNode):
            size = int(given.value)
        elif given is None:
            size = field.args["first"].default_value
        if isinstance(given, VariableNode) or not isinstance(size, int):
            return self.parameter(), self.parameter()
        try:
            check_page_size(size)
        except DomainError:
            raise Unplannable("a page size the general path refuses") from None
        return written(size), written(size + 1)

    def page_builders(
        self,
        connection_type: str,
        fields: dict[str, list[FieldNode]],
        kind: str,
        first: Any,
        node_column: Callable[[list[FieldNode]], Callable[[Any], Any]],
        ascending: bool,
        paged: bool,
    ) -> list[tuple[str, Callable[[Any], Any]]]:
        edge_type = connection_type.removesuffix("Connection") + "Edge"
        builders: list[tuple[str, Callable[[Any], Any]]] = []
        for key, found in fields.items():
            name = found[0].name.value
            if name == "__typename":
                builders.append((key, _constant(connection_type)))
            elif name == "edges":
                edge = self.edge_builders(edge_type, found, kind, node_column)
                builders.append((key, _listed(first, edge, paged)))
            elif name == "nodes":
                builders.append((key, _listed(first, node_column(found), paged)))
            else:  # pageInfo
                builders.append((key, self.page_info(found, kind, first, ascending)))
        return builders

    def edge_builders(
        self,
        edge_type: str,
        nodes: list[FieldNode],
        kind: str,
        node_column: Callable[[list[FieldNode]], Callable[[Any], Any]],
    ) -> Callable[[Any], Any]:
        parts: list[tuple[str, Callable[[Any], Any]]] = []
        selections = [node.selection_set for node in nodes if node.selection_set]
        for key, found in collect(self.schema, self.fragments, self.variables, edge_type,
                                  selections).items():  # fmt: skip
            name = found[0].name.value
            if name == "__typename":
                parts.append((key, _constant(edge_type)))
            elif name == "cursor":
                parts.append((key, lambda page: cursor(kind, page.c.key)))
            else:  # node
                parts.append((key, node_column(found)))
        return lambda page: json_object([(key, build(page)) for key, build in parts])

    def page_info(
        self, nodes: list[FieldNode], kind: str, first: Any, ascending: bool
    ) -> Callable[[Any], Any]:
        def build(page: Any) -> Any:
            on_page = page.c.n <= first
            last = (func.max if ascending else func.min)(page.c.key).filter(on_page)
            figures = Source(has_next_page=func.count() > first, end_cursor=cursor(kind, last))
            return self.object("PageInfo", nodes, figures)

        return build

    # --- parameters --------------------------------------------------------------------------

    def parameter(self, type_: Any = None) -> BindParameter[Any]:
        self.count += 1
        return bindparam(f"a{self.count}", type_=type_ or BigInteger())

    def bind(self, field: GraphQLField, nodes: list[FieldNode], read: Read) -> None:
        self.bindings.append(Binding(field, nodes[0], read))


def _constant(value: str) -> Callable[[Any], Any]:
    return lambda page: text(value)


def _listed(first: Any, item: Callable[[Any], Any], paged: bool) -> Callable[[Any], Any]:
    """The page's items (its first `first` rows, when it holds one more for pageInfo)."""
    return lambda page: json_list(item(page), condition=page.c.n <= first if paged else None)


def compile_plan(
    schema: GraphQLSchema, operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode], variables: Any, visible: Visibility,
    program: Program, dialect: Any, fields: Mapping[tuple[str, str], PlanField], *,
    marks_members: bool = False,
) -> Plan:  # fmt: skip
    planner = Planner(schema, fragments, variables, visible, program, fields,
                      marks_members=marks_members)  # fmt: skip
    statement = planner.statement(operation)
    if planner.typenames_only:
        return Plan(None, (), {}, (), (), constant=orjson.dumps(planner.typenames_only).decode())
    return planned(planner, statement, dialect)


def planned(planner: Planner, statement: Select[Any], dialect: Any) -> Plan:
    """The plan of `statement`, which `planner` built."""
    compiled = statement.compile(dialect=dialect)
    return Plan(compiled.string, tuple(compiled.positiontup or ()), dict(compiled.params),
                tuple(planner.bindings), tuple(planner.roots))  # fmt: skip
