"""Planning an operation into one PostgreSQL statement that builds the response's JSON.

The plan walks the operation's selections (resolvers.compiled.collect) and turns each object
into `json_build_object`, each list into an ordered `json_agg`, and each connection page into a
subquery ordered and limited exactly as the general path's loaders read it, with the caller's
conditions (loyalty.visibility, decided by auth.ownership) in the same places. Any selection
outside the plannable part raises `Unplannable`: that operation takes the general path.

A plan depends on the document, the operation, which `@skip`/`@include` selections apply and
the caller's shape (auth.ownership.plan_shape), never on argument values or the caller's ids:
those are parameters, read per request (`Plan.parameters`). Errors are the general path's to
give: an argument it would refuse raises `Fallback` before the statement runs, and a non-null
object the caller may not see comes back as `MISSING`, after which the operation runs again on
the general path, which answers it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    OperationDefinitionNode,
    get_argument_values,
    get_named_type,
)
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Numeric,
    Select,
    Table,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by
from sqlalchemy.sql.elements import BindParameter

from auth.ownership import ACTING_MEMBER
from infra.errors import DomainError
from infra.models import accounts, identities, members, purchases
from loyalty import ledger, purchase
from loyalty.program import Program
from loyalty.segment import Measures, instants
from loyalty.visibility import Visibility
from resolvers.compiled.collect import collect
from schema.pagination import check_page_size, decode_cursor, parse_id

# Stands for a non-null object the caller may not see (or that does not exist): a response
# holding it is answered by the general path instead, with its error.
MISSING = "pointgate:compiled:missing:6f1d"
# json_build_object takes at most 100 arguments: 50 keys.
MAX_KEYS = 50
LAST_ID = 2**63 - 1

# The instants loyalty.segment.Measures counts from, as parameters given per request.
CLOCK: dict[str, Any] = {
    name: bindparam(f"at_{name}", type_=DateTime(timezone=True))
    for name in ("new_since", "recent_since", "previous_since", "window_start")
}

# The object types read straight from a table: their plain fields are its columns.
TABLES: dict[str, Table] = {"Member": members, "Purchase": purchases, "Identity": identities}


class Unplannable(Exception):
    """The operation selects something only the general path answers."""


class Fallback(Exception):
    """This request's arguments need the general path (it gives their error)."""


@dataclass(frozen=True, slots=True)
class Binding:
    """Parameters read from one field's arguments, as the general path would read them."""

    field: GraphQLField
    node: FieldNode
    read: Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Plan:
    # None when the answer needs no database at all ({ __typename }): then `constant` is it.
    sql: str | None
    # Positional parameter names and the values fixed when the plan was compiled.
    order: tuple[str, ...]
    constants: dict[str, Any]
    bindings: tuple[Binding, ...]
    # The root fields' permission classes, checked per request as the general path does.
    permissions: tuple[tuple[Any, ...], ...]
    constant: str = ""
    # Whether the statement counts from the request's time (CLOCK).
    clock: bool = False

    def parameters(
        self, variables: Any, caller: dict[str, Any], program: Program
    ) -> tuple[Any, ...]:
        values = dict(caller)
        if self.clock:
            now = datetime.now(UTC)
            values.update({f"at_{name}": at for name, at in instants(program, now).items()})
        for binding in self.bindings:
            try:
                arguments = get_argument_values(binding.field, binding.node, variables)
                values.update(binding.read(arguments))
            except (DomainError, GraphQLError, ValueError, TypeError):
                raise Fallback from None
        return tuple(values.get(name, self.constants[name]) for name in self.order)


def _key(name: str) -> ColumnElement[Any]:
    # GraphQL names are [_A-Za-z][_0-9A-Za-z]*: safe as SQL string literals.
    return literal_column(f"'{name}'")


