"""How the program's catalogues are read in SQL: the partner list with each partner's dated
exchange terms and rate cards, the reward catalogue, coupon templates and campaigns; a member
found by an identity; operators' audit trail. Part of the registry of declared plans
(resolvers.compiled.registry); each reads the rows, order and visibility condition its loader
or list reads on the general path."""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, GraphQLField
from sqlalchemy import String, Text, and_, case, cast, func, null, or_
from strawberry.utils.str_converters import to_camel_case

from infra.models import (
    audit_log,
    campaigns,
    coupon_templates,
    exchange_terms,
    partners,
    rate_cards,
    rewards,
)
from loyalty import sealing
from loyalty.member import IdentityKind, identity_holder, normalize_identity
from loyalty.promotions import offers
from resolvers.compiled.collect import unfiltered
from resolvers.compiled.fields import (
    argument_id,
    columns,
    members_where,
    partner_of,
    related_member,
    text_of,
)
from resolvers.compiled.plan import CLOCK, PlanField, Planner, Source
from resolvers.compiled.sql import json_typed, plain, present
from schema.partner import RATE_CARD_TERMS


def _member_by_identity(
    planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any
) -> Any:
    """loyalty.member.find_by_identity: a value it would refuse takes the general path."""
    # As stored: one parameter per data key (loyalty.sealing.lookups; fixed per process).
    kind = planner.parameter(String())
    stored = [planner.parameter(String()) for _ in range(sealing.key_count())]

    def read(args: dict[str, Any], now: Any) -> dict[str, Any]:
        given = IdentityKind(args["kind"])
        found = sealing.lookups(given, normalize_identity(given, args["value"]))
        values = {p.key: found[min(n, len(found) - 1)] for n, p in enumerate(stored)}
        return {kind.key: given.value, **values}

    planner.bind(field, nodes, read)
    held = identity_holder(kind, stored, planner.visible).correlate(None).scalar_subquery()
    return members_where(planner, nodes, lambda m: m.c.id == held, required=True)


