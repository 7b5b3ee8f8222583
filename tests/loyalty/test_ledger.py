from __future__ import annotations

import asyncio

import pytest

from infra.database import Database
from loyalty import books, ledger, pending, redemption
from loyalty.errors import IdempotencyConflict, InsufficientPoints, InvalidState, ValidationFailed
from loyalty.member import MemberRef
from loyalty.purchase import Channel
from loyalty.visibility import EVERYTHING
from tests.factories import a_member, a_member_with_points, a_purchase, balance_of, move


async def a_member_with_30_of_100_points_held(db: Database):
    holder = await a_member_with_points(db, 100)
    held = await move(db, "hold", ledger.member_account(holder.id), ledger.REDEMPTION, 30,
                      pending=True)  # fmt: skip
    return holder, held


async def test_a_transfer_moves_points_between_member_accounts(db):
    giver = await a_member_with_points(db, 100)
    taker = await a_member(db)

    await move(db, "t1", ledger.member_account(giver.id), ledger.member_account(taker.id), 40)

    assert (await balance_of(db, giver.id)).available == 60
    assert (await balance_of(db, taker.id)).available == 40


async def test_a_debit_beyond_the_available_balance_is_refused_and_changes_nothing(db):
    giver = await a_member_with_points(db, 10)
    taker = await a_member(db)

    with pytest.raises(InsufficientPoints) as refused:
        await move(db, "t1", ledger.member_account(giver.id), ledger.member_account(taker.id), 11)

    assert refused.value.extensions["code"] == "INSUFFICIENT_POINTS"
    assert (await balance_of(db, giver.id)).available == 10
    assert (await balance_of(db, taker.id)).posted == 0


async def test_the_same_key_and_input_gives_one_transfer_and_the_same_answer(db):
    giver = await a_member_with_points(db, 100)
    debit, credit = ledger.member_account(giver.id), ledger.ISSUANCE

    first = await move(db, "same-key", debit, credit, 25)
    second = await move(db, "same-key", debit, credit, 25)

    assert second == first
    assert (await balance_of(db, giver.id)).available == 75


async def test_the_same_key_with_other_input_is_a_conflict_and_changes_nothing(db):
    giver = await a_member_with_points(db, 100)
    debit, credit = ledger.member_account(giver.id), ledger.ISSUANCE
    await move(db, "same-key", debit, credit, 25)

    with pytest.raises(IdempotencyConflict) as conflict:
        await move(db, "same-key", debit, credit, 26)

    assert conflict.value.extensions["code"] == "IDEMPOTENCY_CONFLICT"
    assert (await balance_of(db, giver.id)).available == 75


async def test_a_pending_transfer_holds_points_until_it_is_posted(db):
    holder = await a_member_with_points(db, 100)
    account = ledger.member_account(holder.id)

    held = await move(db, "hold", account, ledger.REDEMPTION, 30, pending=True)
    during = await balance_of(db, holder.id)
    async with db.transaction() as conn:
        await pending.post_pending(conn, held.id, idempotency_key="hold:post")
    after = await balance_of(db, holder.id)

    assert (during.posted, during.held, during.available) == (100, 30, 70)
    assert (after.posted, after.held, after.available) == (70, 0, 70)


async def test_a_voided_pending_transfer_gives_the_points_back(db):
    holder, held = await a_member_with_30_of_100_points_held(db)

    async with db.transaction() as conn:
        await pending.void_pending(conn, held.id, idempotency_key="hold:void")

    balance = await balance_of(db, holder.id)
    assert (balance.posted, balance.held, balance.available) == (100, 0, 100)


async def test_a_pending_transfer_is_posted_or_voided_never_both(db):
    holder, held = await a_member_with_30_of_100_points_held(db)
    async with db.transaction() as conn:
        posted = await pending.post_pending(conn, held.id, idempotency_key="hold:post")

    async with db.transaction() as conn:
        replay = await pending.post_pending(conn, held.id, idempotency_key="hold:post")
    with pytest.raises(InvalidState):
        async with db.transaction() as conn:
            await pending.void_pending(conn, held.id, idempotency_key="hold:void")

    assert replay == posted
    assert (await balance_of(db, holder.id)).available == 70


