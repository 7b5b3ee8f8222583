"""How members' and purchases' fields are read in SQL (`MEMBER_FIELDS`, part of the registry
of declared plans: resolvers.compiled.registry), and the helpers every plan is written with.

A plan is a column of the object's source (`column`), or an expression the domain provides
(loyalty.growth.value_expression, loyalty.tier.progress_expressions, loyalty.expiry,
loyalty.ledger, loyalty.referral, ...), the same expression its loaders read on the general
path. Objects read from their own alias of their table (resolvers.compiled.plan.Planner.alias),
with the caller's conditions adapted to it (`Planner.over`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from graphql import FieldNode, GraphQLField
from sqlalchemy import (
    ColumnElement,
    Numeric,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    null,
    select,
)

from auth.ownership import ACTING_MEMBER
from infra.models import (
    accounts,
    benefit_grants,
    coupons,
    data_consents,
    identities,
    members,
    partners,
    point_lots,
    purchases,
    tier_changes,
)
from infra.types import UtcDateTime
from loyalty import entries, expiry, growth, ledger, purchase, referral, tier
from loyalty.promotions import benefit
from resolvers.compiled.collect import unfiltered
from resolvers.compiled.plan import CLOCK, Fallback, PlanField, Planner, Source
from resolvers.compiled.sql import (
    half_even,
    json_array,
    json_list,
    json_typed,
    plain,
    present,
    sealed_or_plain,
    text,
)
from schema.pagination import parse_id
from schema.types import MAX_EXPIRY_LOOKAHEAD_DAYS


def column(name: str) -> PlanField:
    """The source's column (or named figure) `name`, as the field's scalar."""
    return lambda planner, field, nodes, source: planner.scalar(source.c[name], field)


def columns(type_name: str, names: dict[str, str]) -> dict[tuple[str, str], PlanField]:
    return {(type_name, graphql): column(name) for graphql, name in names.items()}


def members_where(
    planner: Planner, nodes: list[FieldNode], condition: Callable[[Any], Any], *, required: bool
) -> ColumnElement[Any]:
    """The member meeting `condition(alias)` that the caller may see: null, or MISSING where
    the general path answers NOT_FOUND (`required`)."""
    member = planner.alias(members)
    visible = planner.over(member, planner.visible.members)
    found = planner.one("Member", nodes, member, and_(condition(member), visible))
    return present(found) if required else found


def argument_id(planner: Planner, field: GraphQLField, nodes: list[FieldNode]) -> Any:
    key = planner.parameter()
    planner.bind(field, nodes, lambda args, now: {key.key: parse_id(args["id"])})
    return key


# --- Query -----------------------------------------------------------------------------------


def _member(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    key = argument_id(planner, field, nodes)
    return members_where(planner, nodes, lambda m: m.c.id == key, required=True)


def _me(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    # The caller's own member id (auth.ownership.plan_parameters); `me` needs a member's
    # token (its permission), and one without a member id takes the general path.
    return members_where(
        planner, nodes, lambda m: m.c.id == bindparam(ACTING_MEMBER), required=True
    )


def _member_page(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    unfiltered(nodes[0], planner.variables, "members")
    member = planner.alias(members)
    return planner.connection(field, nodes, member, planner.over(member, planner.visible.members),
                              "member", ascending=True)  # fmt: skip


def _purchase(planner: Planner, field: GraphQLField, nodes: list[FieldNode], _: Any) -> Any:
    key = argument_id(planner, field, nodes)
    bought = planner.alias(purchases)
    condition = and_(bought.c.id == key, planner.over(bought, planner.visible.readable_purchases))
    return present(planner.one("Purchase", nodes, bought, condition))


def partner_where(planner: Planner, nodes: list[FieldNode], condition: Callable[[Any], Any]) -> Any:
    partner = planner.alias(partners)
    visible = planner.over(partner, planner.visible.partners)
    return planner.one("Partner", nodes, partner, and_(condition(partner), visible))


def partner_of(name: str) -> PlanField:
    """The partner a row names: null where there is none or the caller may not see it."""

    def plan(planner: Planner, field: GraphQLField, nodes: list[FieldNode], source: Any) -> Any:
        return partner_where(planner, nodes, lambda p: p.c.id == source.c[name])

    return plan


def text_of(name: str) -> PlanField:
    """A column as its text (a Decimal that is not an amount: a rate, a stored total)."""
    return lambda planner, field, nodes, source: plain(cast(source.c[name], Text))


# --- Member ----------------------------------------------------------------------------------


def related_member(name: str) -> PlanField:
    """A member a row refers to: null where the reference is, MISSING where the caller may not
    see it (the general path answers NOT_FOUND there)."""

    def plan(planner: Planner, field: GraphQLField, nodes: list[FieldNode], source: Any) -> Any:
        reference = source.c[name]
        found = members_where(planner, nodes, lambda m: m.c.id == reference, required=True)
        return json_typed(case((reference.is_(None), null()), else_=found))

    return plan


def _birth_date(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    shown = planner.over(m, planner.visible.birth_dates)
    return case((shown, planner.scalar(m.c.birth_date, field)), else_=null())


def _benefits(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    """What each tier gives, written into the statement from the program's catalogue."""
    program = planner.program
    listed = []
    for level in tier.TIERS:
        objects = [
            planner.object("MemberBenefit", nodes, Source(
                code=text(b.code), name=text(b.name), kind=text(b.kind),
                value=text(benefit.value_of(b, program)),
            ))
            for b in benefit.benefits_of(program, level.value)
        ]  # fmt: skip
        listed.append((m.c.tier == level.value, json_array(objects)))
    return json_typed(case(*listed, else_=json_array([])))