def json_object(pairs: Sequence[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
    if len(pairs) > MAX_KEYS:
        raise Unplannable(f"more than {MAX_KEYS} fields on one object")
    arguments = [part for key, value in pairs for part in (_key(key), value)]
    return func.json_build_object(*arguments, type_=JSON)


def _text(value: str) -> ColumnElement[Any]:
    """A string constant written into the statement (names and markers, never input)."""
    quoted = value.replace("'", "''")
    return literal_column(f"'{quoted}'", Text)


def _present(expression: ColumnElement[Any]) -> ColumnElement[Any]:
    """A non-null object, or the MISSING marker."""
    return func.coalesce(expression, cast(_text(f'"{MISSING}"'), JSON))


def iso_instant(column: Any) -> ColumnElement[Any]:
    """As Python's `datetime.isoformat()` writes a UTC instant (what Strawberry answers)."""
    utc = column.op("AT TIME ZONE")(literal_column("'UTC'"))
    fraction = case(
        (func.to_char(column, literal_column("'US'")) == literal_column("'000000'"),
         literal_column("''")),
        else_=func.to_char(utc, literal_column("'.US'")),
    )  # fmt: skip
    seconds = func.to_char(utc, literal_column("'YYYY-MM-DD\"T\"HH24:MI:SS'"))
    return seconds.concat(fraction).concat(literal_column("'+00:00'"))


def half_even(value: Any, places: int) -> ColumnElement[Any]:
    """`Decimal.quantize` (half to even) of a non-negative number, as text: PostgreSQL's
    round() takes halves away from zero."""
    scaled = value * 10**places
    floor = func.floor(scaled)
    tie = (scaled - floor == 0.5) & (func.mod(floor, 2) == 0)
    rounded = case((tie, floor / 10**places), else_=func.round(value, places))
    return cast(func.round(rounded, places), Text)


def cursor(kind: str, key: Any) -> ColumnElement[Any]:
    """schema.pagination.encode_cursor in SQL: urlsafe base64 of "kind:id"."""
    raw = func.convert_to(literal_column(f"'{kind}:'").concat(cast(key, Text)),
                          literal_column("'UTF8'"))  # fmt: skip
    encoded = func.encode(raw, literal_column("'base64'"))
    return func.translate(encoded, literal_column("'+/'"), literal_column("'-_'"))


PlanField = Callable[["Planner", GraphQLField, list[FieldNode]], ColumnElement[Any]]


class Planner:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Any,
        visible: Visibility,
        program: Program,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.visible = visible
        self.program = program
        self.exponent = program.currency_exponent
        self._measures: Measures | None = None
        self.bindings: list[Binding] = []
        self.permissions: list[tuple[Any, ...]] = []
        self.count = 0
        self.typenames_only: dict[str, str] = {}

    # --- the operation and its root fields -------------------------------------------------

    def statement(self, operation: OperationDefinitionNode) -> Select[Any]:
        if operation.operation.value != "query":
            raise Unplannable("only queries are compiled")
        root = self.schema.query_type
        assert root is not None
        fields = collect(self.schema, self.fragments, self.variables, root.name,
                         [operation.selection_set])  # fmt: skip
        pairs = [(key, self.root_field(root, nodes)) for key, nodes in fields.items()]
        if all(nodes[0].name.value == "__typename" for nodes in fields.values()):
            self.typenames_only = {key: root.name for key in fields}
        return select(cast(json_object(pairs), Text))

    def root_field(self, root: GraphQLObjectType, nodes: list[FieldNode]) -> ColumnElement[Any]:
        name = nodes[0].name.value
        if name == "__typename":
            return _text(root.name)
        field = root.fields.get(name)
        planner = ROOT_FIELDS.get(name)
        if field is None or planner is None:
            raise Unplannable(f"Query.{name}")
        self.permissions.append(tuple(field.extensions["strawberry-definition"].permission_classes))
        return planner(self, field, nodes)

    def member_by_id(self, field: GraphQLField, nodes: list[FieldNode]) -> ColumnElement[Any]:
        member_id = self.parameter()
        self.bind(field, nodes, lambda args: {member_id.key: parse_id(args["id"])})
        return _present(self.member_where(members.c.id == member_id, nodes))

    def me(self, field: GraphQLField, nodes: list[FieldNode]) -> ColumnElement[Any]:
        # The caller's own member id (auth.ownership.plan_parameters); `me` needs a member's
        # token (its permission), and one without a member id takes the general path.
        return _present(self.member_where(members.c.id == bindparam(ACTING_MEMBER), nodes))

    def purchase_by_id(self, field: GraphQLField, nodes: list[FieldNode]) -> ColumnElement[Any]:
        purchase_id = self.parameter()
        self.bind(field, nodes, lambda args: {purchase_id.key: parse_id(args["id"])})
        mine = (purchases.c.id == purchase_id) & self.visible.purchases
        found = select(self.object("Purchase", nodes)).where(mine).correlate_except(purchases)
        return _present(found.scalar_subquery())

    def members_page(self, field: GraphQLField, nodes: list[FieldNode]) -> ColumnElement[Any]:
        if any(argument.name.value == "filter" for argument in nodes[0].arguments or ()):
            raise Unplannable("members(filter:) takes the general path")
        return self.connection(field, nodes, members, self.visible.members, "member",
                               "Member", ascending=True)  # fmt: skip

    # --- objects -----------------------------------------------------------------------------

    def member_where(self, condition: Any, nodes: list[FieldNode]) -> ColumnElement[Any]:
        found = (
            select(self.object("Member", nodes))
            .where(condition, self.visible.members)
            .correlate_except(members)
        )
        return found.scalar_subquery()

    def object(self, type_name: str, nodes: list[FieldNode]) -> ColumnElement[Any]:
        object_type = self.schema.get_type(type_name)
        assert isinstance(object_type, GraphQLObjectType)
        pairs = []
        for key, field_nodes in self.subfields(type_name, nodes).items():
            name = field_nodes[0].name.value
            if name == "__typename":
                pairs.append((key, _text(type_name)))
                continue
            field = object_type.fields[name]
            relation = RELATIONS.get((type_name, name))
            if relation is not None:
                pairs.append((key, relation(self, field, field_nodes)))
            else:
                pairs.append((key, self.column(type_name, field)))
        return json_object(pairs)

    def subfields(self, type_name: str, nodes: list[FieldNode]) -> dict[str, list[FieldNode]]:
        selections = [node.selection_set for node in nodes if node.selection_set]
        return collect(self.schema, self.fragments, self.variables, type_name, selections)

    def column(self, type_name: str, field: GraphQLField) -> ColumnElement[Any]:
        """A plain (column-backed) field of a table's type, as Strawberry serialises it."""
        definition = field.extensions["strawberry-definition"]
        table = TABLES.get(type_name)
        if table is None or definition.base_resolver is not None:
            raise Unplannable(f"{type_name}.{definition.python_name}")
        renames = getattr(definition.origin, "__columns__", {})
        column = table.c[renames.get(definition.python_name, definition.python_name)]
        return self.scalar(column, get_named_type(field.type))

    def scalar(self, column: Any, named: Any) -> ColumnElement[Any]:
        if isinstance(named, GraphQLEnumType):
            definition = named.extensions["strawberry-definition"]
            if any(value.name != value.value for value in definition.values):
                raise Unplannable(f"enum {named.name} is not stored by name")
            return column  # type: ignore[no-any-return]
        if named.name == "ID":
            return cast(column, Text)
        if named.name in ("String", "Int", "BigInt", "Boolean"):
            return column  # type: ignore[no-any-return]
        if named.name == "DateTime":
            return iso_instant(column)
        if named.name == "Decimal":  # amounts at the program's currency exponent (priced)
            return cast(func.round(column, self.exponent), Text)
        raise Unplannable(f"scalar {named.name}")

    # --- computed fields that are SQL expressions ---------------------------------------------

    def measures(self) -> Measures:
        """Lifecycle and segment as loyalty.segment computes them, over the caller's scopes,
        at the request's time (parameters: `CLOCK`)."""
        if self._measures is None:
            self._measures = Measures(
                self.program, None, self.visible.aggregated_purchases,
                self.visible.aggregated_interactions, at=CLOCK,
            )  # fmt: skip
        return self._measures

    def lifecycle(self, field: GraphQLField, nodes: list[FieldNode]) -> ColumnElement[Any]:
        return self.scalar(self.measures().lifecycle, get_named_type(field.type))

    def segment(self, field: GraphQLField, nodes: list[FieldNode]) -> ColumnElement[Any]:
        measures = self.measures()
        months = self.program.growth_window_months
        figures = {
            "__typename": _text("Segment"),
            "spend": measures.spend_band,
            "frequency": measures.frequency_band,
            "interactions": measures.interaction_band,
            "spendAmount": half_even(measures.spend, self.exponent),
            "purchaseCount": measures.purchase_count,
            "interactionsPerMonth": half_even(
                cast(measures.interaction_count, Numeric) / months, 2
            ),
        }
        return self.computed("Segment", nodes, figures)

    def computed(
        self, type_name: str, nodes: list[FieldNode], figures: dict[str, Any]
    ) -> ColumnElement[Any]:
        """An object of a type whose every field is one of `figures` (SQL expressions)."""
        subfields = self.subfields(type_name, nodes)
        return json_object([(key, figures[found[0].name.value])
                            for key, found in subfields.items()])  # fmt: skip

    # --- relations of planned objects --------------------------------------------------------

    def identities(self, field: GraphQLField, nodes: list[FieldNode]) -> ColumnElement[Any]:
        listed = func.json_agg(aggregate_order_by(self.object("Identity", nodes),
                                                  identities.c.id))  # fmt: skip
        found = (
            select(func.coalesce(listed, cast(_text("[]"), JSON)))
            .where(identities.c.member_id == members.c.id, self.visible.identities)
            .correlate_except(identities)
        )
        return found.scalar_subquery()

    def balance(self, field: GraphQLField, nodes: list[FieldNode]) -> ColumnElement[Any]:
        figures = {"__typename": _text("Balance"), **ledger.balance_figures()}
        found = (
            select(self.computed("Balance", nodes, figures))
            .where(accounts.c.member_id == members.c.id)
            .correlate_except(accounts)
        )
        return _present(found.scalar_subquery())

    def purchases(self, field: GraphQLField, nodes: list[FieldNode]) -> ColumnElement[Any]:
        owned = (purchases.c.member_id == members.c.id) & self.visible.purchases
        return self.connection(field, nodes, purchases, owned, "purchase", "Purchase",
                               ascending=False)  # fmt: skip

    # --- connections -------------------------------------------------------------------------

    def connection(
        self,
        field: GraphQLField,
        nodes: list[FieldNode],
        table: Table,
        condition: Any,
        kind: str,
        node_type: str,
        *,
        ascending: bool,
    ) -> ColumnElement[Any]:
        """A page as schema.pagination.build_connection makes it: `first` rows after the
        cursor's id in id order, read with one more to tell whether another page follows."""
        first, after, limit = self.parameter(), self.parameter(), self.parameter()

        def read(args: dict[str, Any]) -> dict[str, Any]:
            size = check_page_size(args["first"])
            after_id = decode_cursor(kind, args.get("after"))
            if after_id is None:
                after_id = 0 if ascending else LAST_ID
            return {first.key: size, after.key: after_id, limit.key: size + 1}

        self.bind(field, nodes, read)
        connection_type = get_named_type(field.type)
        node_columns: list[Any] = []

        def node_column(node_nodes: list[FieldNode]) -> str:
            label = f"node{len(node_columns)}"
            node_columns.append(self.object(node_type, node_nodes).label(label))
            return label

        builders = self.page_builders(connection_type.name, nodes, kind, first, node_column,
                                      ascending)  # fmt: skip
        order = table.c.id.asc() if ascending else table.c.id.desc()
        after_condition = table.c.id > after if ascending else table.c.id < after
        page = (
            select(
                table.c.id.label("key"),
                func.row_number().over(order_by=order).label("n"),
                *node_columns,
            )
            .where(condition, after_condition)
            .order_by(order)
            .limit(limit)
            .correlate_except(table)
            .subquery()
        )
        return select(
            json_object([(key, build(page)) for key, build in builders])
        ).scalar_subquery()

    def page_builders(
        self,
        connection_type: str,
        nodes: list[FieldNode],
        kind: str,
        first: Any,
        node_column: Callable[[list[FieldNode]], str],
        ascending: bool,
    ) -> list[tuple[str, Callable[[Any], Any]]]:
        edge_type = connection_type.removesuffix("Connection") + "Edge"
        builders: list[tuple[str, Callable[[Any], Any]]] = []
        for key, field_nodes in self.subfields(connection_type, nodes).items():
            name = field_nodes[0].name.value
            if name == "__typename":
                builders.append((key, _constant(connection_type)))
            elif name == "edges":
                edge = self.edge_builders(edge_type, field_nodes, kind, node_column)
                builders.append((key, _listed(first, edge)))
            elif name == "nodes":
                builders.append((key, _listed(first, _column(node_column(field_nodes)))))
            elif name == "pageInfo":
                builders.append((key, self.page_info(field_nodes, kind, first, ascending)))
            else:
                raise Unplannable(f"{connection_type}.{name}")
        return builders

    def edge_builders(
        self,
        edge_type: str,
        nodes: list[FieldNode],
        kind: str,
        node_column: Callable[[list[FieldNode]], str],
    ) -> Callable[[Any], Any]:
        parts: list[tuple[str, Callable[[Any], Any]]] = []
        for key, field_nodes in self.subfields(edge_type, nodes).items():
            name = field_nodes[0].name.value
            if name == "__typename":
                parts.append((key, _constant(edge_type)))
            elif name == "cursor":
                parts.append((key, lambda page: cursor(kind, page.c.key)))
            else:  # node
                parts.append((key, _column(node_column(field_nodes))))
        return lambda page: json_object([(key, build(page)) for key, build in parts])

    def page_info(
        self, nodes: list[FieldNode], kind: str, first: Any, ascending: bool
    ) -> Callable[[Any], Any]:
        def build(page: Any) -> Any:
            on_page = page.c.n <= first
            last = (func.max if ascending else func.min)(page.c.key).filter(on_page)
            figures = {
                "__typename": _text("PageInfo"),
                "hasNextPage": func.count() > first,
                "endCursor": cursor(kind, last),
            }
            return self.computed("PageInfo", nodes, figures)

        return build

    # --- parameters --------------------------------------------------------------------------

    def parameter(self) -> BindParameter[Any]:
        self.count += 1
        return bindparam(f"a{self.count}", type_=BigInteger)

    def bind(
        self,
        field: GraphQLField,
        nodes: list[FieldNode],
        read: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        self.bindings.append(Binding(field, nodes[0], read))


def _related_member(column: Any) -> PlanField:
    """A member a row refers to: null where the reference is, MISSING where the caller may not
    see it (the general path answers NOT_FOUND there)."""

    def plan(planner: Planner, field: GraphQLField, nodes: list[FieldNode]) -> Any:
        found = _present(planner.member_where(members.c.id == column, nodes))
        return case((column.is_(None), null()), else_=found)

    return plan


def _column(label: str) -> Callable[[Any], Any]:
    return lambda page: page.c[label]


def _constant(value: str) -> Callable[[Any], Any]:
    return lambda page: _text(value)


def _listed(first: Any, item: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def build(page: Any) -> Any:
        listed = func.json_agg(aggregate_order_by(item(page), page.c.n)).filter(page.c.n <= first)
        return func.coalesce(listed, cast(_text("[]"), JSON))

    return build


ROOT_FIELDS: dict[str, PlanField] = {
    "member": Planner.member_by_id,
    "me": Planner.me,
    "members": Planner.members_page,
    "purchase": Planner.purchase_by_id,
}
RELATIONS: dict[tuple[str, str], PlanField] = {
    ("Member", "identities"): Planner.identities,
    ("Member", "balance"): Planner.balance,
    ("Member", "purchases"): Planner.purchases,
    ("Member", "referredBy"): _related_member(members.c.referred_by),
    ("Member", "mergedInto"): _related_member(members.c.merged_into),
    ("Member", "lifecycle"): Planner.lifecycle,
    ("Member", "segment"): Planner.segment,
    ("Purchase", "member"): _related_member(purchases.c.member_id),
    ("Purchase", "grossAmount"): lambda p, f, _: p.scalar(purchase.GROSS, get_named_type(f.type)),
}


def compile_plan(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: Any,
    visible: Visibility,
    program: Program,
    dialect: Any,
) -> Plan:
    planner = Planner(schema, fragments, variables, visible, program)
    statement = planner.statement(operation)
    if planner.typenames_only:
        return Plan(None, (), {}, (), (), constant=orjson.dumps(planner.typenames_only).decode())
    compiled = statement.compile(dialect=dialect)
    return Plan(
        sql=compiled.string,
        order=tuple(compiled.positiontup or ()),
        constants=dict(compiled.params),
        bindings=tuple(planner.bindings),
        permissions=tuple(planner.permissions),
        clock=planner._measures is not None,
    )