async def test_pending_debits_count_against_the_available_balance(db):
    holder = await a_member_with_points(db, 100)
    account = ledger.member_account(holder.id)
    await move(db, "hold", account, ledger.REDEMPTION, 80, pending=True)

    with pytest.raises(InsufficientPoints):
        await move(db, "spend", account, ledger.REDEMPTION, 21)


@pytest.mark.parametrize("amount", [0, -5])
async def test_a_transfer_moves_a_positive_number_of_points(db, amount):
    holder = await a_member_with_points(db, 10)
    with pytest.raises(ValidationFailed):
        await move(db, "bad", ledger.member_account(holder.id), ledger.ISSUANCE, amount)


async def test_concurrent_redemptions_never_overspend_a_balance(db):
    # given 1,000 points and 100 concurrent redemptions of 30 over many connections
    spender = await a_member_with_points(db, 1000)

    async def redeem(number: int):
        try:
            return await redemption.redeem_points(
                db, member_ref=MemberRef(member_id=spender.id), points=30,
                channel=Channel.ONLINE, idempotency_key=f"concurrent-{number}", visible=EVERYTHING
            )  # fmt: skip
        except InsufficientPoints as refused:
            return refused

    results = await asyncio.gather(*(redeem(n) for n in range(100)))

    successes = [r for r in results if not isinstance(r, InsufficientPoints)]
    refusals = [r for r in results if isinstance(r, InsufficientPoints)]
    assert len(successes) == 33
    assert len(refusals) == 67
    assert all(r.extensions["code"] == "INSUFFICIENT_POINTS" for r in refusals)
    assert (await balance_of(db, spender.id)).available == 10
    if db.dialect == "postgresql":  # the redemptions raced on ten connections at least
        assert db.engine.pool.size() >= 10


async def test_opposite_concurrent_transfers_do_not_deadlock(db):
    # given two members with 500 points each
    first = await a_member_with_points(db, 500)
    second = await a_member_with_points(db, 500)
    a, b = ledger.member_account(first.id), ledger.member_account(second.id)

    # when each sends the other 1 point 500 times, all at once
    async def send(debit: str, credit: str, number: int) -> None:
        await move(db, f"{debit}->{credit}:{number}", debit, credit, 1)

    await asyncio.gather(*(send(a, b, n) for n in range(500)), *(send(b, a, n) for n in range(500)))

    # then nothing deadlocked and both balances are where they started
    assert (await balance_of(db, first.id)).available == 500
    assert (await balance_of(db, second.id)).available == 500


async def test_verify_reports_a_stored_total_that_disagrees_with_the_transfers(db):
    holder = await a_member_with_points(db, 100)
    async with db.transaction() as conn:
        await conn.execute(
            ledger.accounts.update()
            .where(ledger.accounts.c.id == ledger.member_account(holder.id))
            .values(posted_credits=101)
        )
        problems = await books.verify(conn)
        # put it back so the fixture's own invariant check passes
        await conn.execute(
            ledger.accounts.update()
            .where(ledger.accounts.c.id == ledger.member_account(holder.id))
            .values(posted_credits=100)
        )

    assert problems == [
        f"member:{holder.id}: stored posted_credits 101 != transfers 100",
        f"member:{holder.id}: open lots hold 100, available is 101",
    ]


async def test_concurrent_spending_draws_each_lot_once_from_what_it_holds(db, program):
    # given a member with ten lots of 10 points
    spender = await a_member(db)
    for _ in range(10):
        await a_purchase(db, program, spender.id, "10.00")

    # when 30 redemptions of 3 points run at once (each waits for the account's lock, and must
    # draw from the lots as they are after the one before, not as they were when it started)
    async def spend(n: int) -> None:
        await redemption.redeem_points(
            db, member_ref=MemberRef(member_id=spender.id), points=3, channel=Channel.ONLINE,
            idempotency_key=f"spend-{n}", visible=EVERYTHING
        )  # fmt: skip

    await asyncio.gather(*(spend(n) for n in range(30)))

    # then 90 points were spent from the oldest lots, and the open lots hold the other 10
    # (the db fixture checks every lot against the balance, and no lot went below zero)
    assert (await balance_of(db, spender.id)).available == 10
