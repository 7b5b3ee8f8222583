"""Erasing a member on request (docs/privacy.md, "Erasure"): no personal value of it is left in
any text column of any table, its identities are free for another member, and the books are as
they were: the ledger verifies, balances and the partner's statement are unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import String, Text, func, insert, select, type_coerce, update

from infra.models import exchanges, metadata, quotes, webhook_deliveries, webhook_subscriptions
from loyalty import books, erasure, member, purchase
from loyalty.errors import InvalidState
from loyalty.member import IdentityKind, MemberRef
from loyalty.program import Program
from loyalty.purchase import Channel
from loyalty.visibility import EVERYTHING
from partners import settlement
from partners.settlement import Period
from tests.auth.test_authorization_matrix import given_foreign_objects
from tests.conftest import bearer, error_codes, graphql, http_client
from tests.factories import a_member, a_partner, balance_of

NAME, EMAIL, PHONE = "Theodora Canary", "theodora.canary@example.com", "+442071838751"
CARD, ACCOUNT, BORN = "CARD-THEODORA", "ACME-THEODORA", date(1984, 2, 29)
PERSONAL = (NAME, EMAIL, PHONE, CARD, ACCOUNT, BORN.isoformat())


async def a_member_with_a_life(db, partner):
    """Theodora: identities of every kind, a birth date, a purchase at the partner, and a
    webhook payload that copied her e-mail."""
    theodora = await a_member(db, NAME, card=CARD)
    links = ((IdentityKind.EMAIL, EMAIL, None), (IdentityKind.PHONE, PHONE, None),
             (IdentityKind.PARTNER_ACCOUNT, ACCOUNT, partner.id))  # fmt: skip
    for kind, value, partner_id in links:
        await member.link_identity(db, member_id=theodora.id, kind=kind, value=value,
                                   partner_id=partner_id, visible=EVERYTHING)  # fmt: skip
    await member.set_birth_date(db, member_id=theodora.id, birth_date=BORN, visible=EVERYTHING)
    await purchase.record_purchase(
        db, Program(), member_ref=MemberRef(member_id=theodora.id), channel=Channel.PARTNER,
        partner_id=partner.id, source="till", external_order_id="t-1",
        amount=Decimal("120.00"), visible=EVERYTHING,
    )  # fmt: skip
    now = datetime.now(UTC)
    async with db.transaction() as conn:
        subscription = await conn.scalar(insert(webhook_subscriptions).values(
            url="https://crm.test/hook", secret="s", created_at=now,
        ).returning(webhook_subscriptions.c.id))  # fmt: skip
        await conn.execute(insert(webhook_deliveries).values(
            subscription_id=subscription, event="member.updated", status="DELIVERED",
            payload=f'{{"member_id": {theodora.id}, "email": "{EMAIL}"}}', next_attempt_at=now,
            created_at=now,
        ))  # fmt: skip
    return theodora


async def personal_values_left(db) -> list[str]:
    return await text_values_holding(db, PERSONAL)


async def text_values_holding(db, values) -> list[str]:
    """Every text column of every table searched for each of `values` (raw: as stored)."""
    found = []
    async with db.read() as conn:
        for table in metadata.sorted_tables:
            for column in table.c:
                if not isinstance(column.type, String | Text) and not isinstance(
                    getattr(column.type, "impl", None), String | Text
                ):
                    continue
                stored = type_coerce(column, Text())
                for value in values:
                    hits = await conn.scalar(select(func.count()).select_from(table)
                                             .where(stored.contains(value)))  # fmt: skip
                    if hits:
                        found.append(f"{table.name}.{column.name}: {value}")
    return found


async def test_erasure_leaves_no_personal_value_and_keeps_the_books(db):
    acme = await a_partner(db, "acme-erase")
    theodora = await a_member_with_a_life(db, acme)
    today = datetime.now(UTC)
    month = Period(today.year, today.month)
    before = (await balance_of(db, theodora.id), await settlement.statement(db, acme.id, month))
    assert set(await personal_values_left(db)) >= {f"members.display_name: {NAME}"}

    erased = await erasure.erase_member(db, theodora.id)
    again = await erasure.erase_member(db, theodora.id)

    assert await personal_values_left(db) == []
    assert (erased.display_name, erased.status, erased.birth_date) == ("Erased member",
                                                                       "ERASED", None)  # fmt: skip
    assert again == erased  # erasing again changes nothing
    after = (await balance_of(db, theodora.id), await settlement.statement(db, acme.id, month))
    assert after[0] == before[0]
    assert [(x.kind, x.amount, x.transfer_count) for x in after[1].lines] == [
        (x.kind, x.amount, x.transfer_count) for x in before[1].lines]  # fmt: skip
    async with db.read() as conn:
        assert await books.verify(conn) == []
    # the identities are free: another member takes them; the erased one can do nothing more
    other = await a_member(db, "Someone else", card=CARD)
    await member.link_identity(db, member_id=other.id, kind=IdentityKind.EMAIL, value=EMAIL,
                               visible=EVERYTHING)  # fmt: skip
    with pytest.raises(InvalidState):
        await member.set_birth_date(db, member_id=theodora.id, birth_date=BORN,
                                    visible=EVERYTHING)  # fmt: skip


async def test_an_operator_erases_through_the_graph_and_the_members_tokens_stop(app, client, db):
    theodora = await a_member(db, NAME)
    as_theodora = http_client(app, await bearer(app, f"member:{theodora.id}"))
    assert "errors" not in await graphql(as_theodora, "{ me { displayName } }")

    erased = await graphql(client, 'mutation E($id: ID!) { eraseMember(memberId: $id) '
                           "{ displayName status } }", {"id": str(theodora.id)})  # fmt: skip
    refused_member = await graphql(as_theodora, "{ me { displayName } }")

    assert erased["data"]["eraseMember"] == {"displayName": "Erased member", "status": "ERASED"}
    assert error_codes(refused_member) == ["UNAUTHENTICATED"]


async def test_the_retention_job_chooses_members_dormant_longer_than_the_period(db, program):
    long_ago = datetime.now(UTC) - timedelta(days=800)
    dormant = await a_member(db, "Dormant", now=long_ago)
    active = await a_member(db, "Active", now=long_ago)
    await purchase.record_purchase(
        db, program, member_ref=MemberRef(member_id=active.id), channel=Channel.ONLINE,
        source="web", external_order_id="recent", amount=Decimal("10.00"), visible=EVERYTHING,
    )  # fmt: skip
    await a_member(db, "New")

    chosen = await erasure.dormant_members(db, dormant_for=timedelta(days=730))

    assert chosen == [dormant.id]


async def test_a_member_with_an_exchange_in_flight_waits_and_a_settled_one_is_blanked(db):
    ids = await given_foreign_objects(db)  # a member with an exchange and a quote at a partner
    member_id = int(ids["member"])
    async with db.transaction() as conn:
        await conn.execute(update(exchanges).where(exchanges.c.member_id == member_id)
                           .values(state="UNKNOWN"))  # fmt: skip
    with pytest.raises(InvalidState) as in_flight:
        await erasure.erase_member(db, member_id)
    async with db.transaction() as conn:  # reconciliation ends it
        await conn.execute(update(exchanges).where(exchanges.c.member_id == member_id)
                           .values(state="VOIDED"))  # fmt: skip

    await erasure.erase_member(db, member_id)

    assert in_flight.value.extensions["reason"] == "EXCHANGE_IN_FLIGHT"
    async with db.read() as conn:
        accounts = set(await conn.scalars(select(exchanges.c.external_account)
                                          .where(exchanges.c.member_id == member_id)))  # fmt: skip
        accounts |= set(await conn.scalars(select(quotes.c.external_account)
                                           .where(quotes.c.member_id == member_id)))  # fmt: skip
    assert accounts == {"[erased]"}