def _grants(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    grant = planner.alias(benefit_grants)
    catalogue = planner.program.benefits
    source = Source(
        **{name: grant.c[name] for name in ("benefit", "period", "granted_at")},
        coupon_code=planner.over(grant, benefit.grant_coupon_code()),
        name=case(*((grant.c.benefit == b.code, text(b.name)) for b in catalogue), else_=null()),
        kind=case(*((grant.c.benefit == b.code, text(b.kind)) for b in catalogue), else_=null()),
    )  # fmt: skip
    condition = and_(grant.c.member_id == m.c.id,
                     planner.over(grant, planner.visible.benefit_grants))  # fmt: skip
    listed = json_list(planner.object("BenefitGrant", nodes, source), grant.c.id)
    return select(listed).where(condition).correlate_except(grant).scalar_subquery()


def _identities(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    held = planner.alias(identities)
    condition = and_(held.c.member_id == m.c.id, planner.over(held, planner.visible.identities))
    return planner.rows("Identity", nodes, held, condition, held.c.id)


def _identity_value(planner: Planner, field: GraphQLField, nodes: list[FieldNode], i: Any) -> Any:
    """An e-mail or phone is sealed (loyalty.sealing): opened after the statement."""
    return sealed_or_plain(i.c.value, i.c.sealed)


def _consents(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    held = planner.alias(data_consents)
    condition = and_(held.c.member_id == m.c.id,
                     planner.over(held, planner.visible.data_consents))  # fmt: skip
    return planner.rows("Consent", nodes, held, condition, held.c.id)


def _partner_accounts(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    held = planner.alias(identities)
    condition = and_(held.c.member_id == m.c.id, held.c.kind == "PARTNER_ACCOUNT",
                     held.c.partner_id.is_not(None),
                     planner.over(held, planner.visible.identities))  # fmt: skip
    return planner.rows("PartnerAccount", nodes, held, condition, held.c.id)


def _balance(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    account = planner.alias(accounts)
    figures = {name: planner.over(account, figure)
               for name, figure in ledger.balance_figures().items()}  # fmt: skip
    found = select(planner.object("Balance", nodes, Source(**figures)))
    found = found.where(account.c.member_id == m.c.id).correlate_except(account)
    return present(found.scalar_subquery())


def _purchases(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    bought = planner.alias(purchases)
    readable = planner.over(bought, planner.visible.readable_purchases)
    condition = and_(bought.c.member_id == m.c.id, readable)
    return planner.connection(field, nodes, bought, condition, "purchase", ascending=False)


def _ledger(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    account = entries.member_account_of(m.c.id)

    def listed(after: Any, count: Any) -> Any:  # the page's newest of each side, at most
        return entries.entries_for_accounts(account, planner.visible.transfers, (count, after))

    return planner.connection(field, nodes, listed, True, "entry", ascending=False)


def _growth_value(m: Any) -> ColumnElement[Any]:
    return growth.value_expression(m.c.id, CLOCK["window_start"], CLOCK["now"])


def _tier_progress(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    figures = tier.progress_expressions(planner.program, m.c.tier, _growth_value(m))
    return planner.object("TierProgress", nodes, Source(**figures))


def _coupons(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    held = planner.alias(coupons)
    condition = and_(held.c.member_id == m.c.id, planner.over(held, planner.visible.coupons))
    return planner.rows("Coupon", nodes, held, condition, held.c.id.desc())


def _tier_history(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    change = planner.alias(tier_changes)
    return planner.rows("TierChange", nodes, change, change.c.member_id == m.c.id,
                        change.c.id.desc())  # fmt: skip


def _measure(name: str, shape: Callable[[Planner, Any], Any] | None = None) -> PlanField:
    """A figure of loyalty.segment.Measures, for the member of `m`: as the field's scalar, or
    as `shape` writes it."""

    def plan(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
        value = planner.over(m, getattr(planner.measures(), name))
        return planner.scalar(value, field) if shape is None else shape(planner, value)

    return plan


def _per_month(planner: Planner, count: Any) -> Any:
    """Segment.interactionsPerMonth: the count over the window's months, to the hundredth."""
    return half_even(cast(count, Numeric) / planner.program.growth_window_months, 2)


def _segment(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    return planner.object("Segment", nodes, m)


def _expiring_points(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    cutoff = planner.parameter(UtcDateTime())
    program = planner.program

    def read(args: dict[str, Any], now: datetime) -> dict[str, Any]:
        if not 0 <= args["within"] <= MAX_EXPIRY_LOOKAHEAD_DAYS:
            raise Fallback  # the general path's VALIDATION error
        return {cutoff.key: expiry.expiring_cutoff(program, now, args["within"])}

    planner.bind(field, nodes, read)
    lots = expiry.expiring_lots(m.c.id, cutoff)
    total = select(func.coalesce(func.sum(point_lots.c.remaining), 0)).where(lots)
    return planner.object("ExpiringPoints", nodes,
                          Source(points=total.scalar_subquery(), lots=lots))  # fmt: skip


def _by_date(planner: Planner, field: GraphQLField, nodes: list[FieldNode], source: Any) -> Any:
    """The expiring lots' points per expiry date, soonest first."""
    day = expiry.lot_expires_on(planner.program)
    days = (
        select(day.label("expires_on"), func.sum(point_lots.c.remaining).label("points"))
        .where(source.c["lots"]).group_by(day).correlate_except(point_lots).subquery()
    )  # fmt: skip
    listed = json_list(planner.object("PointsExpiringOn", nodes, days), days.c.expires_on)
    return select(listed).scalar_subquery()


def _referrals(planner: Planner, field: GraphQLField, nodes: list[FieldNode], m: Any) -> Any:
    referee = planner.alias(members)
    condition = and_(referee.c.referred_by == m.c.id,
                     planner.over(referee, planner.visible.referees))  # fmt: skip
    return planner.connection(field, nodes, referee, condition, "member", ascending=False)


def _referee_member(planner: Planner, field: GraphQLField, nodes: list[FieldNode], r: Any) -> Any:
    return members_where(planner, nodes, lambda m: m.c.id == r.c.id, required=False)


def _qualified(planner: Planner, field: GraphQLField, nodes: list[FieldNode], r: Any) -> Any:
    return planner.over(r, referral.referee_qualified())


# --- Purchase --------------------------------------------------------------------------------


def _gross(planner: Planner, field: GraphQLField, nodes: list[FieldNode], p: Any) -> Any:
    return planner.scalar(planner.over(p, purchase.GROSS), field)


def _discounts(planner: Planner, field: GraphQLField, nodes: list[FieldNode], p: Any) -> Any:
    used = planner.alias(coupons)
    condition = and_(used.c.purchase_id == p.c.id, planner.over(used, planner.visible.coupons))
    return planner.rows("Coupon", nodes, used, condition, used.c.id)


# fmt: off
MEMBER_FIELDS: dict[tuple[str, str], PlanField] = {
    ("Query", "member"): _member,
    ("Query", "me"): _me,
    ("Query", "members"): _member_page,
    ("Query", "purchase"): _purchase,
    **columns("Member", {"id": "id", "displayName": "display_name", "tier": "tier",
                         "status": "status", "enrolledAt": "enrolled_at",
                         "referralCode": "referral_code", "referredAt": "referred_at",
                         "mergedAt": "merged_at"}),
    ("Member", "birthDate"): _birth_date,
    ("Member", "benefits"): _benefits,
    ("Member", "grants"): _grants,
    ("Member", "identities"): _identities,
    ("Member", "consents"): _consents,
    ("Member", "balance"): _balance,
    ("Member", "purchases"): _purchases,
    ("Member", "ledger"): _ledger,
    ("Member", "growthValue"): lambda planner, field, nodes, m: _growth_value(m),
    ("Member", "tierProgress"): _tier_progress,
    ("Member", "coupons"): _coupons,
    ("Member", "tierHistory"): _tier_history,
    ("Member", "lifecycle"): _measure("lifecycle"),
    ("Member", "segment"): _segment,
    ("Member", "expiringPoints"): _expiring_points,
    ("Member", "referredBy"): related_member("referred_by"),
    ("Member", "referrals"): _referrals,
    ("Member", "partnerAccounts"): _partner_accounts,
    ("Member", "mergedInto"): related_member("merged_into"),
    **columns("MemberBenefit", {"code": "code", "name": "name", "kind": "kind", "value": "value"}),
    **columns("BenefitGrant", {"benefit": "benefit", "period": "period",
                               "grantedAt": "granted_at", "couponCode": "coupon_code",
                               "name": "name", "kind": "kind"}),
    **columns("Identity", {"kind": "kind", "linkedAt": "linked_at"}),
    ("Identity", "value"): _identity_value,
    **columns("Consent", {"purpose": "purpose", "grantedAt": "granted_at",
                          "withdrawnAt": "withdrawn_at"}),
    ("Consent", "partner"): partner_of("partner_id"),
    ("PartnerAccount", "externalId"): column("value"),
    ("PartnerAccount", "partner"): partner_of("partner_id"),
    **columns("Balance", {"posted": "posted", "pending": "pending", "available": "available",
                          "incoming": "incoming"}),
    **columns("LedgerEntry", {"transferId": "id", "points": "points", "phase": "phase",
                              "reason": "reason", "reference": "reference",
                              "counterparty": "counterparty", "createdAt": "created_at"}),
    **columns("TierProgress", {"tier": "tier", "growthValue": "growth_value",
                               "nextTier": "next_tier",
                               "nextTierThreshold": "next_tier_threshold",
                               "growthValueNeeded": "growth_value_needed"}),
    **columns("Coupon", {"id": "id", "code": "code", "state": "state",
                         "issuedAt": "issued_at", "validFrom": "valid_from",
                         "validUntil": "valid_until", "discount": "discount",
                         "redeemedAt": "redeemed_at", "purchaseId": "purchase_id"}),
    **columns("TierChange", {"fromTier": "from_tier", "toTier": "to_tier", "reason": "reason",
                             "growthValue": "growth_value", "changedAt": "changed_at"}),
    ("Segment", "spend"): _measure("spend_band"),
    ("Segment", "frequency"): _measure("frequency_band"),
    ("Segment", "interactions"): _measure("interaction_band"),
    ("Segment", "spendAmount"): _measure("spend", lambda p, spend: half_even(spend, p.exponent)),
    ("Segment", "purchaseCount"): _measure("purchase_count"),
    ("Segment", "interactionsPerMonth"): _measure("interaction_count", _per_month),
    ("ExpiringPoints", "points"): column("points"),
    ("ExpiringPoints", "byDate"): _by_date,
    **columns("PointsExpiringOn", {"expiresOn": "expires_on", "points": "points"}),
    **columns("Referral", {"displayName": "display_name", "referredAt": "referred_at",
                           "status": "status"}),
    ("Referral", "qualified"): _qualified,
    ("Referral", "member"): _referee_member,
    **columns("Purchase", {"id": "id", "channel": "channel", "source": "source",
                           "externalOrderId": "external_order_id", "amount": "amount",
                           "currency": "currency", "pointsEarned": "points_earned",
                           "refundedAmount": "refunded_amount",
                           "pointsReversed": "points_reversed", "purchasedAt": "purchased_at",
                           "recordedAt": "recorded_at", "bonusPoints": "bonus_points",
                           "tier": "tier", "growthValue": "growth_value",
                           "referralPoints": "referral_points",
                           "campaignPoints": "campaign_points"}),
    ("Purchase", "member"): related_member("member_id"),
    ("Purchase", "partner"): partner_of("partner_id"),
    ("Purchase", "grossAmount"): _gross,
    ("Purchase", "discounts"): _discounts,
    **columns("PageInfo", {"hasNextPage": "has_next_page", "endCursor": "end_cursor"}),
}
# fmt: on
