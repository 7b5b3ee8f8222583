from __future__ import annotations

import asyncio
import contextlib
import json
import random
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from infra.models import (
    exchange_events,
    exchanges,
    members,
    point_lots,
    transfers,
    webhook_deliveries,
)
from loyalty import books, ledger, member
from loyalty.errors import (
    ExchangeLimit,
    InsufficientPoints,
    InvalidState,
    NotFound,
    QuoteExpired,
)
from loyalty.member import IdentityKind
from loyalty.program import Program
from loyalty.visibility import EVERYTHING
from partners import exchange, webhook
from partners.directory import ConnectorDirectory
from partners.registry import Direction, Terms
from partners.simulated import Fault
from tests.doubles import CRASH_POINTS, SimulatedCrash, crashing
from tests.factories import (
    CAPPED,
    NOW,
    TERMS,
    a_member_with_an_account,
    a_partner_with_terms,
    balance_of,
)


async def an_exchange(db, directory, holder, partner, points=1000, key="x-1", **options):
    quote = await exchange.quote_exchange(
        db,
        Program(),
        member_id=holder.id,
        partner_id=partner.id,
        points=points,
        now=NOW,
        visible=EVERYTHING,
    )
    return await exchange.request_exchange(
        db,
        directory,
        quote_id=quote.id,
        idempotency_key=key,
        now=NOW,
        visible=options.pop("visible", EVERYTHING),
        **options,
    )


async def test_an_outbound_exchange_posts_when_the_partner_confirms(db):
    partner = await a_partner_with_terms(db)
    holder = await a_member_with_an_account(db, partner)
    directory = ConnectorDirectory()

    done = await an_exchange(db, directory, holder, partner, points=1000)

    simulated = directory.simulated(partner.id)
    assert (done.state, done.units, done.rate) == ("POSTED", 400, Decimal("2.5"))
    assert done.partner_reference == f"sim-{done.id}"
    assert simulated.balances[f"SKY-{holder.id}"] == 400
    assert (await balance_of(db, holder.id)).available == 9000
    async with db.read() as conn:
        states = list(
            await conn.scalars(
                select(exchange_events.c.to_state)
                .where(exchange_events.c.exchange_id == done.id)
                .order_by(exchange_events.c.id)
            )
        )
    assert states == ["REQUESTED", "RESERVED", "POSTED"]


@pytest.mark.parametrize(
    ("fault", "state", "available"),
    [
        (Fault.REJECT, "VOIDED", 10_000),
        (Fault.TIMEOUT, "UNKNOWN", 9000),
        (Fault.SERVER_ERROR, "UNKNOWN", 9000),
        (Fault.LOST_ANSWER, "UNKNOWN", 9000),
        (Fault.SLOW, "POSTED", 9000),
    ],
)
async def test_partner_faults_end_in_the_right_state(db, fault, state, available):
    partner = await a_partner_with_terms(db)
    holder = await a_member_with_an_account(db, partner)
    directory = ConnectorDirectory()
    directory.simulated(partner.id).inject(fault)

    done = await an_exchange(db, directory, holder, partner)

    assert done.state == state
    # an UNKNOWN exchange keeps the points held: neither lost nor spendable twice
    assert (await balance_of(db, holder.id)).available == available
    report = await exchange.reconcile(db, directory, now=NOW + timedelta(minutes=1))
    async with db.read() as conn:
        final = await conn.scalar(select(exchanges.c.state).where(exchanges.c.id == done.id))
    applied = done.id in directory.simulated(partner.id).effects
    assert final == ("POSTED" if applied else "VOIDED")
    assert report.still_open == 0


