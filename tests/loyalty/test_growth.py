"""The rolling growth value read from monthly buckets equals the sum over the events."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, insert

from infra.models import interactions
from loyalty import growth
from loyalty.program import Program
from tests.factories import a_member, a_purchase

ORIGIN = datetime(2025, 1, 31, 23, 0, tzinfo=UTC)
_keys = itertools.count()

# (member 0/1, minutes after ORIGIN, growth)
events = st.lists(
    st.tuples(st.integers(0, 1), st.integers(0, 60 * 24 * 900), st.integers(0, 500)),
    max_size=25,
)


def brute_force(history, member: int, at: datetime) -> int:
    start = at - relativedelta(months=12)
    return sum(g for owner, when, g in history if owner == member and start < when <= at)


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=events, probes=st.lists(st.integers(-60 * 24 * 40, 60 * 24 * 960), min_size=1,
                                       max_size=6))  # fmt: skip
# An event exactly at the window's start (excluded) and one exactly at `at` (included), in
# the same months as others on the far side of each edge.
@example(history=[(0, 0, 7), (0, 60, 11), (0, 60 * 24 * 366, 13), (0, 60 * 24 * 366 + 5, 17)],
         probes=[60 * 24 * 366 + 60 * 24 * 0])  # fmt: skip
async def test_the_buckets_give_the_rolling_sum_at_any_moment(db, history, probes):
    program = Program()
    owners = [(await a_member(db)).id, (await a_member(db)).id]
    timed = [(owner, ORIGIN + timedelta(minutes=minutes), g) for owner, minutes, g in history]
    async with db.transaction() as conn:
        for owner, when, g in timed:
            await _interaction(conn, owners[owner], when, g)
    async with db.read() as conn:
        assert await growth.verify(conn) == []
        # the window's start falls on an event, as the explicit example makes it
        probes_at = [ORIGIN + timedelta(minutes=p) for p in probes]
        probes_at += [when + relativedelta(months=12) for _, when, _ in timed[:2]]
        for at in probes_at:
            values = await growth.values(conn, program, owners, at)
            for index, owner in enumerate(owners):
                expected = brute_force(timed, index, at)
                assert values[owner] == expected, (at, index)
                bounds = await growth.window(conn, program, owner, at)
                assert bounds.lower <= expected <= bounds.upper
                if bounds.exact:
                    assert bounds.lower == expected


async def test_a_purchase_reads_the_same_statements_whatever_the_members_history(db, program):
    # given a member with two years of monthly interactions, and a new member
    now = datetime.now(UTC)
    veteran, newcomer = await a_member(db), await a_member(db)
    async with db.transaction() as conn:
        for months_ago in range(24, 0, -1):
            await _interaction(conn, veteran.id, now - relativedelta(months=months_ago), 40)

    counts = []
    for buyer in (veteran, newcomer):
        seen: list[str] = []

        def on_statement(_c, _cursor, statement, *_rest, seen=seen) -> None:
            seen.append(" ".join(statement.split()))

        event.listen(db.engine.sync_engine, "before_cursor_execute", on_statement)
        try:
            await a_purchase(db, program, buyer.id, "10.00")
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", on_statement)
        # then the growth check reads the buckets, not the member's history
        # (on SQLite an INSERT draws the row's id from its table: not a read of the history)
        reads = [s for s in seen if not s.startswith("INSERT")]
        assert not [s for s in reads if "FROM purchases" in s or "FROM interactions" in s], seen
        counts.append(len(seen))
    assert counts[0] == counts[1]


async def _interaction(conn, member_id: int, when: datetime, value: int) -> None:
    await conn.execute(insert(interactions).values(
        member_id=member_id, kind="REVIEW", idempotency_key=f"g-{next(_keys)}",
        growth_value=value, occurred_at=when, request_hash="-",
    ))  # fmt: skip
    await growth.add(conn, member_id=member_id, at=when, growth=value)
