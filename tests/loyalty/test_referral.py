from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loyalty import referral
from loyalty.errors import InvalidState, NotFound, ValidationFailed
from loyalty.refund import refund_purchase
from loyalty.visibility import EVERYTHING
from tests.factories import a_member, a_purchase, balance_of

DAY_0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def a_referrer_and_referee(db, program, at=DAY_0):
    referrer = await a_member(db, "Ada", card="CARD-ADA", now=at)
    referee = await a_member(db, "Grace", referral_code=referrer.referral_code, program=program,
                             now=at)  # fmt: skip
    return referrer, referee


async def test_enrolling_with_a_code_gives_the_referrer_500_points_once(db, program):
    referrer, referee = await a_referrer_and_referee(db, program)

    assert referee.referred_by == referrer.id
    assert (await balance_of(db, referrer.id)).available == 500
    assert referee.referral_code and referee.referral_code != referrer.referral_code


async def test_a_referees_200_purchase_earns_the_referrer_600_points(db, program):
    referrer, referee = await a_referrer_and_referee(db, program)

    row = await a_purchase(db, program, referee.id, "200.00", at=DAY_0 + timedelta(days=10))

    # 3 % of 200.00 = 6.00, at 0.01 a point
    assert (row.referrer_id, row.referral_points) == (referrer.id, 600)
    assert (await balance_of(db, referrer.id)).available == 500 + 600
    assert (await balance_of(db, referee.id)).available == 200


async def test_the_referral_share_ends_after_365_days(db, program):
    referrer, referee = await a_referrer_and_referee(db, program)

    row = await a_purchase(db, program, referee.id, "200.00", at=DAY_0 + timedelta(days=366))

    assert (row.referrer_id, row.referral_points) == (None, 0)
    assert (await balance_of(db, referrer.id)).available == 500


async def test_a_refund_takes_back_the_referrers_share(db, program):
    referrer, referee = await a_referrer_and_referee(db, program)
    row = await a_purchase(db, program, referee.id, "200.00", at=DAY_0 + timedelta(days=1))

    refund = await refund_purchase(
        db,
        program,
        purchase_id=row.id,
        amount=row.amount / 4,
        idempotency_key="r-1",
        visible=EVERYTHING,
    )

    assert (refund.points_reversed, refund.referral_points_reversed) == (50, 150)
    assert (await balance_of(db, referrer.id)).available == 500 + 450


async def test_enrolling_with_an_identity_of_the_referrer_is_self_referral(db, program):
    referrer = await a_member(db, "Ada", card="CARD-ADA")

    with pytest.raises(ValidationFailed) as refused:
        await a_member(db, "Ada again", card="CARD-ADA", referral_code=referrer.referral_code)

    assert refused.value.extensions["reason"] == "SELF_REFERRAL"
    assert (await balance_of(db, referrer.id)).available == 0


async def test_claiming_a_code_rejects_self_referral_and_cycles(db, program):
    first = await a_member(db, "First")
    second = await a_member(db, "Second", referral_code=first.referral_code, program=program)

    with pytest.raises(ValidationFailed) as own_code:
        await referral.claim_referral(
            db, program, member_id=first.id, code=first.referral_code, visible=EVERYTHING
        )
    # first -> second would close the loop second -> first
    with pytest.raises(ValidationFailed) as cycle:
        await referral.claim_referral(
            db, program, member_id=first.id, code=second.referral_code, visible=EVERYTHING
        )

    assert own_code.value.extensions["reason"] == "SELF_REFERRAL"
    assert cycle.value.extensions["reason"] == "REFERRAL_CYCLE"
    # the longer loop first -> third -> second -> first is a cycle too
    third = await a_member(db, "Third", referral_code=second.referral_code, program=program)
    with pytest.raises(ValidationFailed):
        await referral.claim_referral(
            db, program, member_id=first.id, code=third.referral_code, visible=EVERYTHING
        )
    assert (await balance_of(db, second.id)).available == 500


async def test_a_code_is_claimed_within_30_days_and_only_once(db, program):
    referrer = await a_member(db, "Ada")
    other = await a_member(db, "Alan")
    late = await a_member(db, "Late", now=datetime.now(UTC) - timedelta(days=31))
    newcomer = await a_member(db, "New")

    with pytest.raises(InvalidState):
        await referral.claim_referral(
            db, program, member_id=late.id, code=referrer.referral_code, visible=EVERYTHING
        )
    claimed = await referral.claim_referral(
        db, program, member_id=newcomer.id, code=referrer.referral_code.lower(), visible=EVERYTHING
    )
    again = await referral.claim_referral(
        db, program, member_id=newcomer.id, code=referrer.referral_code, visible=EVERYTHING
    )
    with pytest.raises(InvalidState):
        await referral.claim_referral(
            db, program, member_id=newcomer.id, code=other.referral_code, visible=EVERYTHING
        )
    with pytest.raises(NotFound):
        await referral.claim_referral(
            db, program, member_id=newcomer.id, code="NOSUCHCODE", visible=EVERYTHING
        )

    assert claimed.referred_by == again.referred_by == referrer.id
    assert (await balance_of(db, referrer.id)).available == 500


async def test_a_share_left_pending_by_a_failure_is_settled_once_by_the_job(
    db, program, monkeypatch
):
    referrer, referee = await a_referrer_and_referee(db, program)

    async def unreachable(*_args, **_kwargs):
        raise ConnectionError("the database went away after the purchase committed")

    # when the share's own transaction fails after the purchase committed
    with monkeypatch.context() as patched:
        patched.setattr(referral, "settle_shares", unreachable)
        row = await a_purchase(db, program, referee.id, "200.00", at=DAY_0 + timedelta(days=1))

    # then the purchase stands, the share waits, and the job pays it exactly once
    assert row.referral_points == 600
    assert (await balance_of(db, referrer.id)).available == 500
    assert await referral.settle_shares(db, program) == 1
    assert await referral.settle_shares(db, program) == 0
    assert (await balance_of(db, referrer.id)).available == 500 + 600


async def test_a_refund_before_the_share_was_paid_pays_and_takes_back_its_part(
    db, program, monkeypatch
):
    referrer, referee = await a_referrer_and_referee(db, program)
    with monkeypatch.context() as patched:
        patched.setattr(referral, "settle_after", _not_now)
        row = await a_purchase(db, program, referee.id, "200.00", at=DAY_0 + timedelta(days=1))
        refund = await refund_purchase(
            db,
            program,
            purchase_id=row.id,
            amount=row.amount / 2,
            idempotency_key="r-half",
            visible=EVERYTHING,
        )
    assert (await balance_of(db, referrer.id)).available == 500

    assert await referral.settle_shares(db, program) == 1

    assert refund.referral_points_reversed == 300
    assert (await balance_of(db, referrer.id)).available == 500 + 600 - 300


async def _not_now(*_args, **_kwargs) -> None:
    return None
