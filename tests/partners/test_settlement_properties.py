"""Properties of statements over random ledgers: each line's transfers add up to its quantity,
recomputing gives the same statement, events outside the period never count, and a closed
statement never changes while late events show up as the next month's adjustments."""

from __future__ import annotations

import contextlib
import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty import redemption
from loyalty.errors import InsufficientPoints
from loyalty.member import MemberRef
from loyalty.purchase import Channel
from loyalty.visibility import EVERYTHING
from partners import settlement
from partners.settlement import Period
from tests.factories import a_member_with_an_account
from tests.partners.test_settlement import a_settling_partner, berlin, buy_at_partner, figures

NOVEMBER = Period(2026, 11)
_codes = itertools.count()
# (kind, hours from 1 November 00:00 in Berlin (negative: October), amount or points)
events = st.lists(
    st.tuples(st.sampled_from(["buy", "redeem"]), st.integers(-200, 900), st.integers(1, 400)),
    min_size=1,
    max_size=10,
)


async def replay(db, partner, holder, timeline):
    start = berlin(11, 1, 0)
    for kind, hours, size in timeline:
        at = start + timedelta(hours=hours)
        if kind == "buy":
            await buy_at_partner(db, partner, holder, f"{size}.00", at, f"o-{next(_codes)}")
        else:
            with contextlib.suppress(InsufficientPoints):  # not enough points yet: no event
                await redemption.redeem_points(
                    db,
                    member_ref=MemberRef(member_id=holder.id),
                    points=size,
                    channel=Channel.PARTNER,
                    partner_id=partner.id,
                    idempotency_key=f"r-{next(_codes)}",
                    now=at,
                    visible=EVERYTHING,
                )


def expected_issuance(timeline) -> int:
    start = berlin(11, 1, 0)
    end = berlin(12, 1, 0)
    return sum(
        size
        for kind, hours, size in timeline
        if kind == "buy" and start <= start + timedelta(hours=hours) < end
    )


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(timeline=events, late=events)
async def test_statement_properties_hold_for_random_ledgers(db, timeline, late):
    partner = await a_settling_partner(db, code=f"p-{next(_codes)}")
    holder = await a_member_with_an_account(db, partner, points=0)
    await replay(db, partner, holder, timeline)

    draft = await settlement.statement(db, partner.id, NOVEMBER)
    again = await settlement.statement(db, partner.id, NOVEMBER)
    drill = await settlement.line_transfers(db, partner.id, NOVEMBER)

    assert figures(again) == figures(draft) and again.inputs_hash == draft.inputs_hash
    for line in draft.lines:
        behind = [row.quantity for row in drill if row.kind == line.kind.value]
        if line.kind.value in ("ISSUANCE", "REDEMPTION"):
            assert sum(behind) == line.quantity
    issuance = sum(
        (line.quantity for line in draft.lines if line.kind.value == "ISSUANCE"), Decimal(0)
    )
    assert issuance == expected_issuance(timeline)  # outside November never counts

    closed = await settlement.close(db, partner.id, NOVEMBER, now=berlin(12, 2))
    await replay(db, partner, holder, late)
    after = await settlement.statement(db, partner.id, NOVEMBER)
    december = await settlement.statement(db, partner.id, Period(2026, 12))

    assert figures(after) == figures(closed) and after.inputs_hash == closed.inputs_hash
    adjusted = sum(
        (
            line.quantity
            for line in december.lines
            if line.kind.value == "ISSUANCE" and line.adjusts_period == "2026-11"
        ),
        Decimal(0),
    )
    assert adjusted == expected_issuance(late)
