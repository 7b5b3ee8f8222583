"""Changing a promotion once it runs: an edited campaign earns as edited from the next purchase,
a paused one earns nothing until resumed, an ended one changes no more; a template pauses,
resumes and retires; budgets and limits never fall below what was spent, and a partner's
promotions still fit what it is allowed."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from infra.models import campaigns, coupons
from loyalty.errors import InvalidState, NotFound, PromotionLimit, ValidationFailed
from loyalty.promotions import campaign, changes, coupon
from loyalty.promotions.campaign import CampaignStatus, CampaignTerms
from loyalty.promotions.changes import CampaignChanges, TemplateChanges
from loyalty.promotions.template import TemplateStatus
from loyalty.visibility import EVERYTHING
from partners import registry
from tests.factories import a_member, a_partner
from tests.loyalty.promotions.test_campaign import MEMBER_DAY, NOVEMBER_18, a_live_book, buy
from tests.loyalty.promotions.test_coupon import MARCH_1, SPEND_200_SAVE_20

BEFORE = NOVEMBER_18 - timedelta(days=60)


async def test_an_edited_campaign_earns_as_edited_from_the_next_purchase(db, program):
    buyer = await a_member(db)
    made = await campaign.create_campaign(db, MEMBER_DAY, now=BEFORE, visible=EVERYTHING)
    first = await buy(db, program, buyer.id, "100.00", order="x2")

    edited = await changes.update_campaign(
        db, made.id, CampaignChanges(name="Member day: triple", multiplier=Decimal(3),
                                     bonus_points=5), visible=EVERYTHING, now=BEFORE,
    )  # fmt: skip
    second = await buy(db, program, buyer.id, "100.00", order="x3")
    again = await changes.update_campaign(
        db, made.id, CampaignChanges(multiplier=Decimal(3)), visible=EVERYTHING, now=BEFORE
    )

    assert (first.campaign_points, second.campaign_points) == (100, 205)
    assert (edited.name, edited.multiplier, edited.bonus_points) == ("Member day: triple", 3, 5)
    # what it is stays: its code, its day, its audience
    assert (edited.code, edited.monthly_day, edited.tiers) == ("member-day", 18, None)
    assert again.updated_at == edited.updated_at  # the same values again change nothing


async def test_a_paused_campaign_earns_nothing_until_resumed(db, program):
    buyer = await a_member(db)
    made = await campaign.create_campaign(db, MEMBER_DAY, now=BEFORE, visible=EVERYTHING)

    paused = await changes.update_campaign(
        db, made.id, CampaignChanges(status=CampaignStatus.PAUSED), visible=EVERYTHING
    )
    while_paused = await buy(db, program, buyer.id, "100.00", order="paused")
    resumed = await changes.update_campaign(
        db, made.id, CampaignChanges(status=CampaignStatus.ACTIVE), visible=EVERYTHING
    )
    after = await buy(db, program, buyer.id, "100.00", order="resumed")

    assert (paused.status, resumed.status) == ("PAUSED", "ACTIVE")
    assert (while_paused.campaign_points, after.campaign_points) == (0, 100)


async def test_an_ended_campaign_changes_no_more(db, program):
    made = await campaign.create_campaign(db, MEMBER_DAY, now=BEFORE, visible=EVERYTHING)
    now = datetime.now(UTC)

    ended = await changes.end_campaign(db, made.id, visible=EVERYTHING, now=now)
    ended_again = await changes.end_campaign(db, made.id, visible=EVERYTHING)
    with pytest.raises(InvalidState) as resumed:
        await changes.update_campaign(db, made.id, CampaignChanges(status=CampaignStatus.ACTIVE),
                                      visible=EVERYTHING)  # fmt: skip
    with pytest.raises(InvalidState):
        await changes.update_campaign(db, made.id, CampaignChanges(name="Again"),
                                      visible=EVERYTHING)  # fmt: skip
    with pytest.raises(NotFound):
        await changes.end_campaign(db, made.id + 1, visible=EVERYTHING)

    assert ended.status == "ENDED" and ended.ends_at == now
    assert ended_again.ends_at == now and resumed.value.extensions["reason"] == "CAMPAIGN_ENDED"


async def test_an_edit_is_checked_as_a_creation_is_and_keeps_what_was_awarded(db, program):
    made = await campaign.create_campaign(db, replace(MEMBER_DAY, points_budget=1000),
                                          now=BEFORE, visible=EVERYTHING)  # fmt: skip
    async with db.transaction() as conn:
        await conn.execute(update(campaigns).values(points_awarded=400))

    refusals = {}
    for name, asked in {
        "backwards": CampaignChanges(ends_at=MEMBER_DAY.starts_at - timedelta(days=1)),
        "past": CampaignChanges(ends_at=datetime.now(UTC) - timedelta(hours=1)),
        "multiplier": CampaignChanges(multiplier=Decimal("11")),
        "spent": CampaignChanges(points_budget=399),
    }.items():
        with pytest.raises(ValidationFailed) as refused:
            await changes.update_campaign(db, made.id, asked, visible=EVERYTHING)
        refusals[name] = refused.value.extensions.get("argument")
    kept = await changes.update_campaign(db, made.id, CampaignChanges(points_budget=400),
                                         visible=EVERYTHING)  # fmt: skip

    assert refusals == {"backwards": "endsAt", "past": "endsAt", "multiplier": "multiplier",
                        "spent": "pointsBudget"}  # fmt: skip
    assert kept.points_budget == 400
    async with db.read() as conn:  # nothing refused was written
        row = (await conn.execute(select(campaigns))).one()
    assert (row.ends_at, row.multiplier) == (MEMBER_DAY.ends_at, 2)


async def test_a_partners_campaigns_still_fit_its_limit_when_edited_or_paused(db, program):
    funder = await a_partner(db, "edit-p")
    await registry.update_partner(db, partner_id=funder.id, campaign_points_limit=1000)
    funded = CampaignTerms(code="p-bonus", name="Bonus at edit-p", starts_at=BEFORE,
                           ends_at=datetime(2099, 1, 1, tzinfo=UTC), bonus_points=10,
                           points_budget=800, partner_ids=(funder.id,),
                           funded_by_partner_id=funder.id)  # fmt: skip
    made = await campaign.create_campaign(db, funded, visible=EVERYTHING)

    # its own budget counts once: renaming it fits, 1,000 fits, 1,001 does not
    renamed = await changes.update_campaign(db, made.id, CampaignChanges(name="Renamed"),
                                            visible=EVERYTHING)  # fmt: skip
    await changes.update_campaign(db, made.id, CampaignChanges(points_budget=1000),
                                  visible=EVERYTHING)  # fmt: skip
    with pytest.raises(PromotionLimit):
        await changes.update_campaign(db, made.id, CampaignChanges(points_budget=1001),
                                      visible=EVERYTHING)  # fmt: skip
    # a paused campaign may resume: its budget still counts
    await changes.update_campaign(db, made.id, CampaignChanges(status=CampaignStatus.PAUSED),
                                  visible=EVERYTHING)  # fmt: skip
    with pytest.raises(PromotionLimit):
        await campaign.create_campaign(db, replace(funded, code="p-more", points_budget=1),
                                       visible=EVERYTHING)  # fmt: skip

    assert renamed.name == "Renamed"


async def test_a_template_pauses_resumes_and_retires_and_issued_coupons_stay(db, program):
    member = await a_member(db)
    template = await coupon.create_template(db, program, SPEND_200_SAVE_20, now=MARCH_1)
    first = await coupon.issue(db, template_id=template.id, member_id=member.id,
                               idempotency_key="before", visible=EVERYTHING)  # fmt: skip

    def status(value: TemplateStatus) -> TemplateChanges:
        return TemplateChanges(status=value)

    async def issue(key: str) -> str | None:
        try:
            await coupon.issue(db, template_id=template.id, member_id=member.id,
                               idempotency_key=key, visible=EVERYTHING)  # fmt: skip
        except InvalidState as refused:
            return refused.extensions["reason"]
        return None

    await changes.update_template(db, program, template.id, status(TemplateStatus.PAUSED),
                                  visible=EVERYTHING)  # fmt: skip
    while_paused = await issue("paused")
    await changes.update_template(db, program, template.id, status(TemplateStatus.ACTIVE),
                                  visible=EVERYTHING)  # fmt: skip
    resumed = await issue("resumed")
    retired = await changes.update_template(
        db, program, template.id, status(TemplateStatus.RETIRED), visible=EVERYTHING
    )
    after_retiring = await issue("retired")
    with pytest.raises(InvalidState):
        await changes.update_template(db, program, template.id, status(TemplateStatus.ACTIVE),
                                      visible=EVERYTHING)  # fmt: skip
    async with db.read() as conn:
        held = (await conn.execute(select(coupons).where(coupons.c.id == first.id))).one()

    assert (while_paused, resumed, after_retiring) == ("TEMPLATE_PAUSED", None, "TEMPLATE_ENDED")
    assert retired.status == "RETIRED" and retired.issued_count == 2
    assert held.state == "ISSUED"  # an issued coupon stays usable


async def test_a_template_edit_keeps_what_a_coupon_gives_and_what_was_issued(db, program):
    member = await a_member(db)
    template = await coupon.create_template(db, program, replace(SPEND_200_SAVE_20, total_limit=5),
                                            now=MARCH_1)  # fmt: skip
    for key in ("a", "b"):
        await coupon.issue(db, template_id=template.id, member_id=member.id, idempotency_key=key,
                           visible=EVERYTHING)  # fmt: skip
    later = datetime.now(UTC) + timedelta(days=30)

    edited = await changes.update_template(
        db, program, template.id,
        TemplateChanges(name="Spend 200, save 20 (spring)", valid_until=later, total_limit=2),
        visible=EVERYTHING,
    )  # fmt: skip
    with pytest.raises(ValidationFailed) as below:
        await changes.update_template(db, program, template.id, TemplateChanges(total_limit=1),
                                      visible=EVERYTHING)  # fmt: skip
    with pytest.raises(ValidationFailed) as past:
        await changes.update_template(db, program, template.id, TemplateChanges(
            valid_until=datetime.now(UTC) - timedelta(days=1)), visible=EVERYTHING)  # fmt: skip

    assert (edited.name, edited.valid_until, edited.total_limit) == (
        "Spend 200, save 20 (spring)", later, 2)  # fmt: skip
    assert (edited.kind, edited.amount_off, edited.threshold) == ("AMOUNT_OFF", 20, 200)
    assert below.value.extensions["argument"] == "totalLimit"
    assert past.value.extensions["argument"] == "validUntil"


async def test_every_processs_book_hears_a_pause_and_a_resume(db, program):
    buyer = await a_member(db)
    made = await campaign.create_campaign(db, MEMBER_DAY, now=BEFORE, visible=EVERYTHING)
    book, following = await a_live_book(db)
    try:
        running = await buy(db, program, buyer.id, "10.00", order="running", book=book)
        await changes.update_campaign(db, made.id, CampaignChanges(status=CampaignStatus.PAUSED),
                                      visible=EVERYTHING)  # fmt: skip
        await asyncio.sleep(1.5)  # PostgreSQL's NOTIFY at once, SQLite's poll within 0.5 s
        paused = await buy(db, program, buyer.id, "10.00", order="paused", book=book)
        await changes.update_campaign(db, made.id, CampaignChanges(status=CampaignStatus.ACTIVE,
                                      bonus_points=7), visible=EVERYTHING)  # fmt: skip
        await asyncio.sleep(1.5)
        resumed = await buy(db, program, buyer.id, "10.00", order="resumed", book=book)
    finally:
        following.cancel()

    assert book.live
    assert [p.campaign_points for p in (running, paused, resumed)] == [10, 0, 17]
