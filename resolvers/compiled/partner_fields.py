"""How partners' objects are read in SQL: a partner, its exchanges (offset pages, as the
general path pages them) with their history, its settlement statements. Part of the registry of
declared plans (resolvers.compiled.registry)."""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, GraphQLField
from sqlalchemy import String, and_

from infra.models import exchange_events, exchanges, statements
from resolvers.compiled.collect import unfiltered
from resolvers.compiled.fields import (
    argument_id,
    columns,
    partner_of,
    partner_where,
    related_member,
    text_of,
)
from resolvers.compiled.plan import PlanField, Planner
from resolvers.compiled.sql import Unplannable, present


def _partner(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    key = argument_id(planner, field, nodes)
    return present(partner_where(planner, nodes, lambda p: p.c.id == key))


def _exchange_page(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    unfiltered(nodes[0], planner.variables, "exchanges")
    made = planner.alias(exchanges)
    visible = planner.over(made, planner.visible.exchanges)
    order = (made.c.created_at.desc(), made.c.id)  # partners.exchange.list_exchanges
    return planner.connection(field, nodes, made, visible, "offset", ascending=True,
                              ordered_by=order)  # fmt: skip


def _exchange(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    key = planner.parameter(String())
    planner.bind(field, nodes, lambda args, now: {key.key: str(args["id"])})
    made = planner.alias(exchanges)
    condition = and_(made.c.id == key, planner.over(made, planner.visible.exchanges))
    return present(planner.one("Exchange", nodes, made, condition))


def _history(planner: Planner, field: GraphQLField, nodes: list[FieldNode], made: Any) -> Any:
    event = planner.alias(exchange_events)
    return planner.rows("ExchangeEvent", nodes, event, event.c.exchange_id == made.c.id,
                        event.c.id)  # fmt: skip


def _statements(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    if nodes[0].arguments:
        raise Unplannable("settlementStatements(partnerId:) takes the general path")
    stated = planner.alias(statements)
    visible = planner.over(stated, planner.visible.statements)
    return planner.rows("StatementSummary", nodes, stated, visible, stated.c.period.desc(),
                        stated.c.partner_id)  # fmt: skip


# fmt: off
PARTNER_FIELDS: dict[tuple[str, str], PlanField] = {
    ("Query", "partner"): _partner,
    ("Query", "exchange"): _exchange,
    ("Query", "exchanges"): _exchange_page,
    ("Query", "settlementStatements"): _statements,
    **columns("Partner", {"id": "id", "code": "code", "name": "name", "status": "status",
                          "settlementCurrency": "settlement_currency",
                          "connectorKind": "connector_kind", "timezone": "timezone"}),
    **columns("Exchange", {"id": "id", "direction": "direction", "state": "state",
                           "points": "points", "units": "units", "feePoints": "fee_points",
                           "externalAccount": "external_account",
                           "partnerReference": "partner_reference",
                           "createdAt": "created_at", "updatedAt": "updated_at"}),
    ("Exchange", "rate"): text_of("rate"),
    ("Exchange", "member"): related_member("member_id"),
    ("Exchange", "partner"): partner_of("partner_id"),
    ("Exchange", "history"): _history,
    **columns("ExchangeEvent", {"fromState": "from_state", "toState": "to_state",
                                "reason": "reason", "at": "at"}),
    **columns("StatementSummary", {"period": "period", "status": "status",
                                   "currency": "currency", "closedAt": "closed_at"}),
    ("StatementSummary", "payableByPartner"): text_of("payable_by_partner"),
    ("StatementSummary", "payableByProgram"): text_of("payable_by_program"),
    ("StatementSummary", "partner"): partner_of("partner_id"),
}
# fmt: on
