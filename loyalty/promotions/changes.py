"""Changing a campaign or a coupon template after it is created: its terms edited, paused and
resumed, ended (a campaign) or retired (a template). The graph's `updateCampaign`,
`endCampaign` and `updateCouponTemplate` and the console's forms call these.

What may change (docs/promotions.md, "Changing a promotion"): a campaign's name, dates,
priority, exclusivity, multiplier, bonus and budget; a template's name, end date, limits and
budget. What it is (a campaign's code, audience, coupon and funder; a template's code, kind,
discount and funder) is fixed: an issued coupon keeps what it was issued with. A change is
checked by the same rules as a creation, a budget never falls below what was already spent,
and a partner's promotions still fit what an operator allowed it. An ended campaign or a
retired template changes no more. Setting the same values again answers the same row."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.feed import announce
from infra.models import campaigns, coupon_templates
from infra.records import CampaignRow, CouponTemplateRow
from loyalty.errors import InvalidState, NotFound, ValidationFailed
from loyalty.program import Program
from loyalty.promotions import funding
from loyalty.promotions.campaign import CHANNEL, CampaignStatus, CampaignTerms
from loyalty.promotions.template import CouponKind, TemplateStatus, TemplateTerms
from loyalty.visibility import Visibility


def _tuple(text: str | None, read: Any = str) -> tuple[Any, ...] | None:
    return None if text is None else tuple(read(value) for value in text.split(","))


@dataclass(frozen=True, slots=True)
class CampaignChanges:
    """What an edit sets; None leaves a value as it is."""

    name: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    priority: int | None = None
    exclusive: bool | None = None
    multiplier: Decimal | None = None
    bonus_points: int | None = None
    points_budget: int | None = None
    status: CampaignStatus | None = None

    def given(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__
                if name != "status" and getattr(self, name) is not None}  # fmt: skip


def campaign_terms(row: Any) -> CampaignTerms:
    """A campaign's terms as it stands."""
    return CampaignTerms(
        code=row.code, name=row.name, starts_at=row.starts_at, ends_at=row.ends_at,
        priority=row.priority, exclusive=bool(row.exclusive), monthly_day=row.monthly_day,
        tiers=_tuple(row.tiers), channels=_tuple(row.channels),
        partner_ids=_tuple(row.partner_ids, int), lifecycles=_tuple(row.lifecycles),
        spend_bands=_tuple(row.spend_bands), frequency_bands=_tuple(row.frequency_bands),
        multiplier=Decimal(row.multiplier), bonus_points=row.bonus_points,
        coupon_template_id=row.coupon_template_id, points_budget=row.points_budget,
        funded_by_partner_id=row.funded_by_partner_id,
    )  # fmt: skip


async def _locked(conn: AsyncConnection, table: Table, row_id: int, readable: Any) -> Any:
    """The row, locked for this transaction, if the principal may act on it (else NOT_FOUND)."""
    query = select(table).where(table.c.id == row_id, readable)
    if conn.dialect.name == "postgresql":  # SQLite runs one writer at a time
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"{table.name[:-1]} {row_id} does not exist")
    return row


async def update_campaign(
    db: Database, campaign_id: int, changes: CampaignChanges, *, visible: Visibility,
    now: datetime | None = None,
) -> CampaignRow:  # fmt: skip
    """Edit a campaign not yet ended, pause or resume it (ACTIVE, PAUSED), or end it now
    (ENDED: `end_campaign`); every process's book hears of it."""
    now = now or datetime.now(UTC)
    async with db.transaction() as conn:
        row = await _locked(conn, campaigns, campaign_id, visible.campaigns)
        if row.status == CampaignStatus.ENDED:
            if not changes.given() and changes.status in (None, CampaignStatus.ENDED):
                return row
            raise InvalidState(f"campaign {row.code} has ended", reason="CAMPAIGN_ENDED")
        values: dict[str, Any] = changes.given()
        if changes.status is CampaignStatus.ENDED:
            values.update(status=CampaignStatus.ENDED, ends_at=min(row.ends_at, now))
        else:
            await _check_campaign(conn, row, values, now)
            if changes.status is not None:
                values["status"] = changes.status
        if all(getattr(row, name) == value for name, value in values.items()):
            return row
        changed = (await conn.execute(
            update(campaigns).where(campaigns.c.id == campaign_id)
            .values(**values, updated_at=datetime.now(UTC)).returning(*campaigns.c)
        )).one()  # fmt: skip
        await announce(conn, CHANNEL, row.code)
        return changed


