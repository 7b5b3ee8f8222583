"""Root fields for promotions: coupon templates and issuing coupons, campaigns (operators)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

import strawberry

from auth import ownership
from loyalty.promotions import campaign, changes, coupon, metric, offers
from loyalty.promotions.campaign import CampaignTerms
from loyalty.promotions.coupon import CouponKind, TemplateTerms
from resolvers import access
from resolvers.convert import optional_id, terms
from schema.info import Info
from schema.inputs import (
    CreateCampaignInput,
    CreateCouponTemplateInput,
    IssueCouponInput,
    UpdateCampaignInput,
    UpdateCouponTemplateInput,
)
from schema.pagination import parse_id
from schema.permissions import ADMIN, RUN_PROMOTIONS
from schema.promotions import Campaign, Coupon, CouponTemplate, ProgramMetrics


def listed(values: list[Any] | None) -> tuple[str, ...] | None:
    """An input's list of enums as the domain's tuple of their values (None: not given)."""
    return None if values is None else tuple(value.value for value in values)


@strawberry.type
class PromotionQueries:
    @strawberry.field(
        description="Coupon templates, oldest first (a partner's client: those it funds).",
        permission_classes=[RUN_PROMOTIONS],
    )
    async def coupon_templates(self, info: Info) -> list[CouponTemplate]:
        exponent = info.context.program.currency_exponent
        rows = await coupon.list_templates(info.context.db, info.context.visible)
        return [CouponTemplate.priced(row, exponent) for row in rows]

    @strawberry.field(
        description="The program's KPIs over [from, to), each next to its target.",
        permission_classes=[ADMIN],
    )
    async def program_metrics(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> ProgramMetrics:
        found = await metric.program_metrics(
            info.context.db, info.context.program, start=from_, end=to
        )
        return ProgramMetrics.of(found)

    @strawberry.field(
        description="Campaigns, oldest first (a partner's client: those it funds).",
        permission_classes=[RUN_PROMOTIONS],
    )
    async def campaigns(self, info: Info) -> list[Campaign]:
        rows = await offers.list_campaigns(info.context.db, info.context.visible)
        return [Campaign.of(row) for row in rows]


@strawberry.type
class PromotionMutations:
    @strawberry.mutation(
        description="A partner's client creates templates its partner funds, valid at it or "
        "anywhere.",
        permission_classes=[RUN_PROMOTIONS],
    )
    async def create_coupon_template(
        self, info: Info, input: CreateCouponTemplateInput
    ) -> CouponTemplate:
        valid_at = optional_id(input.partner_id)
        asked = replace(
            terms(TemplateTerms, input),
            kind=CouponKind(input.kind),
            reward_id=optional_id(input.reward_id),
            channels=listed(input.channels),
            partner_id=valid_at,
            funded_by_partner_id=ownership.funding_partner(
                info.context.principal, optional_id(input.funded_by_partner_id), valid_at
            ),
        )
        row = await coupon.create_template(info.context.db, info.context.program, asked)
        return CouponTemplate.priced(row, info.context.program.currency_exponent)

    @strawberry.mutation(
        description="Issue a coupon of a template to a member, once per idempotency key (a "
        "partner's client: of templates it funds, to members linked to it).",
        permission_classes=[RUN_PROMOTIONS],
    )
    async def issue_coupon(self, info: Info, input: IssueCouponInput) -> Coupon:
        row = await coupon.issue(
            info.context.db,
            template_id=parse_id(input.template_id),
            member_id=parse_id(input.member_id),
            idempotency_key=access.scoped_key(info, input.idempotency_key),
            visible=info.context.visible,
        )
        return Coupon.priced(row, info.context.program.currency_exponent)

    @strawberry.mutation(
        description="Void an issued coupon (an operator, or the partner whose coupon it is).",
        permission_classes=[RUN_PROMOTIONS],
    )
    async def void_coupon(self, info: Info, id: strawberry.ID) -> Coupon:
        row = await coupon.void(info.context.db, parse_id(id), visible=info.context.visible)
        return Coupon.priced(row, info.context.program.currency_exponent)

    @strawberry.mutation(
        description="A partner's client creates campaigns its partner funds, at it.",
        permission_classes=[RUN_PROMOTIONS],
    )
    async def create_campaign(self, info: Info, input: CreateCampaignInput) -> Campaign:
        named = None if input.partner_ids is None else [parse_id(p) for p in input.partner_ids]
        funder, partners = ownership.campaign_funding(
            info.context.principal, optional_id(input.funded_by_partner_id), named
        )
        asked = replace(
            terms(CampaignTerms, input),
            tiers=listed(input.tiers),
            channels=listed(input.channels),
            partner_ids=partners,
            lifecycles=listed(input.lifecycles),
            spend_bands=listed(input.spend_bands),
            frequency_bands=listed(input.frequency_bands),
            coupon_template_id=optional_id(input.coupon_template_id),
            funded_by_partner_id=funder,
        )  # fmt: skip
        created = await campaign.create_campaign(
            info.context.db, asked, visible=info.context.visible
        )
        return Campaign.of(created)

    @strawberry.mutation(
        description="Edit, pause, resume or end a campaign (a partner's client: one it funds).",
        permission_classes=[RUN_PROMOTIONS],
    )
    async def update_campaign(self, info: Info, input: UpdateCampaignInput) -> Campaign:
        asked = terms(changes.CampaignChanges, input)
        updated = await changes.update_campaign(
            info.context.db, parse_id(input.campaign_id), asked, visible=info.context.visible
        )
        return Campaign.of(updated)

    @strawberry.mutation(description="End a campaign now.", permission_classes=[RUN_PROMOTIONS])
    async def end_campaign(self, info: Info, id: strawberry.ID) -> Campaign:
        ended = await changes.end_campaign(
            info.context.db, parse_id(id), visible=info.context.visible
        )
        return Campaign.of(ended)

    @strawberry.mutation(
        description="Edit, pause, resume or retire a coupon template (a partner's client: one "
        "it funds).",
        permission_classes=[RUN_PROMOTIONS],
    )
    async def update_coupon_template(
        self, info: Info, input: UpdateCouponTemplateInput
    ) -> CouponTemplate:
        context = info.context
        updated = await changes.update_template(
            context.db, context.program, parse_id(input.template_id),
            terms(changes.TemplateChanges, input), visible=context.visible,
        )  # fmt: skip
        return CouponTemplate.priced(updated, context.program.currency_exponent)
