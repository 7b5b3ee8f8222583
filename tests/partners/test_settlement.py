from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta

from infra.errors import InvalidState
from loyalty import purchase, redemption
from loyalty.member import MemberRef
from loyalty.program import Program
from loyalty.purchase import Channel
from partners import exchange, rate_card, registry, settlement
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
    )
    return row


async def exchange_out(db, directory, holder, partner, points, at, key):
    quote = await exchange.quote_exchange(
        db, Program(), member_id=holder.id, partner_id=partner.id, points=points, now=at
    )
    return await exchange.request_exchange(
        db, directory, quote_id=quote.id, idempotency_key=key, now=at
    )


async def a_month_of_activity(db, partner, month=11):
    """The worked example's events (in November unless told), plus some just outside the month
    in Berlin."""
    holder = await a_member_with_an_account(db, partner, points=0)
    directory = ConnectorDirectory()
    last_day = (datetime(2026, month, 1) + relativedelta(months=1, days=-1)).day
    first = await buy_at_partner(db, partner, holder, "1250.00", berlin(month, 3), "o-1")
    await buy_at_partner(db, partner, holder, "1100.00", berlin(month, last_day, 23, 30), "o-2")
    await purchase.refund_purchase(
        db,
        Program(),
        purchase_id=first.id,
        amount=Decimal("50.00"),
        idempotency_key="r-1",
        now=berlin(month, 5),
    )
    await redemption.redeem_points(
        db,
        member_ref=MemberRef(member_id=holder.id),
        points=150,
        channel=Channel.PARTNER,
        partner_id=partner.id,
        idempotency_key="red-1",
        now=berlin(month, 6),
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
        # 7 API calls at 0.0025 = 0.0175 -> 0.02; the monthly fee
        ("API_TRANSACTIONS", None): (d(7), d("0.0025"), d("0.02")),
        ("PLATFORM_FEE", None): (d(1), d("99.00"), d("99.00")),
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


async def test_events_no_rate_card_covers_refuse_to_be_priced(db):
    partner = await registry.create_partner(db, code="uncarded", name="No card")
    holder = await a_member_with_an_account(db, partner, points=0)
    await buy_at_partner(db, partner, holder, "10.00", berlin(11, 3), "o-1")

    with pytest.raises(InvalidState):
        await settlement.statement(db, partner.id, NOVEMBER)