async def test_limits_and_bad_quotes_change_nothing(db):
    partner = await a_partner_with_terms(db, terms=CAPPED)
    holder = await a_member_with_an_account(db, partner)
    other = await a_member_with_an_account(db, partner)
    directory = ConnectorDirectory()

    thirds = await a_partner_with_terms(db, "thirds", terms=replace(CAPPED, rate=Decimal("3")))
    await member.link_identity(
        db,
        member_id=holder.id,
        kind=IdentityKind.PARTNER_ACCOUNT,
        value="T-1",
        partner_id=thirds.id,
        visible=EVERYTHING,
    )

    reasons = []
    # below the minimum, above the maximum, off the step, not a whole number of units
    for points, at in ((50, partner), (6000, partner), (125, partner), (100, thirds)):
        with pytest.raises(ExchangeLimit) as refused:
            await exchange.quote_exchange(
                db,
                Program(),
                member_id=holder.id,
                partner_id=at.id,
                points=points,
                now=NOW,
                visible=EVERYTHING,
            )
        reasons.append(refused.value.extensions["reason"])
    await an_exchange(db, directory, holder, partner, points=1000, key="first")
    with pytest.raises(ExchangeLimit) as capped:
        await an_exchange(db, directory, holder, partner, points=1000, key="second")
    quote = await exchange.quote_exchange(
        db,
        Program(),
        member_id=holder.id,
        partner_id=partner.id,
        points=500,
        now=NOW,
        visible=EVERYTHING,
    )
    with pytest.raises(QuoteExpired):
        await exchange.request_exchange(
            db,
            directory,
            quote_id=quote.id,
            idempotency_key="late",
            now=NOW + timedelta(seconds=61),
            visible=EVERYTHING,
        )
    with pytest.raises(NotFound):
        # a caller who may act on `other` only cannot carry out the holder's quote
        await exchange.request_exchange(
            db, directory, quote_id=quote.id, idempotency_key="foreign", now=NOW,
            visible=replace(EVERYTHING, members=members.c.id == other.id),
        )  # fmt: skip

    assert reasons == ["RANGE", "RANGE", "STEP", "RATE"]
    assert capped.value.extensions["reason"] == "DAILY_CAP"
    assert (await balance_of(db, holder.id)).available == 9000
    assert (await balance_of(db, other.id)).available == 10_000
    async with db.read() as conn:
        assert len(list(await conn.execute(select(exchanges.c.id)))) == 1


async def test_a_replayed_request_answers_the_same_exchange_and_quotes_are_used_once(db):
    partner = await a_partner_with_terms(db)
    holder = await a_member_with_an_account(db, partner)
    directory = ConnectorDirectory()
    quote = await exchange.quote_exchange(
        db,
        Program(),
        member_id=holder.id,
        partner_id=partner.id,
        points=1000,
        now=NOW,
        visible=EVERYTHING,
    )

    async def request(key):
        return await exchange.request_exchange(
            db, directory, quote_id=quote.id, idempotency_key=key, now=NOW, visible=EVERYTHING
        )

    first = await request("k1")
    again = await request("k1")
    with pytest.raises(InvalidState):
        await request("k2")

    assert again.id == first.id and again.state == "POSTED"
    assert directory.simulated(partner.id).effects == [first.id]


async def test_without_enough_points_nothing_is_reserved(db):
    partner = await a_partner_with_terms(db)
    holder = await a_member_with_an_account(db, partner, points=500)

    with pytest.raises(InsufficientPoints):
        await an_exchange(db, ConnectorDirectory(), holder, partner, points=1000)

    async with db.read() as conn:
        assert list(await conn.execute(select(exchanges.c.id))) == []


async def test_an_inbound_credit_is_once_per_partner_reference(db):
    partner = await a_partner_with_terms(db, direction=Direction.INBOUND)
    holder = await a_member_with_an_account(db, partner, points=0)

    first = await exchange.credit_inbound(
        db,
        partner_id=partner.id,
        member_id=holder.id,
        units=400,
        reference="SKY-TX-1",
        now=NOW,
        visible=EVERYTHING,
    )
    again = await exchange.credit_inbound(
        db,
        partner_id=partner.id,
        member_id=holder.id,
        units=400,
        reference="SKY-TX-1",
        now=NOW,
        visible=EVERYTHING,
    )

    assert (first.state, first.points) == ("POSTED", 1000)
    assert again.id == first.id
    assert (await balance_of(db, holder.id)).available == 1000


