"""The HTTP connector against the simulated partner's ASGI app (no network): signed requests,
idempotent retries, the circuit breaker, and a whole exchange over HTTP."""

from __future__ import annotations

import random

import httpx
import pytest

from partners import exchange, registry
from partners.connector import CircuitBreaker, ConnectorError, Outcome
from partners.directory import ConnectorDirectory
from partners.http_connector import HttpConnector
from partners.registry import ConnectorKind
from partners.simulated import Fault, SimulatedPartner, simulated_app
from tests.factories import NOW, a_member_with_an_account, a_partner_with_terms
from tests.partners.test_exchange import an_exchange

SECRET = "shared-secret"


def connector_for(partner: SimulatedPartner, secret=SECRET, **options) -> HttpConnector:
    transport = httpx.ASGITransport(app=simulated_app(partner, SECRET))
    return HttpConnector(
        "http://partner.test", secret, transport=transport, backoff=0.001, **options
    )


async def test_a_signed_credit_applies_once_however_often_it_is_sent():
    partner = SimulatedPartner()
    connector = connector_for(partner)

    first = await connector.credit("ex-1", "ACC-1", 40)
    again = await connector.credit("ex-1", "ACC-1", 40)
    status = await connector.status("ex-1")
    balances = await connector.balances(["ACC-1", "ACC-2"])

    assert first.outcome == again.outcome == status.outcome == Outcome.APPLIED
    assert balances == {"ACC-1": 40, "ACC-2": 0}
    assert partner.effects == ["ex-1"]


async def test_a_wrong_signature_is_refused_before_anything_happens():
    partner = SimulatedPartner()

    with pytest.raises(ConnectorError) as refused:
        await connector_for(partner, secret="not-the-secret").credit("ex-1", "ACC-1", 40)

    assert refused.value.definite is True
    assert partner.effects == []


async def test_a_server_error_is_retried_and_the_circuit_opens_after_repeated_failures():
    partner = SimulatedPartner()
    partner.inject(Fault.SERVER_ERROR)
    connector = connector_for(partner, retries=2, breaker=CircuitBreaker(threshold=3))

    recovered = await connector.credit("ex-1", "ACC-1", 10)
    partner.inject(*[Fault.SERVER_ERROR] * 3)
    with pytest.raises(ConnectorError) as exhausted:
        await connector.credit("ex-2", "ACC-1", 10)
    with pytest.raises(ConnectorError) as open_circuit:
        await connector.credit("ex-3", "ACC-1", 10)

    assert recovered.outcome is Outcome.APPLIED
    assert exhausted.value.definite is False  # the partner might have acted
    assert open_circuit.value.definite is True  # nothing was sent
    assert partner.effects == ["ex-1"]


async def test_an_exchange_over_http_with_a_lost_answer_is_reconciled(db):
    simulated = SimulatedPartner()
    transport = httpx.ASGITransport(app=simulated_app(simulated, SECRET))
    directory = ConnectorDirectory(transport=transport)
    partner = await a_partner_with_terms(db)
    await registry.update_partner(
        db,
        partner_id=partner.id,
        connector_kind=ConnectorKind.HTTP,
        connector_url="http://partner.test",
        connector_secret=SECRET,
    )
    holder = await a_member_with_an_account(db, partner)
    simulated.inject(Fault.LOST_ANSWER)

    unknown = await an_exchange(db, directory, holder, partner, deadline=0.3)
    report = await exchange.reconcile(db, directory, now=NOW)

    assert unknown.state == "UNKNOWN"
    assert (report.posted, report.voided) == (1, 0)
    assert simulated.effects == [unknown.id]
    await directory.close()


async def test_a_partner_with_a_fault_rate_fails_that_share_of_calls_and_applies_each_id_once():
    # given a simulated partner (as `pointgate partners simulate --fault-rate 0.3` serves it)
    partner = SimulatedPartner(fault_rate=0.3, rng=random.Random(7), slow_seconds=0)

    # when 200 credits are each sent until one gets a definite answer
    failures = 0
    for n in range(200):
        while True:
            try:
                await partner.move(f"ex-{n}", "ACC-1", 1)
                break
            except ConnectorError:
                failures += 1

    # then faults met about 3 in 10 calls: 3 of the 5 kinds fail the call (timeout, 5xx, lost
    # answer), about 44 of 244 calls; and every id was applied at most once
    applied = [i for i, outcome in partner.applied.items() if outcome is Outcome.APPLIED]
    assert 20 <= failures <= 80
    assert len(partner.effects) == len(set(partner.effects)) == len(applied)
    assert partner.balances["ACC-1"] == len(applied) < 200  # some were refused (REJECT)
    assert SimulatedPartner()._next_fault() is None  # no rate: no fault of its own
