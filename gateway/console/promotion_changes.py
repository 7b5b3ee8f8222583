"""The operator's campaigns and coupon templates after creation: the list, each one's edit form,
and pausing, resuming and ending (a campaign) or retiring (a template). Each calls the command
the graph's `updateCampaign`, `endCampaign` and `updateCouponTemplate` call
(loyalty.promotions.changes), with the same validation; a refusal shows the form (or the list)
again with the reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import select
from starlette.datastructures import ImmutableMultiDict
from starlette.responses import Response

from auth.access import Need
from gateway.console.promotion_forms import FORM_HINT, Fields, utc
from gateway.console.visit import Page, Visit, not_found, number
from infra.models import campaigns, coupon_templates
from loyalty.errors import DomainError
from loyalty.promotions import changes, coupon, offers
from loyalty.promotions.campaign import CampaignStatus
from loyalty.promotions.template import TemplateStatus

PROMOTIONS = "/console/promotions"


class Field(NamedTuple):
    """An edit form's field: its name (the command's), label, input type, hint, inputmode."""

    name: str
    label: str
    kind: str = "text"
    hint: str = ""
    mode: str = ""


CAMPAIGN_FIELDS = (
    Field("name", "Name"),
    Field("starts_at", "Starts (UTC)", "datetime-local"),
    Field("ends_at", "Ends (UTC)", "datetime-local", "a time to come"),
    Field("multiplier", "Points multiplier", hint="1 to 10", mode="decimal"),
    Field("bonus_points", "Bonus points per purchase", mode="numeric"),
    Field("points_budget", "Points budget", hint="at least what was awarded", mode="numeric"),
    Field("priority", "Priority", hint="higher applies first", mode="numeric"),
    Field("exclusive", "Exclusive (no other campaign with it)", "checkbox"),
)
TEMPLATE_FIELDS = (
    Field("name", "Name"),
    Field("valid_until", "Issued until (UTC)", "datetime-local", "empty: as it is"),
    Field("per_member_limit", "Per member at most", hint="empty: as it is", mode="numeric"),
    Field("total_limit", "In all at most", hint="at least what was issued", mode="numeric"),
    Field("budget", "Discount budget", hint="at least what was given", mode="decimal"),
)


def _shown(value: Any) -> str:
    """A row's value as its form field holds it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, bool):
        return "on" if value else ""
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def _as_typed(row: Any, fields: tuple[Field, ...]) -> Fields:
    return Fields(ImmutableMultiDict({f.name: _shown(getattr(row, f.name)) for f in fields}))


def campaign_changes(fields: Fields) -> changes.CampaignChanges:
    return changes.CampaignChanges(
        name=fields.text("name") or None,
        starts_at=fields.optional("starts_at", utc),
        ends_at=fields.optional("ends_at", utc),
        priority=fields.optional("priority", int), exclusive=bool(fields.text("exclusive")),
        multiplier=fields.optional("multiplier", Decimal),
        bonus_points=fields.optional("bonus_points", int),
        points_budget=fields.optional("points_budget", int),
    )  # fmt: skip


def template_changes(fields: Fields) -> changes.TemplateChanges:
    return changes.TemplateChanges(
        name=fields.text("name") or None,
        valid_until=fields.optional("valid_until", utc),
        per_member_limit=fields.optional("per_member_limit", int),
        total_limit=fields.optional("total_limit", int),
        budget=fields.optional("budget", Decimal),
    )  # fmt: skip


async def promotions_page(visit: Visit, status: int = 200, error: str | None = None) -> Response:
    """The campaigns and coupon templates, with what each has spent against its budget."""
    return visit.page("promotions.html", status, title="Campaigns and coupons", error=error,
                      campaigns=await offers.list_campaigns(visit.db, visit.visible),
                      templates=await coupon.list_templates(visit.db, visit.visible),
                      now=visit.now)  # fmt: skip


