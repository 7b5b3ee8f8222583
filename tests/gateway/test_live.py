"""Live updates (docs/live.md): subscriptions over SSE and graphql-transport-ws, each event
from the commit that made it, filtered by the policy for every subscriber (auth.live): a
member, two partners' clients and operators subscribed at once, with canary events that must
never reach the wrong one; a revoked token ends its subscription; a reconnect with the last
event id seen gets what it missed, once."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from auth import clients
from gateway.app import create_app
from loyalty import ledger
from partners import settlement
from partners.directory import ConnectorDirectory
from partners.settlement import Period
from tests.conftest import bearer
from tests.factories import a_member, a_member_with_an_account, a_partner_with_terms, move
from tests.gateway.live_clients import served, sse, subscribed, ws
from tests.partners.test_exchange import an_exchange

PARTNER_SCOPES = "members:read exchanges:read settlements:read"
LAST_MONTH = Period.parse("2026-10")


async def token(app, subject: str, scope: str = "", **options) -> str:
    return (await bearer(app, subject, scope, **options))["Authorization"].split(" ", 1)[1]


async def partner_token(app, db, code: str) -> tuple[str, str]:
    made = await clients.create_client(db, name=code, scopes=PARTNER_SCOPES.split(),
                                       partner_code=code)  # fmt: skip
    issued = await token(app, made.client_id, PARTNER_SCOPES, client_id=made.client_id)
    return issued, made.client_id


def earn(member_id: int, partner_id: int, key: str, points: int):
    return dict(key=key, debit=ledger.ISSUANCE, credit=ledger.member_account(member_id),
                amount=points, partner_id=partner_id)  # fmt: skip


def seen(updates: list[dict]) -> list[tuple]:
    return [(u["__typename"], u["memberId"], u["partnerId"]) for u in updates]


@pytest.fixture
def live_app(db, settings):
    return create_app(dataclasses.replace(settings, live_subscriptions_per_principal=3), db)


async def test_every_subscriber_gets_its_own_events_and_never_a_canary(live_app, db):
    app = live_app
    skyway, other = await a_partner_with_terms(db, "skyway-air"), await a_partner_with_terms(
        db, "other-shop")  # fmt: skip
    ada, bob = await a_member(db, "Ada"), await a_member(db, "Bob")
    sky_token, _ = await partner_token(app, db, "skyway-air")
    other_token, _ = await partner_token(app, db, "other-shop")
    operator = await token(app, "operator:tests", "admin")
    async with served(app) as address:
        subscribers = {
            "ada (ws)": await ws(address, await token(app, f"member:{ada.id}")),
            "bob (sse)": await sse(address, await token(app, f"member:{bob.id}")),
            "skyway (sse)": await sse(address, sky_token),
            "other (ws, header)": await ws(address, other_token, in_init=False),
            "operator, skyway's": await sse(address, operator, {"partner": str(skyway.id)}),
            "operator, Ada's points": await ws(address, operator,
                                               {"member": str(ada.id), "kinds": ["POINTS"]}),
        }  # fmt: skip
        await subscribed(app, len(subscribers))
        await move(db, **earn(ada.id, skyway.id, "ada-at-skyway", 120))
        await move(db, **earn(bob.id, other.id, "bob-at-other", 70))  # canary for Ada, skyway
        await settlement.close(db, other.id, LAST_MONTH)  # canary for skyway and the members
        await settlement.close(db, skyway.id, LAST_MONTH)
        expected = {
            "ada (ws)": [("PointsMoved", str(ada.id), str(skyway.id))],
            "bob (sse)": [("PointsMoved", str(bob.id), str(other.id))],
            "skyway (sse)": [("PointsMoved", str(ada.id), str(skyway.id)),
                             ("StatementClosed", None, str(skyway.id))],
            "other (ws, header)": [("PointsMoved", str(bob.id), str(other.id)),
                                   ("StatementClosed", None, str(other.id))],
            "operator, skyway's": [("PointsMoved", str(ada.id), str(skyway.id)),
                                   ("StatementClosed", None, str(skyway.id))],
            "operator, Ada's points": [("PointsMoved", str(ada.id), str(skyway.id))],
        }  # fmt: skip
        for name, subscriber in subscribers.items():
            await subscriber.until(len(expected[name]))
        await asyncio.sleep(0.5)  # anything more would have arrived by now
        for subscriber in subscribers.values():
            await subscriber.stop()

    for name, subscriber in subscribers.items():
        assert subscriber.errors == [], name
        assert seen(subscriber.updates) == expected[name], name
    points = subscribers["ada (ws)"].updates[0]
    assert (points["points"], points["balance"], points["reason"], points["phase"]) == (
        120, 120, "ADJUSTMENT", "SINGLE")  # fmt: skip
    closed = subscribers["skyway (sse)"].updates[1]
    assert (closed["period"], closed["payableByPartner"]) == ("2026-10", "0.00")
    assert subscribers["bob (sse)"].ids == [subscribers["bob (sse)"].updates[0]["eventId"]]


async def test_an_exchange_is_followed_by_its_member_and_partner_with_points_and_states(
    live_app, db
):
    app = live_app
    partner = await a_partner_with_terms(db)
    holder = await a_member_with_an_account(db, partner, points=5_000)
    sky_token, _ = await partner_token(app, db, "skyway-air")
    async with served(app) as address:
        member = await sse(address, await token(app, f"member:{holder.id}"))
        client = await ws(address, sky_token, {"kinds": ["EXCHANGE"]})
        await subscribed(app, 2)
        await an_exchange(db, ConnectorDirectory(), holder, partner, points=1000)
        states = [u["state"] for u in await client.until_one(lambda u: u["state"] == "POSTED")]
        mine = await member.until_one(lambda u: u.get("state") == "POSTED")
        await asyncio.sleep(0.3)  # nothing more
        await member.stop()
        await client.stop()

    assert states == ["REQUESTED", "RESERVED", "POSTED"]
    moved = [(u["phase"], u["points"], u["balance"]) for u in mine if u["__typename"] ==
             "PointsMoved"]  # fmt: skip
    assert moved == [("PENDING", -1000, 4000), ("POST", 0, 4000)]
    assert [u["state"] for u in mine if u["__typename"] == "ExchangeChanged"] == states
    assert all(u["partnerId"] == str(partner.id) for u in mine)


async def test_a_revoked_client_ends_its_subscription(live_app, db):
    app = live_app
    await a_partner_with_terms(db, "skyway-air")
    sky_token, client_id = await partner_token(app, db, "skyway-air")
    async with served(app) as address:
        subscriber = await sse(address, sky_token)
        await subscribed(app, 1)
        await clients.revoke_client(db, client_id)
        await subscriber.until_completed()
        assert app.state.live.fanout.open_count() == 0

    assert [e["extensions"]["code"] for e in subscriber.errors] == ["UNAUTHENTICATED"]


async def test_a_reconnect_with_the_last_event_id_gets_what_it_missed_once(live_app, db):
    app = live_app
    partner = await a_partner_with_terms(db, "skyway-air")
    ada = await a_member(db, "Ada")
    ada_token = await token(app, f"member:{ada.id}")
    async with served(app) as address:
        first = await sse(address, ada_token)
        await subscribed(app, 1)
        await move(db, **earn(ada.id, partner.id, "one", 10))
        [one] = await first.until(1)
        await first.stop()
        await move(db, **earn(ada.id, partner.id, "two", 20))  # while away
        await move(db, **earn(ada.id, partner.id, "three", 30))
        again = await sse(address, ada_token, last_event_id=first.ids[-1])
        await again.until(2)
        await subscribed(app, 1)
        await move(db, **earn(ada.id, partner.id, "four", 40))
        updates = await again.until(3)
        await again.stop()

    assert one["points"] == 10
    assert [(u["points"], u["balance"]) for u in updates] == [(20, 30), (30, 60), (40, 100)]
    assert again.ids == [u["eventId"] for u in updates]


async def test_refusals_have_codes_and_subscriptions_are_capped_per_principal(live_app, db):
    app = live_app
    await a_partner_with_terms(db, "skyway-air")
    ada, bob = await a_member(db, "Ada"), await a_member(db, "Bob")
    ada_token = await token(app, f"member:{ada.id}")
    sky_token, _ = await partner_token(app, db, "skyway-air")
    reader = await token(app, "operator:reader", "")  # an operator without admin
    async with served(app) as address:
        refused = {
            "anonymous": await sse(address, None),
            "another member": await sse(address, ada_token, {"member": str(bob.id)}),
            "a member's kind a partner may not follow": await sse(address, sky_token,
                                                                  {"kinds": ["COUPON"]}),
            "an operator without admin": await sse(address, reader),
            "a malformed last event id": await sse(address, ada_token, {"after": "x"}),
            "no kinds": await sse(address, ada_token, {"kinds": []}),
        }  # fmt: skip
        for subscriber in refused.values():
            await subscriber.until_completed()
        held = [await ws(address, ada_token) for _ in range(3)]
        await subscribed(app, 3)
        over = await ws(address, ada_token)
        await over.until_completed()
        for subscriber in held:
            await subscriber.stop()

    codes = {name: [e["extensions"]["code"] for e in s.errors] for name, s in refused.items()}
    assert codes == {
        "anonymous": ["UNAUTHENTICATED"],
        "another member": ["NOT_FOUND"],
        "a member's kind a partner may not follow": ["FORBIDDEN"],
        "an operator without admin": ["FORBIDDEN"],
        "a malformed last event id": ["VALIDATION"],
        "no kinds": ["VALIDATION"],
    }
    assert [e["extensions"]["code"] for e in over.errors] == ["TOO_MANY_SUBSCRIPTIONS"]
    assert all(s.updates == [] for s in [*refused.values(), *held, over])
