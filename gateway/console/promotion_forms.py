"""The operator's forms for the program's main lever: a new campaign (scheduled by its start,
with a preview of the members it would reach now, by tier and lifecycle) and a new coupon
template. Each calls the command the graph's `createCampaign` and `createCouponTemplate` call,
with the same validation; a refusal shows the form again with the reason and what was typed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.datastructures import ImmutableMultiDict
from starlette.responses import Response

from auth.access import Need
from gateway.console.visit import Page, Visit, acceptable_text
from loyalty.errors import DomainError
from loyalty.promotions import campaign, coupon
from loyalty.promotions.audience import audience
from loyalty.promotions.campaign import BANDS, LIFECYCLES, TIERS, CampaignTerms
from loyalty.promotions.template import CouponKind, TemplateTerms

CREATE_CAMPAIGN, CREATE_TEMPLATE = "console.create_campaign", "console.create_coupon_template"
FORM_HINT = "numbers where numbers go, dates as YYYY-MM-DDTHH:MM (UTC)"
CHOICES = {"tiers": TIERS, "lifecycles": LIFECYCLES, "spend_bands": BANDS,
           "frequency_bands": BANDS, "channels": coupon.CHANNELS}  # fmt: skip


def utc(text: str) -> datetime:
    """A datetime-local value, in UTC (the forms say so)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Fields:
    """A form's (or a preview address's) values, read as the commands take them."""

    def __init__(self, values: ImmutableMultiDict[str, Any]) -> None:
        self.values = values

    def text(self, name: str) -> str:
        value = self.values.get(name, "")
        return value.strip() if isinstance(value, str) and acceptable_text(value) else ""

    def optional(self, name: str, read: Callable[[str], Any]) -> Any:
        return read(self.text(name)) if self.text(name) else None

    def instant(self, name: str) -> datetime:
        return utc(self.text(name))

    def chosen(self, name: str) -> tuple[str, ...] | None:
        """The boxes ticked among the allowed ones; none ticked: no condition."""
        picked = tuple(v for v in self.values.getlist(name) if v in CHOICES[name])
        return picked or None


def campaign_terms(fields: Fields) -> CampaignTerms:
    return CampaignTerms(
        code=fields.text("code"), name=fields.text("name"),
        starts_at=fields.instant("starts_at"), ends_at=fields.instant("ends_at"),
        priority=fields.optional("priority", int) or 0, exclusive=bool(fields.text("exclusive")),
        monthly_day=fields.optional("monthly_day", int), tiers=fields.chosen("tiers"),
        lifecycles=fields.chosen("lifecycles"), spend_bands=fields.chosen("spend_bands"),
        frequency_bands=fields.chosen("frequency_bands"),
        multiplier=fields.optional("multiplier", Decimal) or Decimal(1),
        bonus_points=fields.optional("bonus_points", int) or 0,
        coupon_template_id=fields.optional("coupon_template_id", int),
        points_budget=fields.optional("points_budget", int),
    )  # fmt: skip


def template_terms(fields: Fields) -> TemplateTerms:
    return TemplateTerms(
        code=fields.text("code"), name=fields.text("name"), kind=CouponKind(fields.text("kind")),
        amount_off=fields.optional("amount_off", Decimal),
        percent_off=fields.optional("percent_off", Decimal),
        max_discount=fields.optional("max_discount", Decimal),
        threshold=fields.optional("threshold", Decimal) or Decimal(0),
        reward_id=fields.optional("reward_id", int),
        valid_hours=fields.optional("valid_hours", int), channels=fields.chosen("channels"),
        per_member_limit=fields.optional("per_member_limit", int),
        total_limit=fields.optional("total_limit", int),
        budget=fields.optional("budget", Decimal),
    )  # fmt: skip


async def campaign_form(visit: Visit, status: int = 200, error: str | None = None,
                        typed: Fields | None = None, reach: list[Any] | None = None,
                        ) -> Response:  # fmt: skip
    """The new-campaign form (as typed, after a refusal or a preview; with the preview's
    audience)."""
    templates = await coupon.list_templates(visit.db, visit.visible)
    return visit.page("campaign_form.html", status, title="New campaign", error=error,
                      typed=typed or Fields(ImmutableMultiDict()), choices=CHOICES, reach=reach,
                      total=sum(r.members for r in reach or []),
                      templates=[t for t in templates if t.status == "ACTIVE"])  # fmt: skip


async def campaign_preview(visit: Visit) -> Response:
    """Who the typed terms would reach now (a POST, for the form's CSRF token; it changes
    nothing, so it has no audit row)."""
    fields = Fields(await visit.request.form())
    try:
        terms = campaign_terms(fields)
        terms.check()
    except DomainError as refused:
        return await campaign_form(visit, 422, refused.message, fields)
    except (ValueError, ArithmeticError):
        return await campaign_form(visit, 422, FORM_HINT, fields)
    reach = await audience(visit.db, visit.program, terms, visit.now)
    return await campaign_form(visit, 200, None, fields, reach)


async def campaign_create(visit: Visit) -> Response:
    fields = Fields(await visit.request.form())
    try:
        await campaign.create_campaign(visit.db, campaign_terms(fields), visible=visit.visible)
    except DomainError as refused:
        return await campaign_form(visit, 422, refused.message, fields)
    except (ValueError, ArithmeticError):
        return await campaign_form(visit, 422, FORM_HINT, fields)
    return visit.redirect("/console/promotions")


async def template_form(visit: Visit, status: int = 200, error: str | None = None,
                        typed: Fields | None = None) -> Response:  # fmt: skip
    return visit.page("template_form.html", status, title="New coupon template", error=error,
                      typed=typed or Fields(ImmutableMultiDict()), choices=CHOICES,
                      kinds=[kind.value for kind in CouponKind])  # fmt: skip


async def template_create(visit: Visit) -> Response:
    fields = Fields(await visit.request.form())
    try:
        await coupon.create_template(visit.db, visit.program, template_terms(fields))
    except DomainError as refused:
        return await template_form(visit, 422, refused.message, fields)
    except (ValueError, ArithmeticError):
        return await template_form(visit, 422, FORM_HINT, fields)
    return visit.redirect("/console/promotions")


ROUTES: list[Page] = [
    Page("/promotions/campaigns/new", campaign_form, ["GET"], Need.OPERATOR),
    Page("/promotions/campaigns/preview", campaign_preview, ["POST"], Need.OPERATOR),
    Page("/promotions/campaigns", campaign_create, ["POST"], Need.OPERATOR, CREATE_CAMPAIGN),
    Page("/promotions/templates/new", template_form, ["GET"], Need.OPERATOR),
    Page("/promotions/templates", template_create, ["POST"], Need.OPERATOR, CREATE_TEMPLATE),
]