@pytest.mark.slow
async def test_200_crash_scenarios_end_posted_or_voided_exactly_once(db):
    """The flow is interrupted after the reserve, after the partner call, or after the post,
    over random partner faults; reconciliation then settles every exchange."""
    rng = random.Random(20261129)
    partner = await a_partner_with_terms(
        db,
        terms=Terms(
            rate=Decimal("2.5"),
            min_points=100,
            max_points=5000,
            step_points=50,
            daily_cap_points=1_000_000,
            fee_points=5,
        ),
    )
    directory = ConnectorDirectory()
    simulated = directory.simulated(partner.id)
    faults = [None, *Fault]
    crash_points = [None, *CRASH_POINTS]
    scenarios = []
    for number in range(200):
        holder = await a_member_with_an_account(db, partner, points=6000)
        points = rng.choice(range(100, 5001, 50))
        fault, crash = rng.choice(faults), rng.choice(crash_points)
        if fault is not None:
            simulated.inject(fault)
        with contextlib.suppress(SimulatedCrash):
            await an_exchange(
                *crashing(db, directory, crash), holder, partner, points=points, key=f"s-{number}"
            )
        simulated.faults.clear()
        scenarios.append((holder, points))
        async with db.read() as conn:
            assert await books.verify(conn) == [], f"scenario {number}: {fault}, {crash}"

    report = await exchange.reconcile(
        db, directory, stale_after=timedelta(0), now=NOW + timedelta(minutes=10)
    )

    assert report.still_open == 0
    assert len(simulated.effects) == len(set(simulated.effects))  # one effect per id at most
    async with db.read() as conn:
        rows = {row.member_id: row for row in await conn.execute(select(exchanges))}
        assert await books.verify(conn) == []
        pending = await conn.scalar(
            select(transfers.c.id)
            .where(
                transfers.c.phase == "PENDING",
                transfers.c.id.not_in(
                    select(transfers.c.pending_id).where(transfers.c.pending_id.is_not(None))
                ),
            )
            .limit(1)
        )
    assert pending is None
    for holder, points in scenarios:
        row = rows[holder.id]
        balance = (await balance_of(db, holder.id)).available
        assert row.state in ("POSTED", "VOIDED")
        applied = row.id in simulated.effects
        assert applied == (row.state == "POSTED")
        if row.state == "POSTED":
            assert row.points == row.units * row.rate == points
            assert simulated.balances[row.external_account] == row.units
            assert balance == 6000 - points - 5
        else:
            assert balance == 6000


async def test_concurrent_requests_never_pass_the_daily_cap_together(db):
    partner = await a_partner_with_terms(db, terms=CAPPED)
    holder = await a_member_with_an_account(db, partner)
    directory = ConnectorDirectory()
    quotes = [
        await exchange.quote_exchange(
            db,
            Program(),
            member_id=holder.id,
            partner_id=partner.id,
            points=1000,
            now=NOW,
            visible=EVERYTHING,
        )
        for _ in range(4)
    ]

    async def request(number, quote):
        return await exchange.request_exchange(
            db,
            directory,
            quote_id=quote.id,
            idempotency_key=f"c-{number}",
            now=NOW,
            visible=EVERYTHING,
        )

    outcomes = await asyncio.gather(
        *(request(n, q) for n, q in enumerate(quotes)), return_exceptions=True
    )

    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, ExchangeLimit) for o in outcomes if isinstance(o, BaseException))
    assert (await balance_of(db, holder.id)).available == 9000


async def rows_written(db, done):
    """What an exchange wrote besides its row: events, webhook deliveries, transfers, lots."""
    async with db.read() as conn:
        events = await conn.execute(
            select(exchange_events)
            .where(exchange_events.c.exchange_id == done.id)
            .order_by(exchange_events.c.id)
        )
        queued = await conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.id))
        moved = await conn.execute(
            select(transfers)
            .where(transfers.c.reference == f"exchange:{done.id}")
            .order_by(transfers.c.id)
        )
        lots = await conn.scalars(
            select(point_lots.c.remaining).where(point_lots.c.member_id == done.member_id)
        )
        return (
            [(e.from_state, e.to_state, e.reason) for e in events],
            [(d.subscription_id, json.loads(d.payload)["state"], d.status) for d in queued],
            [(t.phase, t.amount, t.reason, t.idempotency_key, t.pending_id) for t in moved],
            sorted(lots),
        )


