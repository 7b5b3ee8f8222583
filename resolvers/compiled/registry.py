"""The one registry of declared read plans (`FIELDS`: resolvers.compiled.fields for members
and purchases, resolvers.compiled.partner_fields for partners, resolvers.compiled.catalogue_fields
for the partner list, terms, rate cards, rewards and coupon templates), and the fields that
have none, with the reason (`UNPLANNABLE`). tests/resolvers/test_declared_plans.py checks that
every field of every object type of the schema is in exactly one of the two, so a new field is
never read by a guess."""

from __future__ import annotations

from resolvers.compiled.catalogue_fields import CATALOGUE_FIELDS
from resolvers.compiled.entities import ENTITY_FIELDS
from resolvers.compiled.fields import MEMBER_FIELDS
from resolvers.compiled.partner_fields import PARTNER_FIELDS
from resolvers.compiled.plan import PlanField

FIELDS: dict[tuple[str, str], PlanField] = {
    **MEMBER_FIELDS,
    **PARTNER_FIELDS,
    **CATALOGUE_FIELDS,
    **ENTITY_FIELDS,
}

# The fields without a plan, and why: an operation selecting one takes the general path (the
# README lists them). A type named alone stands for all its fields.
UNPLANNABLE: dict[str | tuple[str, str], str] = {
    ("Query", "_service"): "the SDL, from the schema in memory",
    ("Query", "program"): "the program's rules, from the configuration in memory",
    ("Query", "settlementStatement"): "an open period's statement is computed on read",
    ("Query", "programMetrics"): "the KPIs: several aggregates over the whole program",
    ("PartnerAccount", "balance"): "asks the partner's own system (a connector call)",
    "BenefitRule": "the program's catalogue (Query.program)",
    "CampaignCost": "program metrics",
    "CouponRedemption": "program metrics",
    "Interaction": "a mutation's payload (recordInteraction)",
    "MetricRate": "program metrics",
    "ProgramMetrics": "program metrics",
    "ProgramRules": "the program's rules (Query.program)",
    "Quote": "a mutation's payload (quoteExchange)",
    "Refund": "a mutation's payload (refundPurchase)",
    "SettlementStatement": "an open period's statement is computed on read",
    "StatementLine": "an open period's statement is computed on read",
    "TierShare": "program metrics",
    "WebhookSubscription": "a mutation's payload (subscribeWebhook)",
    "_Service": "the SDL (Query._service)",
    # Live updates are sent from the row their commit wrote, not read (docs/live.md).
    **dict.fromkeys(
        (
            "Subscription",
            "PointsMoved",
            "ExchangeChanged",
            "StatementClosed",
            "CouponIssued",
            "TierChanged",
            "BenefitGranted",
        ),
        "a live update, sent from the row its commit wrote (docs/live.md)",
    ),
}
