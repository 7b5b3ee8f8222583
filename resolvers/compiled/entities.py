"""Federation's `_entities` (the router's main call) in SQL: the representations become two
arrays (types and ids) unnested in their order, and each is the entity its type names, read by
the same plans as anywhere else, with the caller's conditions. A representation this cannot
read (another type, another key, a malformed id) sends the operation to the general path, and
so does an entity the caller may not see (the general path answers its NOT_FOUND)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graphql import FieldNode, GraphQLField
from sqlalchemy import BigInteger, Text, and_, case, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from infra.models import members, partners, purchases, rewards
from resolvers.compiled.plan import Fallback, PlanField, Planner
from resolvers.compiled.sql import json_list, json_typed, present
from schema.pagination import parse_id

# The entity types read here, each with its table and the caller's condition on it.
ENTITIES = {
    "Member": (members, "members"),
    "Purchase": (purchases, "purchases"),
    "Partner": (partners, "partners"),
    "Reward": (rewards, "rewards"),
}


def _entities(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    types = planner.parameter(ARRAY(Text))
    keys = planner.parameter(ARRAY(BigInteger))

    def read(args: dict[str, Any], now: datetime) -> dict[str, Any]:
        names, ids = [], []
        for item in args["representations"]:
            if not isinstance(item, dict) or set(item) != {"__typename", "id"}:
                raise Fallback
            if item["__typename"] not in ENTITIES or not isinstance(item["id"], str | int):
                raise Fallback
            names.append(item["__typename"])
            ids.append(parse_id(str(item["id"])))
        return {types.key: names, keys.key: ids}

    planner.bind(field, nodes, read)
    wanted = func.unnest(types, keys).table_valued("type", "id", with_ordinality="ord")
    wanted = wanted.render_derived(name="wanted")
    choices = []
    for name, (table, scope) in ENTITIES.items():
        row = planner.alias(table)
        visible = planner.over(row, getattr(planner.visible, scope))
        condition = and_(row.c.id == wanted.c.id, visible, planner.visible.entities)
        found = planner.one(name, nodes, row, condition)
        choices.append((wanted.c.type == name, present(found)))
    entity = json_typed(case(*choices))
    return select(json_list(entity, wanted.c.ord)).scalar_subquery()


ENTITY_FIELDS: dict[tuple[str, str], PlanField] = {("Query", "_entities"): _entities}