@pytest.mark.parametrize(("fault", "ends"), [(None, "POSTED"), (Fault.REJECT, "VOIDED")])
async def test_an_exchange_writes_its_events_webhooks_transfers_and_lots_exactly(db, fault, ends):
    """PostgreSQL writes an exchange's moves in one statement each (partners.exchange.moves,
    loyalty.posting.finish_debits), SQLite one step at a time: the same rows, in order."""
    partner = await a_partner_with_terms(db, terms=replace(TERMS, fee_points=50))
    first, _ = await webhook.subscribe(db, partner_id=partner.id, url="https://a.test/h", now=NOW)
    second, _ = await webhook.subscribe(db, partner_id=partner.id, url="https://b.test/h", now=NOW)
    holder = await a_member_with_an_account(db, partner, points=0)
    async with db.transaction() as conn:  # two lots, so the exchange draws from both
        for n, points in enumerate((600, 900)):
            await ledger.transfer(
                conn,
                idempotency_key=f"lot-{n}",
                debit=ledger.ISSUANCE,
                credit=ledger.member_account(holder.id),
                amount=points,
                reason=ledger.TransferCode.ADJUSTMENT,
                now=NOW + timedelta(days=n),
            )
    directory = ConnectorDirectory()
    if fault:
        directory.simulated(partner.id).inject(fault)

    done = await an_exchange(db, directory, holder, partner, points=1000)

    events, queued, moved, lots = await rows_written(db, done)
    assert done.state == ends
    opened = [(None, "REQUESTED", "requested"), ("REQUESTED", "RESERVED", "points held")]
    assert events[:2] == opened and events[2][:2] == ("RESERVED", ends)
    states = ("REQUESTED", "RESERVED", ends)
    assert queued == [(hook.id, state, "PENDING") for state in states for hook in (first, second)]
    finish = "POST" if ends == "POSTED" else "VOID"
    assert moved == [
        ("PENDING", 1000, "EXCHANGE_OUT", f"exchange:{done.id}:reserve", None),
        ("PENDING", 50, "EXCHANGE_FEE", f"exchange:{done.id}:fee", None),
        (finish, 1000, "EXCHANGE_OUT", f"transfer:{done.transfer_id}:{finish.lower()}",
         done.transfer_id),
        (finish, 50, "EXCHANGE_FEE", f"transfer:{done.fee_transfer_id}:{finish.lower()}",
         done.fee_transfer_id),
    ]  # fmt: skip
    # the oldest lot went first; a VOID gives each lot back what was drawn from it
    assert lots == ([0, 450] if ends == "POSTED" else [600, 900])
    balance = await balance_of(db, holder.id)
    assert (balance.available, balance.held) == ((450, 0) if ends == "POSTED" else (1500, 0))
    async with db.read() as conn:
        assert await books.verify(conn) == []


async def test_an_exchange_settled_after_unknown_records_the_move_from_unknown(db):
    partner = await a_partner_with_terms(db)
    holder = await a_member_with_an_account(db, partner)
    directory = ConnectorDirectory()
    directory.simulated(partner.id).inject(Fault.LOST_ANSWER)
    done = await an_exchange(db, directory, holder, partner)

    await exchange.reconcile(db, directory, now=NOW + timedelta(minutes=1))

    events, _queued, moved, _lots = await rows_written(db, done)
    assert [event[:2] for event in events] == [
        (None, "REQUESTED"), ("REQUESTED", "RESERVED"), ("RESERVED", "UNKNOWN"),
        ("UNKNOWN", "POSTED"),
    ]  # fmt: skip
    assert [transfer[0] for transfer in moved] == ["PENDING", "POST"]
