from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from infra.models import point_lots, transfers
from loyalty import expiry, ledger, pending, redemption
from loyalty.member import MemberRef
from loyalty.purchase import Channel
from loyalty.visibility import EVERYTHING
from tests.factories import a_member, a_purchase, balance_of


def at(year, month, day, hour=12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


async def lots_of(db, member_id):
    async with db.read() as conn:
        rows = await conn.execute(
            select(point_lots.c.earned_at, point_lots.c.remaining)
            .where(point_lots.c.member_id == member_id)
            .order_by(point_lots.c.id)
        )
        return [(row.earned_at.date(), row.remaining) for row in rows]


async def expired_total(db) -> int:
    async with db.read() as conn:
        rows = await conn.scalars(
            select(transfers.c.amount).where(transfers.c.credit_account_id == ledger.EXPIRED)
        )
        return sum(rows)


async def test_a_lot_earned_on_15_january_2026_expires_at_the_end_of_january_2028(db, program):
    """The expiry date is SQL (loyalty.expiry.lot_expires_on) on both backends."""
    holder = await a_member(db, now=at(2025, 12, 1))
    await a_purchase(db, program, holder.id, "100.00", at=at(2026, 1, 15))
    await a_purchase(db, program, holder.id, "50.00", at=at(2026, 12, 31, 23))
    async with db.read() as conn:
        found = await expiry.expiring_points(conn, program, [holder.id], now=at(2027, 1, 2),
                                             within_days=800)  # fmt: skip
    assert [day for day, _ in found[holder.id].by_date] == [date(2028, 1, 31), date(2028, 12, 31)]
    assert found[holder.id].points == sum(points for _, points in found[holder.id].by_date) > 0


async def test_spending_draws_the_oldest_lots_first(db, program):
    holder = await a_member(db, now=at(2025, 12, 1))
    await a_purchase(db, program, holder.id, "100.00", at=at(2026, 1, 15))
    await a_purchase(db, program, holder.id, "50.00", at=at(2026, 3, 1))

    await redemption.redeem_points(
        db, member_ref=MemberRef(member_id=holder.id), points=120, channel=Channel.ONLINE,
        idempotency_key="spend-1", now=at(2026, 4, 1), visible=EVERYTHING
    )  # fmt: skip

    assert await lots_of(db, holder.id) == [(date(2026, 1, 15), 0), (date(2026, 3, 1), 30)]


async def test_the_expiry_job_moves_what_is_left_of_expired_lots_once(db, program):
    # given 100 points earned in January 2026 (40 of them spent) and 50 in March 2026
    holder = await a_member(db, now=at(2025, 12, 1))
    await a_purchase(db, program, holder.id, "100.00", at=at(2026, 1, 15))
    await a_purchase(db, program, holder.id, "50.00", at=at(2026, 3, 1))
    await redemption.redeem_points(
        db, member_ref=MemberRef(member_id=holder.id), points=40, channel=Channel.ONLINE,
        idempotency_key="spend-1", now=at(2026, 4, 1), visible=EVERYTHING
    )  # fmt: skip

    # when the job runs on the last day of January 2028, nothing has expired yet
    early = await expiry.expire_points(db, program, at=datetime(2028, 1, 31, 23, 59, tzinfo=UTC))
    assert (early.members, early.points) == (0, 0)

    # when it runs on 1 February 2028, the 60 left of January's lot expire
    report = await expiry.expire_points(db, program, at=at(2028, 2, 1, 0))
    assert (report.points, await expired_total(db)) == (60, 60)
    assert (await balance_of(db, holder.id)).available == 50

    # and running it again changes nothing
    again = await expiry.expire_points(db, program, at=at(2028, 2, 1, 6))
    assert (again.members, again.points, await expired_total(db)) == (0, 0, 60)
    assert await lots_of(db, holder.id) == [(date(2026, 1, 15), 0), (date(2026, 3, 1), 50)]


async def test_expiring_points_within_days(db, program):
    holder = await a_member(db, now=at(2025, 12, 1))
    await a_purchase(db, program, holder.id, "100.00", at=at(2026, 1, 15))
    await a_purchase(db, program, holder.id, "50.00", at=at(2026, 3, 1))

    async with db.read() as conn:
        soon = await expiry.expiring_points(
            conn, program, [holder.id], now=at(2028, 1, 20), within_days=30
        )
        later = await expiry.expiring_points(
            conn, program, [holder.id], now=at(2028, 1, 20), within_days=90
        )

    assert soon[holder.id] == expiry.ExpiringPoints(100, [(date(2028, 1, 31), 100)])
    assert later[holder.id].points == 150
    assert later[holder.id].by_date == [(date(2028, 1, 31), 100), (date(2028, 3, 31), 50)]


async def test_a_voided_hold_puts_points_back_in_their_lots(db, program):
    holder = await a_member(db, now=at(2025, 12, 1))
    await a_purchase(db, program, holder.id, "100.00", at=at(2026, 1, 15))

    async with db.transaction() as conn:
        held = await ledger.transfer(
            conn, idempotency_key="hold", debit=ledger.member_account(holder.id),
            credit=ledger.REDEMPTION, amount=70, reason=ledger.TransferCode.ADJUSTMENT,
            pending=True,
        )  # fmt: skip
    assert await lots_of(db, holder.id) == [(date(2026, 1, 15), 30)]
    async with db.transaction() as conn:
        await pending.void_pending(conn, held.id, idempotency_key="hold:void")

    assert await lots_of(db, holder.id) == [(date(2026, 1, 15), 100)]
