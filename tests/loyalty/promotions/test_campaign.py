"""Campaigns as the program runs them: a member day with double points, audiences, priorities
and exclusivity, budgets under concurrency, refunds, and the book kept in memory."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from infra.models import campaign_awards, campaigns, coupons
from loyalty import books, ledger, purchase
from loyalty.member import MemberRef
from loyalty.promotions import campaign
from loyalty.promotions.campaign import CampaignBook, CampaignTerms
from loyalty.promotions.coupon import CouponKind, TemplateTerms, create_template
from loyalty.purchase import Channel
from loyalty.refund import refund_purchase
from loyalty.visibility import EVERYTHING
from tests.factories import a_member, a_partner, a_purchase, balance_of

# The 18th of each month is member day, in the program's time zone.
NOVEMBER_18 = datetime(2026, 11, 18, 12, tzinfo=UTC)
MEMBER_DAY = CampaignTerms(
    code="member-day", name="Member day: double points", starts_at=datetime(2026, 1, 1, tzinfo=UTC),
    ends_at=datetime(2027, 1, 1, tzinfo=UTC), monthly_day=18, multiplier=Decimal(2),
)  # fmt: skip


async def a_gold_member(db, program):
    buyer = await a_member(db)
    await a_purchase(db, program, buyer.id, "5000.00", at=NOVEMBER_18 - timedelta(days=30))
    return buyer


async def buy(db, program, member_id, amount, *, order, at=NOVEMBER_18, book=None, **where):
    row, _ = await purchase.record_purchase(
        db, program, member_ref=MemberRef(member_id=member_id),
        channel=where.pop("channel", Channel.ONLINE), source="shop", external_order_id=order,
        amount=Decimal(amount), now=at, campaigns=book or campaign.READ_THROUGH,
        visible=where.pop("visible", EVERYTHING), **where,
    )  # fmt: skip
    return row


async def test_a_gold_member_earns_double_base_points_on_member_day_only(db, program):
    buyer = await a_gold_member(db, program)
    await campaign.create_campaign(
        db, MEMBER_DAY, now=NOVEMBER_18 - timedelta(days=60), visible=EVERYTHING
    )
    before = (await balance_of(db, buyer.id)).available

    on_the_day = await buy(db, program, buyer.id, "100.00", order="day")
    next_day = await buy(db, program, buyer.id, "100.00", order="after",
                         at=NOVEMBER_18 + timedelta(days=1))  # fmt: skip

    # 100 base x 2 = 200, then the GOLD bonus of 2 % of 100.00 at 0.01 a point = 200: 400
    assert (on_the_day.points_earned, on_the_day.campaign_points, on_the_day.bonus_points) == (
        400, 100, 200,
    )  # fmt: skip
    assert next_day.points_earned == 300 and next_day.campaign_points == 0
    assert (await balance_of(db, buyer.id)).available - before == 700


async def test_the_member_day_is_a_day_of_the_programs_time_zone(db, program):
    buyer = await a_member(db)
    await campaign.create_campaign(
        db, MEMBER_DAY, now=NOVEMBER_18 - timedelta(days=60), visible=EVERYTHING
    )
    tokyo = replace(program, timezone="Asia/Tokyo")

    # 17 November 20:00 UTC is already the 18th in Tokyo; 18 November 20:00 UTC is not
    eve = await buy(db, tokyo, buyer.id, "10.00", order="eve",
                    at=datetime(2026, 11, 17, 20, tzinfo=UTC))  # fmt: skip
    late = await buy(db, tokyo, buyer.id, "10.00", order="late",
                     at=datetime(2026, 11, 18, 20, tzinfo=UTC))  # fmt: skip

    assert (eve.campaign_points, late.campaign_points) == (10, 0)


async def test_audiences_priorities_and_exclusivity(db, program):
    buyer = await a_member(db)
    shop = await a_partner(db, "shop-p")
    start = NOVEMBER_18 - timedelta(days=1)
    base = dict(starts_at=start, ends_at=start + timedelta(days=30))
    for terms in [
        CampaignTerms(code="gold-only", name="G", tiers=("GOLD",), bonus_points=1000, **base),
        CampaignTerms(code="at-shop", name="S", partner_ids=(shop.id,), bonus_points=50, **base),
        CampaignTerms(code="offline", name="O", channels=("OFFLINE",), bonus_points=7, **base),
        CampaignTerms(code="triple", name="T", multiplier=Decimal(3), priority=5, **base),
        CampaignTerms(code="exclusive-low", name="X", exclusive=True, bonus_points=999, **base),
    ]:
        await campaign.create_campaign(db, terms, now=start, visible=EVERYTHING)

    online = await buy(db, program, buyer.id, "10.00", order="online")
    at_shop = await buy(db, program, buyer.id, "10.00", order="shop", channel=Channel.PARTNER,
                        partner_id=shop.id)  # fmt: skip
    # an exclusive campaign of the highest priority applies alone
    await campaign.create_campaign(db, CampaignTerms(
        code="exclusive-top", name="XX", exclusive=True, priority=9, bonus_points=1, **base),
        now=start, visible=EVERYTHING)  # fmt: skip
    alone = await buy(db, program, buyer.id, "10.00", order="alone")

    # online: triple (10 x 2 extra = 20); the lower exclusive one is skipped after it
    assert online.campaign_points == 20
    assert at_shop.campaign_points == 20 + 50
    assert alone.campaign_points == 1


async def test_a_budget_of_1000_points_is_never_overspent_by_50_concurrent_purchases(db, program):
    buyers = [await a_member(db, f"M{n}") for n in range(50)]
    await campaign.create_campaign(db, replace(MEMBER_DAY, points_budget=1000),
                                   now=NOVEMBER_18 - timedelta(days=60),
                                   visible=EVERYTHING)  # fmt: skip

    rows = await asyncio.gather(
        *(buy(db, program, b.id, "150.00", order=f"o-{b.id}") for b in buyers)
    )

    async with db.read() as conn:
        spent = await conn.scalar(select(campaigns.c.points_awarded))
        awarded = await conn.scalar(select(func.sum(campaign_awards.c.points)))
        problems = await books.verify(conn)
    assert spent == awarded == sum(r.campaign_points for r in rows) <= 1000
    # 150 extra each: 6 fit in 1,000; every purchase was recorded
    assert spent == 900 and len(rows) == 50 and problems == []


async def test_a_refund_takes_campaign_points_back_to_the_funder(db, program):
    buyer = await a_member(db)
    await campaign.create_campaign(
        db, MEMBER_DAY, now=NOVEMBER_18 - timedelta(days=60), visible=EVERYTHING
    )
    bought = await buy(db, program, buyer.id, "100.00", order="day")

    half = await refund_purchase(db, program, purchase_id=bought.id, amount=Decimal("50.00"),
                                 idempotency_key="r-1", now=NOVEMBER_18,
                                 visible=EVERYTHING)  # fmt: skip
    rest = await refund_purchase(db, program, purchase_id=bought.id, amount=Decimal("50.00"),
                                 idempotency_key="r-2", now=NOVEMBER_18,
                                 visible=EVERYTHING)  # fmt: skip

    async with db.read() as conn:
        reasons = [
            (row.reason, row.amount) for row in await conn.execute(
                select(ledger.transfers.c.reason, ledger.transfers.c.amount)
                .where(ledger.transfers.c.reason.in_(["REFUND", "CAMPAIGN_REFUND"]))
                .order_by(ledger.transfers.c.id))
        ]  # fmt: skip
        problems = await books.verify(conn)
    assert (half.points_reversed, rest.points_reversed) == (100, 100)
    assert reasons == [("REFUND", 50), ("CAMPAIGN_REFUND", 50), ("REFUND", 50),
                       ("CAMPAIGN_REFUND", 50)]  # fmt: skip
    assert (await balance_of(db, buyer.id)).available == 0 and problems == []


async def test_a_campaign_can_grant_a_coupon_once_per_purchase(db, program):
    buyer = await a_member(db)
    template = await create_template(db, program, TemplateTerms(
        code="next-purchase", name="Next purchase", kind=CouponKind.AMOUNT_OFF,
        amount_off=Decimal("5.00"), threshold=Decimal("50.00"), valid_hours=168))  # fmt: skip
    await campaign.create_campaign(db, CampaignTerms(
        code="repurchase", name="R", starts_at=NOVEMBER_18 - timedelta(days=1),
        ends_at=NOVEMBER_18 + timedelta(days=30), coupon_template_id=template.id),
        now=NOVEMBER_18, visible=EVERYTHING)  # fmt: skip

    await buy(db, program, buyer.id, "20.00", order="a")
    await buy(db, program, buyer.id, "20.00", order="a")  # the same order again
    await buy(db, program, buyer.id, "20.00", order="b")

    async with db.read() as conn:
        held = list(await conn.scalars(select(coupons.c.valid_until).where(
            coupons.c.member_id == buyer.id)))  # fmt: skip
    assert held == [NOVEMBER_18 + timedelta(days=7)] * 2


async def a_live_book(db) -> tuple[CampaignBook, asyncio.Task[None]]:
    """A book following the change feed, once live (the feed connects or polls within a
    moment), and the task that follows it (cancel it when done)."""
    book = CampaignBook()
    following = asyncio.create_task(book.follow(db))
    for _ in range(200):
        if book.live:
            break
        await asyncio.sleep(0.05)
    return book, following


async def test_the_book_serves_purchases_from_memory_and_follows_changes(
    db, program, sql_statements
):
    book, following = await a_live_book(db)
    try:
        buyer = await a_member(db)
        other = await a_member(db, "Bo")
        await buy(db, program, buyer.id, "10.00", order="warm", book=book)

        sql_statements.count = 0
        await buy(db, program, buyer.id, "10.00", order="none", book=book)
        without = sql_statements.count
        await campaign.create_campaign(db, replace(MEMBER_DAY, tiers=("DIAMOND",)),
                                       now=NOVEMBER_18 - timedelta(days=60),
                                       visible=EVERYTHING)  # fmt: skip
        await asyncio.sleep(1.5)  # the feed hears it (PostgreSQL at once, SQLite by its poll)
        await buy(db, program, buyer.id, "10.00", order="warm-2", book=book)
        sql_statements.count = 0
        await buy(db, program, other.id, "10.00", order="in-force", book=book)
        with_campaigns = sql_statements.count
        sql_statements.count = 0
        await buy(db, program, other.id, "10.00", order="read-through")
        read_through = sql_statements.count
        await campaign.create_campaign(db, replace(MEMBER_DAY, code="everyone"),
                                       now=NOVEMBER_18 - timedelta(days=60),
                                       visible=EVERYTHING)  # fmt: skip
        await asyncio.sleep(1.5)
        heard = await buy(db, program, other.id, "10.00", order="heard", book=book)
    finally:
        following.cancel()

    # a campaign in force that does not apply costs a purchase nothing; reading the campaigns
    # each time would cost one statement more; a new campaign is heard without a restart
    assert with_campaigns == without and read_through == without + 1
    assert heard.campaign_points == 10


async def test_a_campaign_can_address_a_lifecycle_or_a_spend_band(db, program):
    await campaign.create_campaign(db, CampaignTerms(
        code="welcome-back", name="Back after a while", lifecycles=("DORMANT",),
        bonus_points=500, starts_at=NOVEMBER_18 - timedelta(days=400),
        ends_at=NOVEMBER_18 + timedelta(days=30)), now=NOVEMBER_18, visible=EVERYTHING)  # fmt: skip
    await campaign.create_campaign(db, CampaignTerms(
        code="big-spenders", name="High spend", spend_bands=("HIGH",), bonus_points=7,
        starts_at=NOVEMBER_18 - timedelta(days=400), ends_at=NOVEMBER_18 + timedelta(days=30)),
        now=NOVEMBER_18, visible=EVERYTHING)  # fmt: skip
    quiet = await a_member(db, now=NOVEMBER_18 - timedelta(days=300))
    await a_purchase(db, program, quiet.id, "20.00", at=NOVEMBER_18 - timedelta(days=200))
    busy = await a_member(db, "Bo", now=NOVEMBER_18 - timedelta(days=300))
    await a_purchase(db, program, busy.id, "12000.00", at=NOVEMBER_18 - timedelta(days=10))

    returning = await buy(db, program, quiet.id, "10.00", order="back")
    regular = await buy(db, program, busy.id, "10.00", order="regular")

    # the lifecycle and bands are the member's when it buys (before this purchase counts)
    assert (returning.campaign_points, regular.campaign_points) == (500, 7)


async def a_next_purchase_campaign(db, program, total_limit=None):
    """A campaign granting a 5.00 next-purchase coupon (valid 7 days) with every purchase."""
    template = await create_template(db, program, TemplateTerms(
        code="next-purchase", name="Next purchase", kind=CouponKind.AMOUNT_OFF,
        amount_off=Decimal("5.00"), valid_hours=168, total_limit=total_limit,
    ), now=NOVEMBER_18 - timedelta(days=1))  # fmt: skip
    await campaign.create_campaign(db, replace(
        MEMBER_DAY, code="next-purchase", monthly_day=None, multiplier=Decimal(1),
        coupon_template_id=template.id), now=NOVEMBER_18 - timedelta(days=60),
        visible=EVERYTHING)  # fmt: skip


async def test_an_exhausted_or_ended_coupon_grant_never_refuses_the_sale(db, program):
    """Found from outside: a campaign whose coupon template had issued all it may (or ended)
    refused the customer's purchase with INVALID_STATE. The purchase records, the grant is
    skipped, counted on the campaign and kept on the award with its reason."""
    ada, bo = await a_member(db), await a_member(db, "Bo")
    await a_next_purchase_campaign(db, program, total_limit=1)

    first = await buy(db, program, ada.id, "100.00", order="first")
    second = await buy(db, program, bo.id, "100.00", order="second")

    assert first.points_earned == second.points_earned == 100
    async with db.read() as conn:
        skipped = list(await conn.execute(
            select(campaign_awards.c.purchase_id, campaign_awards.c.coupon_skipped)
            .order_by(campaign_awards.c.id)))  # fmt: skip
        counted = await conn.scalar(select(campaigns.c.coupons_skipped))
        issued = await conn.scalar(select(func.count()).select_from(coupons))
    assert [tuple(row) for row in skipped] == [(first.id, None), (second.id, "TOTAL_LIMIT")]
    assert counted == 1 and issued == 1


async def test_a_next_purchase_coupon_goes_with_its_fully_refunded_purchase(db, program):
    """Decided (found from outside: it stayed usable): a coupon a campaign granted with a
    purchase is voided when that purchase is refunded in full, while unused; a partial refund
    leaves it."""
    ada = await a_member(db)
    await a_next_purchase_campaign(db, program)
    kept = await buy(db, program, ada.id, "100.00", order="kept")
    gone = await buy(db, program, ada.id, "100.00", order="gone")

    for row, amount in ((kept, "40.00"), (gone, "100.00")):
        await refund_purchase(db, program, purchase_id=row.id, amount=Decimal(amount),
                              idempotency_key=f"r-{row.id}",
                              now=NOVEMBER_18 + timedelta(hours=1), visible=EVERYTHING)  # fmt: skip

    async with db.read() as conn:
        states = dict(list(await conn.execute(
            select(coupons.c.issue_key, coupons.c.state).order_by(coupons.c.id))))  # fmt: skip
    by_purchase = {key.split(":")[3]: state for key, state in states.items()}
    assert by_purchase == {str(kept.id): "ISSUED", str(gone.id): "VOIDED"}
