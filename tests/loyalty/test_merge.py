from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from infra.models import identities, members, purchases, transfers
from loyalty import interaction, ledger, merge, pending, refund
from loyalty.errors import InvalidState, ValidationFailed
from loyalty.interaction import InteractionKind
from loyalty.member import MemberRef
from loyalty.visibility import EVERYTHING
from tests.factories import a_member, a_purchase, balance_of, move
from tests.loyalty.test_expiry import lots_of
from tests.loyalty.test_tier import growth_of, tier_of

EARLY = datetime(2026, 1, 15, 12, tzinfo=UTC)


async def two_records_of_one_person(db, program):
    online = await a_member(db, "Ada (web)", card="CARD-1", now=EARLY - timedelta(days=30))
    in_store = await a_member(db, "Ada (store)", card="CARD-2", now=EARLY - timedelta(days=30))
    await a_purchase(db, program, online.id, "3000.00", at=EARLY)
    await a_purchase(db, program, in_store.id, "2500.00", at=EARLY + timedelta(days=20))
    await interaction.record_interaction(
        db, program, member_ref=MemberRef(member_id=in_store.id), kind=InteractionKind.REVIEW,
        idempotency_key="review-1", now=EARLY + timedelta(days=21), visible=EVERYTHING
    )  # fmt: skip
    return online, in_store


async def test_a_merge_moves_everything_to_the_survivor_in_one_ledger_transfer(db, program):
    online, in_store = await two_records_of_one_person(db, program)
    now = EARLY + timedelta(days=30)

    survivor = await merge.merge_members(
        db, program, survivor_id=online.id, merged_id=in_store.id, now=now
    )

    # identities, purchases and balance moved; lots kept their dates
    async with db.read() as conn:
        cards = set(
            await conn.scalars(
                select(identities.c.value).where(identities.c.member_id == online.id)
            )
        )
        owners = set(await conn.scalars(select(purchases.c.member_id)))
        tombstone = (await conn.execute(select(members).where(members.c.id == in_store.id))).one()
        moved = (await conn.execute(select(transfers).where(transfers.c.reason == "MERGE"))).one()
    assert cards == {"CARD-1", "CARD-2"}
    assert owners == {online.id}
    assert (await balance_of(db, online.id)).available == 5500
    assert (await balance_of(db, in_store.id)).posted == 0
    assert await lots_of(db, online.id) == [(date(2026, 1, 15), 3000), (date(2026, 2, 4), 2500)]
    # the merged record is a tombstone, and the ledger shows the move
    assert (tombstone.status, tombstone.merged_into) == ("MERGED", online.id)
    assert (moved.debit_account_id, moved.credit_account_id, moved.amount) == (
        ledger.member_account(in_store.id), ledger.member_account(online.id), 2500,
    )  # fmt: skip
    # growth value moved too: 3000 + 2500 + 2 reaches GOLD
    assert await growth_of(db, program, online.id, now) == 5502
    assert survivor.tier == "GOLD"
    assert await tier_of(db, online.id) == "GOLD"


async def test_merging_again_answers_the_same_and_the_tombstone_is_inert(db, program):
    online, in_store = await two_records_of_one_person(db, program)

    first = await merge.merge_members(db, program, survivor_id=online.id, merged_id=in_store.id)
    again = await merge.merge_members(db, program, survivor_id=online.id, merged_id=in_store.id)

    assert again.id == first.id
    with pytest.raises(InvalidState):
        await a_purchase(db, program, in_store.id, "10.00")
    with pytest.raises(InvalidState):
        await merge.merge_members(db, program, survivor_id=in_store.id, merged_id=online.id)
    with pytest.raises(ValidationFailed):
        await merge.merge_members(db, program, survivor_id=online.id, merged_id=online.id)


async def test_a_refund_after_a_merge_takes_points_from_the_survivor(db, program):
    online, in_store = await two_records_of_one_person(db, program)
    await merge.merge_members(db, program, survivor_id=online.id, merged_id=in_store.id)
    async with db.read() as conn:
        store_purchase = (
            await conn.execute(select(purchases).where(purchases.c.amount == 2500))
        ).one()

    await refund.refund_purchase(
        db, program, purchase_id=store_purchase.id, amount=store_purchase.amount,
        idempotency_key="refund-1", visible=EVERYTHING
    )  # fmt: skip

    assert (await balance_of(db, online.id)).available == 3000


async def test_a_member_with_held_points_cannot_be_merged(db, program):
    online, in_store = await two_records_of_one_person(db, program)
    await move(db, "hold", ledger.member_account(in_store.id), ledger.REDEMPTION, 10, pending=True)

    with pytest.raises(InvalidState):
        await merge.merge_members(db, program, survivor_id=online.id, merged_id=in_store.id)

    async with db.transaction() as conn:
        held = (await conn.execute(select(transfers).where(transfers.c.phase == "PENDING"))).one()
        await pending.void_pending(conn, held.id, idempotency_key="hold:void")


async def test_the_survivor_keeps_the_higher_tier_even_when_its_growth_has_lapsed(db, program):
    # given a record that became DIAMOND two years ago and a SILVER record of the same person
    old = await a_member(db, "Ada (old)", now=EARLY - timedelta(days=800))
    await a_purchase(db, program, old.id, "20000.00", at=EARLY - timedelta(days=700))
    new = await a_member(db, "Ada (new)", now=EARLY)

    survivor = await merge.merge_members(db, program, survivor_id=new.id, merged_id=old.id)

    assert survivor.tier == "DIAMOND"
