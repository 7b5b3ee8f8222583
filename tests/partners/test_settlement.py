from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select, update

from infra.models import exchanges, purchases, quotes, rate_cards, transfers
from loyalty import purchase, redemption, refund
from loyalty.errors import InvalidState, PartnerNotContracted
from loyalty.member import MemberRef
from loyalty.program import Program
from loyalty.purchase import Channel
from loyalty.visibility import EVERYTHING
from partners import exchange, rate_card, registry, settlement, statement_report
from partners.directory import ConnectorDirectory
from partners.registry import Direction, Terms
from partners.settlement import LineKind, Period
from tests.factories import a_member_with_an_account

BERLIN = ZoneInfo("Europe/Berlin")
NOVEMBER = Period(2026, 11)
CARD = rate_card.RateCardTerms(
    point_value=Decimal("0.01"),
    issuance_cost_per_point=Decimal("0.008"),
    redemption_commission_percent=Decimal("3"),
    outbound_unit_price=Decimal("0.0125"),
    exchange_commission_percent=Decimal("2.5"),
    platform_fee_monthly=Decimal("99.00"),
    api_transaction_fee=Decimal("0.0025"),
)


def berlin(month, day, hour=12, minute=0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


async def a_settling_partner(db, code="skyway-air"):
    partner = await registry.create_partner(db, code=code, name="Skyway Air")
    await registry.update_partner(db, partner_id=partner.id, settlement_currency="EUR")
    await _set_timezone(db, partner.id, "Europe/Berlin")
    await rate_card.add_rate_card(db, partner_id=partner.id, terms=CARD, valid_from=berlin(1, 1))
    terms = Terms(
        rate=Decimal("2.5"),
        min_points=100,
        max_points=50_000,
        step_points=50,
        daily_cap_points=1_000_000,
    )
    for direction in Direction:
        await registry.set_exchange_terms(
            db, partner_id=partner.id, direction=direction, terms=terms, valid_from=berlin(1, 1)
        )
    return partner


async def _set_timezone(db, partner_id, zone):
    from sqlalchemy import update

    from infra.models import partners

    async with db.transaction() as conn:
        await conn.execute(
            update(partners).where(partners.c.id == partner_id).values(timezone=zone)
        )


async def buy_at_partner(db, partner, holder, amount, at, order):
    row, _ = await purchase.record_purchase(
        db,
        Program(),
        member_ref=MemberRef(member_id=holder.id),
        channel=Channel.PARTNER,
        source="sky-shop",
        external_order_id=order,
        amount=Decimal(amount),
        partner_id=partner.id,
        purchased_at=at,
        now=at,
        visible=EVERYTHING,
    )
    return row


async def exchange_out(db, directory, holder, partner, points, at, key):
    quote = await exchange.quote_exchange(
        db,
        Program(),
        member_id=holder.id,
        partner_id=partner.id,
        points=points,
        now=at,
        visible=EVERYTHING,
    )
    return await exchange.request_exchange(
        db, directory, quote_id=quote.id, idempotency_key=key, now=at, visible=EVERYTHING
    )


async def a_month_of_activity(db, partner, month=11):
    """The worked example's events (in November unless told), plus some just outside the month
    in Berlin."""
    holder = await a_member_with_an_account(db, partner, points=0)
    directory = ConnectorDirectory()
    last_day = (datetime(2026, month, 1) + relativedelta(months=1, days=-1)).day
    first = await buy_at_partner(db, partner, holder, "1250.00", berlin(month, 3), "o-1")
    await buy_at_partner(db, partner, holder, "1100.00", berlin(month, last_day, 23, 30), "o-2")
    await refund.refund_purchase(
        db,
        Program(),
        purchase_id=first.id,
        amount=Decimal("50.00"),
        idempotency_key="r-1",
        now=berlin(month, 5),
        visible=EVERYTHING,
    )
    await redemption.redeem_points(
        db,
        member_ref=MemberRef(member_id=holder.id),
        points=150,
        channel=Channel.PARTNER,
        partner_id=partner.id,
        idempotency_key="red-1",
        now=berlin(month, 6),
        visible=EVERYTHING,
    )
    await exchange_out(db, directory, holder, partner, 1000, berlin(month, 7), "x-1")
    await exchange_out(db, directory, holder, partner, 500, berlin(month, 8), "x-2")
    await exchange.credit_inbound(
        db,
        partner_id=partner.id,
        member_id=holder.id,
        units=520,
        reference="SKY-IN-1",
        now=berlin(month, 9),
        visible=EVERYTHING,
    )
    for day in range(1, 8):
        await settlement.record_api_call(
            db, partner_id=partner.id, client_id="c", at=berlin(month, day)
        )
    # just outside the month in Berlin: its eve's last half hour, the next month's first
    month_start = berlin(month, 1, 0, 0)
    await buy_at_partner(
        db, partner, holder, "77.00", month_start - timedelta(minutes=30), "o-before"
    )
    next_start = berlin(month, last_day, 0, 0) + timedelta(days=1)
    await buy_at_partner(
        db, partner, holder, "88.00", next_start + timedelta(minutes=30), "o-after"
    )
    await settlement.record_api_call(
        db, partner_id=partner.id, client_id="c", at=next_start + timedelta(minutes=10)
    )
    return holder


def fee_lines(statement) -> list[tuple[Decimal, Decimal]]:
    return [(line.quantity, line.amount) for line in statement.lines
            if line.kind is LineKind.PLATFORM_FEE]  # fmt: skip


def figures(statement) -> dict:
    return {
        (line.kind.value, line.adjusts_period): (line.quantity, line.unit_rate, line.amount)
        for line in statement.lines
    }


async def test_the_worked_example_matches_to_the_cent(db):
    partner = await a_settling_partner(db)
    await a_month_of_activity(db, partner)

    statement = await settlement.statement(db, partner.id, NOVEMBER)

    d = Decimal
    assert figures(statement) == {
        # 1,250 + 1,100 points earned at the partner, 50 taken back by a refund: x 0.008
        ("ISSUANCE", None): (d(2300), d("0.008"), d("18.40")),
        # 150 points redeemed: the program pays 1.50, less 3 % = 0.045, a half: 0.04 (even)
        ("REDEMPTION", None): (d(150), d("0.01"), d("1.50")),
        ("REDEMPTION_COMMISSION", None): (d(150), d("0.0003"), d("0.04")),
        # 400 + 200 miles out at 0.0125, plus 2.5 %: 0.1875 -> 0.19
        ("OUTBOUND_EXCHANGE", None): (d(600), d("0.0125"), d("7.50")),
        ("OUTBOUND_COMMISSION", None): (d(600), d("0.0003125"), d("0.19")),
        # 520 miles in = 1,300 points at 0.01, plus 2.5 %: 0.325 -> 0.32 (even)
        ("INBOUND_EXCHANGE", None): (d(1300), d("0.01"), d("13.00")),
        ("INBOUND_COMMISSION", None): (d(1300), d("0.00025"), d("0.32")),
        # 7 API calls at 0.0025 = 0.0175 -> 0.02; the monthly fee: 30 days at 99 / 30
        ("API_TRANSACTIONS", None): (d(7), d("0.0025"), d("0.02")),
        ("PLATFORM_FEE", None): (d(30), d("3.3"), d("99.00")),
    }
    assert statement.currency == "EUR"
    assert statement.payable_by_partner == d("130.78")
    assert statement.payable_by_program == d("9.19")
    assert statement.net == d("121.59")


async def test_each_lines_transfers_add_up_to_its_quantity_and_recomputing_changes_nothing(db):
    partner = await a_settling_partner(db)
    await a_month_of_activity(db, partner)

    first = await settlement.statement(db, partner.id, NOVEMBER)
    again = await settlement.statement(db, partner.id, NOVEMBER)
    drill = await settlement.line_transfers(db, partner.id, NOVEMBER)

    assert figures(again) == figures(first) and again.inputs_hash == first.inputs_hash
    sums: dict = {}
    for row in drill:
        sums[row.kind] = sums.get(row.kind, 0) + row.quantity
    base = {line.kind.value: line.quantity for line in first.lines if line.kind.value in sums}
    assert sums == base


async def test_a_closed_statement_never_changes_and_late_events_become_adjustments(db):
    partner = await a_settling_partner(db)
    holder = await a_month_of_activity(db, partner)
    closed = await settlement.close(db, partner.id, NOVEMBER, now=berlin(12, 2))
    again = await settlement.close(db, partner.id, NOVEMBER, now=berlin(12, 3))

    # a purchase dated in November is recorded after the close
    await buy_at_partner(db, partner, holder, "500.00", berlin(11, 20), "late-1")
    later = await settlement.statement(db, partner.id, NOVEMBER)
    december = await settlement.statement(db, partner.id, Period(2026, 12))
    frozen = await settlement.line_transfers(db, partner.id, NOVEMBER, kind=LineKind.ISSUANCE)

    assert again.inputs_hash == closed.inputs_hash and figures(again) == figures(closed)
    assert figures(later) == figures(closed) and later.status == "CLOSED"
    assert sum(row.quantity for row in frozen) == 2300
    december_lines = figures(december)
    assert december_lines[("ISSUANCE", "2026-11")] == (
        Decimal(500),
        Decimal("0.008"),
        Decimal("4.00"),
    )
    # December's own purchase (1 December 00:30 in Berlin) is a normal line
    assert december_lines[("ISSUANCE", None)][0] == Decimal(88)


async def test_a_month_that_is_not_over_cannot_be_closed(db):
    partner = await a_settling_partner(db)

    with pytest.raises(InvalidState):
        await settlement.close(db, partner.id, NOVEMBER, now=berlin(11, 30, 23, 0))


async def _recorded_before_contracts(db, card_id, valid_from):
    """Legacy data: events recorded before a rate card was required to transact. The gate
    refuses to record them now, so the test moves the card's start past them instead."""
    async with db.transaction() as conn:
        await conn.execute(
            update(rate_cards).where(rate_cards.c.id == card_id).values(valid_from=valid_from)
        )


async def test_a_partner_without_a_rate_card_in_force_cannot_transact(db):
    partner = await registry.create_partner(db, code="uncarded", name="No card")
    holder = await a_member_with_an_account(db, partner, points=500)
    ended = await a_settling_partner(db, "ended-air")
    ended_holder = await a_member_with_an_account(db, ended, points=500)
    await _set_card_end(db, ended.id, berlin(6, 1))
    before = await _ledger_size(db)

    attempts = [
        buy_at_partner(db, partner, holder, "10.00", berlin(11, 3), "o-1"),
        buy_at_partner(db, ended, ended_holder, "10.00", berlin(11, 3), "o-2"),
        redemption.redeem_points(
            db, member_ref=MemberRef(member_id=holder.id), points=100, channel=Channel.PARTNER,
            partner_id=partner.id, idempotency_key="red-1", now=berlin(11, 3), visible=EVERYTHING
        ),
        exchange.quote_exchange(
            db, Program(), member_id=ended_holder.id, partner_id=ended.id, points=100,
            now=berlin(11, 3), visible=EVERYTHING
        ),
        exchange.credit_inbound(
            db, partner_id=ended.id, member_id=ended_holder.id, units=40, reference="IN-1",
            now=berlin(11, 3), visible=EVERYTHING
        ),
    ]  # fmt: skip
    for attempt in attempts:
        with pytest.raises(PartnerNotContracted) as refused:
            await attempt
        assert refused.value.extensions["code"] == "PARTNER_NOT_CONTRACTED"

    assert await _ledger_size(db) == before
    # the same partner transacts again the moment a card is in force
    await rate_card.add_rate_card(db, partner_id=partner.id, terms=CARD, valid_from=berlin(11, 4))
    assert await buy_at_partner(db, partner, holder, "10.00", berlin(11, 4, 13), "o-3")


async def _set_card_end(db, partner_id, valid_to):
    async with db.transaction() as conn:
        await conn.execute(
            update(rate_cards).where(rate_cards.c.partner_id == partner_id)
            .values(valid_to=valid_to)
        )  # fmt: skip


async def _ledger_size(db):
    async with db.read() as conn:
        return (
            await conn.scalar(select(func.count()).select_from(transfers)),
            await conn.scalar(select(func.count()).select_from(purchases)),
            await conn.scalar(select(func.count()).select_from(exchanges)),
            await conn.scalar(select(func.count()).select_from(quotes)),
        )


async def test_events_no_card_prices_form_an_unpriced_line_and_keep_the_month_open(db):
    partner = await a_settling_partner(db)
    holder = await a_member_with_an_account(db, partner, points=0)
    await buy_at_partner(db, partner, holder, "10.00", berlin(11, 3), "o-early")
    await buy_at_partner(db, partner, holder, "20.00", berlin(11, 4), "o-early-2")
    await buy_at_partner(db, partner, holder, "30.00", berlin(11, 12), "o-priced")
    (card,) = await _cards(db, partner.id)
    await _recorded_before_contracts(db, card.id, berlin(11, 10, 0, 0))

    draft = await settlement.statement(db, partner.id, NOVEMBER)
    drill = await settlement.line_transfers(db, partner.id, NOVEMBER, kind=LineKind.UNPRICED)
    with pytest.raises(InvalidState) as refused:
        await settlement.close(db, partner.id, NOVEMBER, now=berlin(12, 2))

    lines = figures(draft)
    assert lines[("UNPRICED", None)] == (Decimal(2), Decimal(0), Decimal("0.00"))
    assert lines[("ISSUANCE", None)][0] == Decimal(30)
    # the fee is billed for the 21 days the card is in force: 99 x 21 / 30 = 69.30
    assert lines[("PLATFORM_FEE", None)] == (Decimal(21), Decimal("3.3"), Decimal("69.30"))
    assert [row.quantity for row in drill] == [10, 20]
    first_transfer = drill[0].transfer_id
    assert refused.value.extensions["unpricedCount"] == 2
    assert refused.value.extensions["firstTransferId"] == str(first_transfer)
    assert "2 event(s)" in refused.value.message and str(first_transfer) in refused.value.message

    # a card that covers them prices them, and the month closes
    await rate_card.add_rate_card(db, partner_id=partner.id, terms=CARD,
                                  valid_from=berlin(11, 1, 0, 0),
                                  valid_to=berlin(11, 10, 0, 0))  # fmt: skip
    closed = await settlement.close(db, partner.id, NOVEMBER, now=berlin(12, 2))
    assert ("UNPRICED", None) not in figures(closed)
    assert sum(line.quantity for line in closed.lines if line.kind is LineKind.ISSUANCE) == 60
    assert fee_lines(closed) == [(Decimal(9), Decimal("29.70")), (Decimal(21), Decimal("69.30"))]


async def _cards(db, partner_id):
    async with db.read() as conn:
        return await rate_card.rate_cards_of(conn, [partner_id])


@pytest.mark.parametrize(
    ("valid_from", "fee", "expected"),
    [
        # 50.00 from the 29th 00:00 of a 30-day month: 2 days of 30, 3.333... -> 3.33
        ((11, 29, 0, 0), "50.00", (Decimal(2), Decimal("1.66666667"), Decimal("3.33"))),
        # from the 29th 12:06: 1 day 11 h 54 min = 1.4958 days; 50 x 129,240 s / 2,592,000 s
        # = 2.49305... -> 2.49
        ((11, 29, 12, 6), "50.00", (Decimal("1.4958"), Decimal("1.66666667"), Decimal("2.49"))),
        # a whole month: the fee itself
        ((10, 1, 0, 0), "50.00", (Decimal(30), Decimal("1.66666667"), Decimal("50.00"))),
        # 15 days of 30 of 0.05: 0.025, half-even -> 0.02
        ((11, 16, 0, 0), "0.05", (Decimal(15), Decimal("0.00166667"), Decimal("0.02"))),
    ],
)
async def test_the_platform_fee_is_pro_rated_by_the_days_its_card_is_in_force(
    db, valid_from, fee, expected
):
    partner = await registry.create_partner(db, code="fee-air", name="Fee Air")
    await _set_timezone(db, partner.id, "Europe/Berlin")
    terms = replace(CARD, platform_fee_monthly=Decimal(fee))
    await rate_card.add_rate_card(
        db, partner_id=partner.id, terms=terms, valid_from=berlin(*valid_from)
    )

    statement = await settlement.statement(db, partner.id, NOVEMBER)

    assert figures(statement) == {("PLATFORM_FEE", None): expected}


async def test_two_cards_in_one_month_each_bill_their_share_of_the_fee_across_a_dst_change(db):
    partner = await registry.create_partner(db, code="dst-air", name="DST Air")
    await _set_timezone(db, partner.id, "Europe/Berlin")
    # October 2026 in Berlin has 31 days and a 25-hour day (the 25th)
    await rate_card.add_rate_card(db, partner_id=partner.id, terms=replace(
        CARD, platform_fee_monthly=Decimal("99")), valid_from=berlin(1, 1))  # fmt: skip
    await rate_card.add_rate_card(db, partner_id=partner.id, terms=replace(
        CARD, platform_fee_monthly=Decimal("62")), valid_from=berlin(10, 26, 0, 0))  # fmt: skip

    statement = await settlement.statement(db, partner.id, Period(2026, 10))

    fees = fee_lines(statement)
    # 25 days of 99 / 31 = 79.838... -> 79.84; 6 days of 62 / 31 = 12.00
    assert fees == [(Decimal(25), Decimal("79.84")), (Decimal(6), Decimal("12.00"))]


def _charted_net(activity, kind):
    return sum(activity.added.get(kind, [])) - sum(activity.taken_back.get(kind, []))


async def test_the_reports_days_add_up_to_the_lines_with_refunds_apart(db):
    partner = await a_settling_partner(db)
    holder = await a_month_of_activity(db, partner)
    draft = await settlement.statement(db, partner.id, NOVEMBER)
    draft_days = await settlement.daily_activity(db, partner.id, NOVEMBER)
    await settlement.close(db, partner.id, NOVEMBER, now=berlin(12, 2))
    # a late sale dated in November is billed in December, not in November's report
    await buy_at_partner(db, partner, holder, "500.00", berlin(11, 20), "late-1")
    closed = await settlement.statement(db, partner.id, NOVEMBER)
    closed_days = await settlement.daily_activity(db, partner.id, NOVEMBER)
    html = statement_report.html_report(closed, partner, closed_days)

    for statement, days in ((draft, draft_days), (closed, closed_days)):
        assert len(days.days) == 30 and days.days[0] == "2026-11-01"
        for line in statement.lines:
            if line.kind.value in statement_report.CHARTED and line.adjusts_period is None:
                assert _charted_net(days, line.kind.value) == line.quantity, line.kind
    # 1,250 on the 3rd and 1,100 on the 30th issued; the refund of 50 on the 5th apart
    issued, refunded = closed_days.added["ISSUANCE"], closed_days.taken_back["ISSUANCE"]
    assert (issued[2], issued[29], sum(issued)) == (1250, 1100, 2350)
    assert (refunded[4], sum(refunded)) == (50, 50)
    assert closed_days.added["OUTBOUND_EXCHANGE"][6:8] == [400, 200]  # partner units
    # labelled: a title, units on the axis, a legend, and the sums that make each line
    assert "Points issued</strong> per day (points)" in html
    assert "issued 2,350" in html and "refunded 50" in html and "= 2,300 points on the line" in html
    assert "Outbound exchanges</strong> per day (partner units)" in html
    assert "class=axis" in html and ">day of 2026-11<" in html and "3%" in html


async def test_the_lines_csv_shows_each_commissions_percentage(db):
    partner = await a_settling_partner(db)
    await a_month_of_activity(db, partner)
    statement = await settlement.statement(db, partner.id, NOVEMBER)

    rows = list(csv.DictReader(io.StringIO(statement_report.lines_csv(statement))))

    percent = {row["kind"]: row["commission_percent"] for row in rows}
    assert percent["REDEMPTION_COMMISSION"] == "3%"
    assert percent["OUTBOUND_COMMISSION"] == percent["INBOUND_COMMISSION"] == "2.5%"
    assert percent["REDEMPTION"] == percent["ISSUANCE"] == ""
    by_kind = {row["kind"]: row for row in rows}
    assert by_kind["REDEMPTION_COMMISSION"]["unit_rate"] == "0.0003"