async def _check_campaign(conn: AsyncConnection, row: Any, values: dict[str, Any],
                          now: datetime) -> None:  # fmt: skip
    """The edited terms pass creation's checks, end in the future, keep the budget above what
    was awarded, and (partner-funded) still fit the partner's limit."""
    terms = replace(campaign_terms(row), **values)
    terms.check()
    if "ends_at" in values and terms.ends_at <= now:
        raise ValidationFailed("an edited campaign ends in the future (to end it now, end it)",
                               argument="endsAt")  # fmt: skip
    budget = terms.points_budget
    if budget is not None and budget < row.points_awarded:
        raise ValidationFailed(f"the budget is at least the {row.points_awarded:,} points "
                               "awarded already", argument="pointsBudget")  # fmt: skip
    if row.funded_by_partner_id is not None and values:
        await funding.check_campaign(conn, row.funded_by_partner_id,
                                     gives_points=terms.gives_points, budget=budget, now=now,
                                     besides=row.id)  # fmt: skip


async def end_campaign(
    db: Database, campaign_id: int, *, visible: Visibility, now: datetime | None = None
) -> CampaignRow:
    """End a campaign now (ending it again changes nothing)."""
    ending = CampaignChanges(status=CampaignStatus.ENDED)
    return await update_campaign(db, campaign_id, ending, visible=visible, now=now)


@dataclass(frozen=True, slots=True)
class TemplateChanges:
    """What an edit sets; None leaves a value as it is."""

    name: str | None = None
    valid_until: datetime | None = None
    per_member_limit: int | None = None
    total_limit: int | None = None
    budget: Decimal | None = None
    status: TemplateStatus | None = None

    def given(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__
                if getattr(self, name) is not None}  # fmt: skip


def template_terms(row: Any) -> TemplateTerms:
    """A template's terms as it stands."""
    return TemplateTerms(
        code=row.code, name=row.name, kind=CouponKind(row.kind), amount_off=row.amount_off,
        reward_id=row.reward_id, percent_off=row.percent_off, max_discount=row.max_discount,
        threshold=Decimal(row.threshold), valid_from=row.valid_from, valid_until=row.valid_until,
        valid_hours=row.valid_hours, channels=_tuple(row.channels), partner_id=row.partner_id,
        funded_by_partner_id=row.funded_by_partner_id, per_member_limit=row.per_member_limit,
        total_limit=row.total_limit, budget=row.budget,
    )  # fmt: skip


async def update_template(
    db: Database, program: Program, template_id: int, changes: TemplateChanges, *,
    visible: Visibility, now: datetime | None = None,
) -> CouponTemplateRow:  # fmt: skip
    """Edit a template not retired, pause or resume its issuing (ACTIVE, PAUSED), or retire it
    (RETIRED: it issues no more; coupons already issued stay valid as issued)."""
    now = now or datetime.now(UTC)
    values = changes.given()
    async with db.transaction() as conn:
        row = await _locked(conn, coupon_templates, template_id, visible.coupon_templates)
        if row.status == TemplateStatus.RETIRED:
            if values in ({}, {"status": TemplateStatus.RETIRED}):
                return row
            raise InvalidState(f"coupon template {row.code} is retired", reason="TEMPLATE_ENDED")
        terms = replace(template_terms(row), **{k: v for k, v in values.items() if k != "status"})
        terms.check(program)
        if terms.valid_until is not None and "valid_until" in values and terms.valid_until <= now:
            raise ValidationFailed("an edited template is valid until a time to come (to end "
                                   "it now, retire it)", argument="validUntil")  # fmt: skip
        _keeps_spent(terms, row)
        if row.funded_by_partner_id is not None and values.keys() & {"budget", "valid_until"}:
            await funding.check_template(conn, row.funded_by_partner_id, budget=terms.budget,
                                         now=now, besides=row.id)  # fmt: skip
        if all(getattr(row, name) == value for name, value in values.items()):
            return row
        return (await conn.execute(
            update(coupon_templates).where(coupon_templates.c.id == template_id)
            .values(**values).returning(*coupon_templates.c)
        )).one()  # fmt: skip


def _keeps_spent(terms: TemplateTerms, row: Any) -> None:
    """A limit or budget is never set below what was already issued or given."""
    if terms.total_limit is not None and terms.total_limit < row.issued_count:
        raise ValidationFailed(f"the total limit is at least the {row.issued_count:,} coupons "
                               "issued already", argument="totalLimit")  # fmt: skip
    if terms.budget is not None and terms.budget < row.discount_total:
        raise ValidationFailed(f"the budget is at least the {row.discount_total} given already",
                               argument="budget")  # fmt: skip