class Kind(NamedTuple):
    """What an edit form edits: the table, its fields, the address, the command."""

    table: Any
    fields: tuple[Field, ...]
    noun: str
    path: str
    read: Callable[[Fields], Any]
    command: Callable[[Visit, int, Any], Awaitable[Any]]


async def _run_campaign(visit: Visit, row_id: int, asked: changes.CampaignChanges) -> Any:
    return await changes.update_campaign(visit.db, row_id, asked, visible=visit.visible)


async def _run_template(visit: Visit, row_id: int, asked: changes.TemplateChanges) -> Any:
    return await changes.update_template(visit.db, visit.program, row_id, asked,
                                         visible=visit.visible)  # fmt: skip


CAMPAIGN = Kind(campaigns, CAMPAIGN_FIELDS, "campaign", "campaigns", campaign_changes,
                _run_campaign)  # fmt: skip
TEMPLATE = Kind(coupon_templates, TEMPLATE_FIELDS, "coupon template", "templates",
                template_changes, _run_template)  # fmt: skip


async def _row(visit: Visit, kind: Kind) -> Any:
    """The row the address names, if the signed-in person may see it (else the 404 page)."""
    row_id = number(visit.request.path_params["row_id"])
    readable = getattr(visit.visible, kind.table.name)
    async with visit.db.read() as conn:
        row = (await conn.execute(select(kind.table).where(kind.table.c.id == row_id,
                                                           readable))).first()  # fmt: skip
    if row is None:
        raise not_found()
    return row


async def edit_form(visit: Visit, kind: Kind, status: int = 200, error: str | None = None,
                    typed: Fields | None = None) -> Response:  # fmt: skip
    row = await _row(visit, kind)
    return visit.page("promotion_edit.html", status, title=f"Edit {kind.noun} {row.code}",
                      row=row, kind=kind, error=error,
                      typed=typed or _as_typed(row, kind.fields))  # fmt: skip


async def edit(visit: Visit, kind: Kind) -> Response:
    row = await _row(visit, kind)
    fields = Fields(await visit.request.form())
    try:
        await kind.command(visit, row.id, kind.read(fields))
    except DomainError as refused:
        return await edit_form(visit, kind, 422, refused.message, fields)
    except (ValueError, ArithmeticError):
        return await edit_form(visit, kind, 422, FORM_HINT, fields)
    return visit.redirect(PROMOTIONS)


async def set_status(visit: Visit, kind: Kind, status: str) -> Response:
    """Pause, resume, end or retire (the list's buttons)."""
    row = await _row(visit, kind)
    asked = (changes.CampaignChanges(status=CampaignStatus(status)) if kind is CAMPAIGN
             else changes.TemplateChanges(status=TemplateStatus(status)))  # fmt: skip
    try:
        await kind.command(visit, row.id, asked)
    except DomainError as refused:
        return await promotions_page(visit, 409, refused.message)
    return visit.redirect(PROMOTIONS)


def _routes(kind: Kind, verbs: dict[str, str]) -> list[Page]:
    base, action = f"/promotions/{kind.path}/{{row_id}}", kind.noun.replace(" ", "_")
    made = [
        Page(f"{base}/edit", partial(edit_form, kind=kind), ["GET"], Need.OPERATOR),
        Page(f"{base}/edit", partial(edit, kind=kind), ["POST"], Need.OPERATOR,
             f"console.update_{action}"),
    ]  # fmt: skip
    for verb, status in verbs.items():
        made.append(Page(f"{base}/{verb}", partial(set_status, kind=kind, status=status),
                         ["POST"], Need.OPERATOR, f"console.{verb}_{action}"))  # fmt: skip
    return made


ROUTES: list[Page] = [
    Page("/promotions", promotions_page, ["GET"], Need.OPERATOR),
    *_routes(CAMPAIGN, {"pause": "PAUSED", "resume": "ACTIVE", "end": "ENDED"}),
    *_routes(TEMPLATE, {"pause": "PAUSED", "resume": "ACTIVE", "retire": "RETIRED"}),
]