def visible_rows(type_name: str, table: Any, scope: str, *order: str) -> PlanField:
    """Every row of `table` the caller's `scope` condition admits, in `order` (columns): a
    root list as its domain function reads it."""

    def plan(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
        row = planner.alias(table)
        visible = planner.over(row, getattr(planner.visible, scope))
        return planner.rows(type_name, nodes, row, visible, *(row.c[name] for name in order))

    return plan


def _terms(planner: Planner, field: GraphQLField, nodes: list[FieldNode], p: Any) -> Any:
    terms = planner.alias(exchange_terms)  # partners.registry.terms_of
    return planner.rows("ExchangeTerms", nodes, terms, terms.c.partner_id == p.c.id,
                        terms.c.valid_from, terms.c.id)  # fmt: skip


def _rate_cards(planner: Planner, field: GraphQLField, nodes: list[FieldNode], p: Any) -> Any:
    card = planner.alias(rate_cards)  # partners.rate_card.rate_cards_of
    visible = and_(card.c.partner_id == p.c.id, planner.over(card, planner.visible.rate_cards))
    return planner.rows("RateCard", nodes, card, visible, card.c.valid_from, card.c.id)


def trimmed(name: str) -> PlanField:
    """A rate as written (3, 0.008), as partners.settlement.plain gives it: trim_scale."""

    def plan(planner: Planner, field: GraphQLField, nodes: list[FieldNode], source: Any) -> Any:
        value = source.c[name]
        return plain(cast(func.trim_scale(value), Text), value)

    return plan


def reward_where(planner: Planner, nodes: list[FieldNode], key: Any) -> Any:
    """The reward `key` names, null where there is none or the caller may not see it."""
    given = planner.alias(rewards)
    condition = and_(given.c.id == key, planner.over(given, planner.visible.rewards))
    return planner.one("Reward", nodes, given, condition)


def _reward(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    return present(reward_where(planner, nodes, argument_id(planner, field, nodes)))


def _redeemed(planner: Planner, field: GraphQLField, nodes: list[FieldNode], taken: Any) -> Any:
    return reward_where(planner, nodes, taken.c.reward_id)


def _reward_page(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    unfiltered(nodes[0], planner.variables, "rewards")
    given = planner.alias(rewards)  # loyalty.reward.list_rewards
    return planner.connection(field, nodes, given, planner.over(given, planner.visible.rewards),
                              "reward", ascending=True)  # fmt: skip


def _template(planner: Planner, field: GraphQLField, nodes: list[FieldNode], held: Any) -> Any:
    """A coupon's template, null where the caller may not read it (templates_by_id)."""
    template = planner.alias(coupon_templates)
    readable = planner.over(template, planner.visible.readable_templates)
    condition = and_(template.c.id == held.c["template_id"], readable)
    return planner.one("CouponTemplate", nodes, template, condition)


def _offered(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    """The campaigns offered to the member's tier (loyalty.promotions.offers.offered)."""
    ran = planner.alias(campaigns)
    rule = offers.offered(m.c.tier, CLOCK["now"], planner.visible.offered_campaigns)
    return planner.rows("Campaign", nodes, ran, planner.over(ran, rule), ran.c.starts_at,
                        ran.c.id)  # fmt: skip


def _campaign_template(
    planner: Planner, field: GraphQLField, nodes: list[FieldNode], ran: Any
) -> Any:
    """The template it grants, null where the caller may not read it (templates_by_id)."""
    return _template(planner, field, nodes, Source(template_id=ran.c.coupon_template_id))


def listed(name: str, empty_is_null: bool = False) -> PlanField:
    """A comma-separated column as a list (null: everyone); with `empty_is_null`, '' too."""

    def plan(planner: Planner, field: GraphQLField, nodes: list[FieldNode], source: Any) -> Any:
        value = source.c[name]
        written = cast(func.to_json(func.string_to_array(value, ",")), Text)
        empty = func.coalesce(value, "") == "" if empty_is_null else value.is_(None)
        return json_typed(case((empty, null()), else_=written))

    return plan


def _audit_log(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    """auth.audit.entries: newest first, filtered by action and subject when given."""
    entry = planner.alias(audit_log)
    action, subject = planner.parameter(String()), planner.parameter(String())
    planner.bind(field, nodes, lambda args, now: {action.key: args.get("action"),
                                                  subject.key: args.get("subject")})  # fmt: skip
    condition = and_(or_(action.is_(None), entry.c.action == action),
                     or_(subject.is_(None), entry.c.subject == subject))  # fmt: skip
    return planner.connection(field, nodes, entry, condition, "audit", ascending=False)


# fmt: off
CATALOGUE_FIELDS: dict[tuple[str, str], PlanField] = {
    ("Query", "memberByIdentity"): _member_by_identity,
    # partners.registry.list_partners
    ("Query", "partners"): visible_rows("Partner", partners, "partners", "code"),
    ("Query", "auditLog"): _audit_log,
    **columns("AuditEntry", {"id": "id", "at": "at", "principalKind": "principal_kind",
                             "subject": "subject", "clientId": "client_id",
                             "partnerId": "partner_id", "action": "action", "target": "target",
                             "outcome": "outcome", "traceId": "trace_id"}),
    ("Partner", "exchangeTerms"): _terms,
    ("Partner", "rateCards"): _rate_cards,
    **columns("ExchangeTerms", {"id": "id", "direction": "direction", "minPoints": "min_points",
                                "maxPoints": "max_points", "stepPoints": "step_points",
                                "dailyCapPoints": "daily_cap_points", "feePoints": "fee_points",
                                "validFrom": "valid_from", "validTo": "valid_to"}),
    ("ExchangeTerms", "rate"): text_of("rate"),
    **columns("RateCard", {"id": "id", "validFrom": "valid_from", "validTo": "valid_to"}),
    **{("RateCard", to_camel_case(name)): trimmed(name) for name in RATE_CARD_TERMS},
    ("Query", "reward"): _reward,
    ("Query", "rewards"): _reward_page,
    **columns("Reward", {"id": "id", "code": "code", "name": "name",
                         "description": "description", "pointCost": "point_cost",
                         "stock": "stock", "status": "status", "createdAt": "created_at",
                         "updatedAt": "updated_at"}),
    ("Reward", "partner"): partner_of("partner_id"),
    **columns("Redemption", {"id": "id", "points": "points", "channel": "channel",
                             "reference": "reference", "status": "status",
                             "quantity": "quantity", "createdAt": "created_at",
                             "cancelledAt": "cancelled_at"}),
    ("Redemption", "member"): related_member("member_id"),
    ("Redemption", "partner"): partner_of("partner_id"),
    ("Redemption", "reward"): _redeemed,
    # loyalty.promotions.template.list_templates
    ("Query", "couponTemplates"): visible_rows("CouponTemplate", coupon_templates,
                                               "coupon_templates", "id"),
    ("Coupon", "template"): _template,
    **columns("CouponTemplate", {"id": "id", "code": "code", "name": "name", "kind": "kind",
                                 "validFrom": "valid_from", "validUntil": "valid_until",
                                 "validHours": "valid_hours",
                                 "perMemberLimit": "per_member_limit",
                                 "totalLimit": "total_limit", "issuedCount": "issued_count",
                                 "redeemedCount": "redeemed_count", "status": "status",
                                 "rewardId": "reward_id"}),
    # amounts at the program's currency exponent (CouponTemplate.priced), as Decimal scalars
    **columns("CouponTemplate", {"amountOff": "amount_off", "maxDiscount": "max_discount",
                                 "threshold": "threshold", "budget": "budget",
                                 "discountTotal": "discount_total"}),
    ("CouponTemplate", "percentOff"): trimmed("percent_off"),
    ("CouponTemplate", "channels"): listed("channels", empty_is_null=True),
    ("CouponTemplate", "partner"): partner_of("partner_id"),
    ("CouponTemplate", "fundedBy"): partner_of("funded_by_partner_id"),
    # loyalty.promotions.offers.list_campaigns
    ("Query", "campaigns"): visible_rows("Campaign", campaigns, "campaigns", "id"),
    ("Member", "campaigns"): _offered,
    **columns("Campaign", {"id": "id", "code": "code", "name": "name", "priority": "priority",
                           "exclusive": "exclusive", "startsAt": "starts_at",
                           "endsAt": "ends_at", "monthlyDay": "monthly_day",
                           "bonusPoints": "bonus_points", "pointsBudget": "points_budget",
                           "couponsSkipped": "coupons_skipped",
                           "pointsAwarded": "points_awarded", "status": "status"}),
    **{("Campaign", to_camel_case(name)): listed(name) for name in (
        "tiers", "channels", "partner_ids", "lifecycles", "spend_bands", "frequency_bands")},
    ("Campaign", "multiplier"): trimmed("multiplier"),
    ("Campaign", "couponTemplate"): _campaign_template,
    ("Campaign", "fundedBy"): partner_of("funded_by_partner_id"),
}
# fmt: on
