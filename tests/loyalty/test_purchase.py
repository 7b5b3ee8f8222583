from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from infra.models import purchases, transfers
from loyalty import ledger, member, purchase, redemption
from loyalty.errors import IdempotencyConflict, NotFound, ValidationFailed
from loyalty.member import IdentityKind, IdentityRef, MemberRef
from loyalty.purchase import Channel
from loyalty.refund import refund_purchase
from loyalty.visibility import EVERYTHING
from tests.factories import a_member, a_partner, balance_of


async def buy(db, program, member_ref, amount, order="o-1", channel=Channel.ONLINE, **options):
    return await purchase.record_purchase(
        db, program, member_ref=member_ref, channel=channel, source=options.pop("source", "web"),
        external_order_id=order, amount=Decimal(amount),
        visible=options.pop("visible", EVERYTHING), **options,
    )  # fmt: skip


async def count(db, table) -> int:
    async with db.read() as conn:
        return await conn.scalar(select(func.count()).select_from(table))


async def test_base_earning_is_one_point_per_whole_currency_unit(db, program):
    buyer = await a_member(db)

    row, replayed = await buy(db, program, MemberRef(member_id=buyer.id), "100.99")

    assert (row.points_earned, replayed) == (100, False)
    assert (await balance_of(db, buyer.id)).available == 100


async def test_an_offline_purchase_finds_the_member_by_card_or_phone(db, program):
    buyer = await a_member(db, card="CARD-7")
    await member.link_identity(
        db, member_id=buyer.id, kind=IdentityKind.PHONE, value="+1 555-0100", visible=EVERYTHING
    )

    card = MemberRef(identity=IdentityRef(IdentityKind.LOYALTY_CARD, "CARD-7"))
    phone = MemberRef(identity=IdentityRef(IdentityKind.PHONE, "+15550100"))

    by_card, _ = await buy(db, program, card, "10.00", "pos-1", Channel.OFFLINE, source="s1")
    by_phone, _ = await buy(db, program, phone, "20.00", "pos-2", Channel.OFFLINE, source="s1")

    assert by_card.member_id == by_phone.member_id == buyer.id
    assert (await balance_of(db, buyer.id)).available == 30


async def test_a_replayed_purchase_returns_the_first_result_and_earns_once(db, program):
    buyer = await a_member(db)
    ref = MemberRef(member_id=buyer.id)

    first, _ = await buy(db, program, ref, "50.00")
    again, replayed = await buy(db, program, ref, "50.00")

    assert replayed is True
    assert again == first
    assert await count(db, transfers) == 1
    assert (await balance_of(db, buyer.id)).available == 50


async def test_a_replay_with_other_content_is_a_conflict_and_changes_nothing(db, program):
    buyer = await a_member(db)
    ref = MemberRef(member_id=buyer.id)
    await buy(db, program, ref, "50.00")

    with pytest.raises(IdempotencyConflict):
        await buy(db, program, ref, "60.00")

    assert await count(db, purchases) == 1
    assert (await balance_of(db, buyer.id)).available == 50


async def test_the_same_order_id_from_another_source_is_another_purchase(db, program):
    buyer = await a_member(db)
    ref = MemberRef(member_id=buyer.id)

    await buy(db, program, ref, "5.00", source="web")
    await buy(db, program, ref, "5.00", source="store-9", channel=Channel.OFFLINE)

    assert await count(db, purchases) == 2


async def test_a_partner_purchase_is_paid_for_by_the_partners_clearing_account(db, program):
    partner = await a_partner(db)
    buyer = await a_member(db)

    await buy(db, program, MemberRef(member_id=buyer.id), "30.00", channel=Channel.PARTNER,
              partner_id=partner.id)  # fmt: skip

    async with db.read() as conn:
        earn = (await conn.execute(select(transfers))).one()
    assert earn.debit_account_id == ledger.partner_clearing_account(partner.id)
    assert earn.partner_id == partner.id


@pytest.mark.parametrize(
    ("amount", "options"),
    [
        ("0", {}),
        ("-1.00", {}),
        ("1.001", {}),
        ("10.00", {"currency": "EUR"}),
        ("10.00", {"channel": Channel.PARTNER}),
    ],
)
async def test_invalid_purchases_are_refused_and_record_nothing(db, program, amount, options):
    buyer = await a_member(db)

    with pytest.raises(ValidationFailed):
        await buy(db, program, MemberRef(member_id=buyer.id), amount, **options)

    assert await count(db, purchases) == 0


async def test_a_purchase_for_an_unknown_card_is_not_found(db, program):
    unknown = MemberRef(identity=IdentityRef(IdentityKind.LOYALTY_CARD, "NOPE"))
    with pytest.raises(NotFound):
        await buy(db, program, unknown, "10.00")


