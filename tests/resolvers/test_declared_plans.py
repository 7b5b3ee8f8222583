"""Every read field is declared: it has a plan in resolvers.compiled.fields.FIELDS or is listed
in UNPLANNABLE with its reason, never both, and the README lists what is unplannable; a field
without a declared plan is never read by a guess (issue 26: the planner once read a field
without a resolver as the column of the same name, and answered Purchase.grossAmount null)."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLObjectType, parse

from gateway.app import build_schema
from loyalty.program import Program
from loyalty.visibility import EVERYTHING
from resolvers.compiled import registry as fields
from resolvers.compiled.plan import compile_plan
from resolvers.compiled.sql import Unplannable

# Connections and edges are read by the planner's page builder (Planner.connection).
STRUCTURAL = ("Connection", "Edge")


def object_fields() -> set[tuple[str, str]]:
    schema = build_schema()._schema
    found = set()
    for name, named in schema.type_map.items():
        if (isinstance(named, GraphQLObjectType) and not name.startswith("__")
                and name != "Mutation" and not name.endswith(STRUCTURAL)):  # fmt: skip
            found.update((name, field) for field in named.fields)
    return found


def unplannable() -> set[tuple[str, str]]:
    listed = set()
    for key in fields.UNPLANNABLE:
        if isinstance(key, tuple):
            listed.add(key)
    types = {key for key in fields.UNPLANNABLE if isinstance(key, str)}
    listed.update(pair for pair in object_fields() if pair[0] in types)
    return listed


def test_every_field_of_every_type_is_declared_once():
    every = object_fields()
    planned, unplanned = set(fields.FIELDS), unplannable()

    assert every - planned - unplanned == set(), "fields without a declaration"
    assert planned & unplanned == set(), "fields both planned and unplannable"
    assert planned - every == set(), "plans of fields the schema does not have"
    assert {key for key in fields.UNPLANNABLE if isinstance(key, tuple)} <= every


def test_the_readme_lists_what_is_unplannable():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for key in fields.UNPLANNABLE:
        name = key if isinstance(key, str) else ".".join(key)
        assert f"`{name}`" in readme, name


def test_a_field_without_a_declared_plan_makes_the_operation_unplannable():
    schema = build_schema()._schema
    operation = parse('{ purchase(id: "1") { amount grossAmount } }').definitions[0]
    declared = dict(fields.FIELDS)
    del declared[("Purchase", "grossAmount")]
    try:
        compile_plan(schema, operation, {}, {}, EVERYTHING, Program(), None, declared)
    except Unplannable as refused:
        assert "Purchase.grossAmount" in str(refused)
    else:
        raise AssertionError("planned a field without a declared plan")