async def a_member_who_bought(db, program, amount):
    buyer = await a_member(db)
    bought, _ = await buy(db, program, MemberRef(member_id=buyer.id), amount)
    return buyer, bought


async def refund(db, program, purchase_id, amount, key):
    return await refund_purchase(
        db,
        program,
        purchase_id=purchase_id,
        amount=Decimal(amount),
        idempotency_key=key,
        visible=EVERYTHING,
    )


async def test_partial_refunds_reverse_points_in_proportion_and_a_full_refund_reverses_all(
    db, program
):
    buyer = await a_member(db)
    bought, _ = await buy(db, program, MemberRef(member_id=buyer.id), "99.00")

    first = await refund(db, program, bought.id, "33.00", "r1")
    second = await refund(db, program, bought.id, "33.00", "r2")
    last = await refund(db, program, bought.id, "33.00", "r3")

    assert [first.points_reversed, second.points_reversed, last.points_reversed] == [33, 33, 33]
    assert (await balance_of(db, buyer.id)).available == 0


async def test_proportional_reversal_floors_and_the_last_refund_takes_the_rest(db, program):
    _buyer, bought = await a_member_who_bought(db, program, "10.00")

    first = await refund(db, program, bought.id, "3.33", "r1")
    rest = await refund(db, program, bought.id, "6.67", "r2")

    assert (first.points_reversed, rest.points_reversed) == (3, 7)


async def test_refunding_more_than_is_left_is_refused(db, program):
    buyer, bought = await a_member_who_bought(db, program, "10.00")
    await refund(db, program, bought.id, "8.00", "r1")

    with pytest.raises(ValidationFailed):
        await refund(db, program, bought.id, "2.01", "r2")

    assert (await balance_of(db, buyer.id)).available == 2


async def test_a_refund_replay_answers_the_same_and_a_changed_replay_conflicts(db, program):
    buyer, bought = await a_member_who_bought(db, program, "10.00")

    first = await refund(db, program, bought.id, "5.00", "r1")
    again = await refund(db, program, bought.id, "5.00", "r1")
    with pytest.raises(IdempotencyConflict):
        await refund(db, program, bought.id, "4.00", "r1")

    assert again == first
    assert (await balance_of(db, buyer.id)).available == 5


async def test_spent_points_are_reversed_only_down_to_zero_and_the_rest_is_recorded(db, program):
    buyer = await a_member(db)
    bought, _ = await buy(db, program, MemberRef(member_id=buyer.id), "100.00")
    await redemption.redeem_points(
        db, member_ref=MemberRef(member_id=buyer.id), points=80, channel=Channel.ONLINE,
        idempotency_key="spend", visible=EVERYTHING
    )  # fmt: skip

    refunded = await refund(db, program, bought.id, "100.00", "r1")

    assert (refunded.points_reversed, refunded.points_unrecovered) == (20, 80)
    assert (await balance_of(db, buyer.id)).available == 0


async def test_a_redemption_can_be_cancelled_once_and_gives_the_points_back(db, program):
    buyer = await a_member(db)
    await buy(db, program, MemberRef(member_id=buyer.id), "100.00")
    spent = await redemption.redeem_points(
        db, member_ref=MemberRef(member_id=buyer.id), points=60, channel=Channel.OFFLINE,
        idempotency_key="spend", reference="till-4", visible=EVERYTHING
    )  # fmt: skip

    cancelled = await redemption.cancel_redemption(db, redemption_id=spent.id, visible=EVERYTHING)
    again = await redemption.cancel_redemption(db, redemption_id=spent.id, visible=EVERYTHING)

    assert cancelled.status == again.status == "CANCELLED"
    assert again.cancel_transfer_id == cancelled.cancel_transfer_id is not None
    assert (await balance_of(db, buyer.id)).available == 100


async def test_a_partner_redemption_records_the_partner_for_settlement(db, program):
    partner = await a_partner(db)
    buyer = await a_member(db)
    await buy(db, program, MemberRef(member_id=buyer.id), "100.00")

    spent = await redemption.redeem_points(
        db, member_ref=MemberRef(member_id=buyer.id), points=40, channel=Channel.PARTNER,
        partner_id=partner.id, idempotency_key="spend", visible=EVERYTHING
    )  # fmt: skip

    async with db.read() as conn:
        spend = (
            await conn.execute(select(transfers).where(transfers.c.id == spent.transfer_id))
        ).one()
    assert spent.partner_id == partner.id
    assert (spend.credit_account_id, spend.partner_id) == (
        ledger.partner_clearing_account(partner.id),
        partner.id,
    )
