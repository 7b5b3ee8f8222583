from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from infra.database import Database
from infra.migrate import alembic_config, current_revision, upgrade
from infra.models import PROGRAM_ACCOUNTS, accounts, growth_buckets, members, metadata, point_lots
from loyalty import growth, ledger
from tests.conftest import BACKENDS, _drop_postgres_database, new_empty_database

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migrations_build_the_modelled_schema_on_an_empty_database(backend, tmp_path):
    db, name = await new_empty_database(backend, tmp_path)
    try:
        # given an empty database, when every migration is applied
        await upgrade(db)

        # then the schema matches the models exactly and the program accounts exist
        def differences(connection):
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, metadata)

        async with db.read() as conn:
            assert await conn.run_sync(differences) == []
            program_accounts = set(await conn.scalars(select(accounts.c.id)))
        assert program_accounts == set(PROGRAM_ACCOUNTS)
        assert await current_revision(db) == HEAD

        # and applying them again changes nothing
        await upgrade(db)
        assert await current_revision(db) == HEAD
    finally:
        await db.dispose()
        if name:
            await _drop_postgres_database(name)


async def test_session_database_is_at_head(database: Database):
    assert await current_revision(database) == HEAD


@pytest.mark.parametrize("backend", BACKENDS)
async def test_members_from_before_expiry_get_a_code_and_one_lot_for_their_balance(
    backend, tmp_path
):
    db, name = await new_empty_database(backend, tmp_path)
    try:
        # given a foundation-era database with a member who holds 120 points
        await upgrade(db, "0001")
        async with db.transaction() as conn:
            await conn.execute(
                text(
                    "INSERT INTO members (id, display_name, enrolled_at) "
                    "VALUES (1, 'Ada', '2025-01-01 00:00:00+00:00')"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO accounts (id, member_id, posted_credits)"
                    " VALUES ('member:1', 1, 120)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO transfers (idempotency_key, debit_account_id, credit_account_id,"
                    " amount, phase, reason, request_hash, created_at) VALUES ('k',"
                    " 'program:issuance', 'member:1', 120, 'SINGLE', 'EARN', 'h',"
                    " '2025-01-02 00:00:00+00:00')"
                )
            )

        # when the loyalty-rules migration runs
        await upgrade(db)

        # then the member has a referral code and its 120 points sit in one lot
        async with db.read() as conn:
            code = await conn.scalar(select(members.c.referral_code))
            lots = list(await conn.execute(select(point_lots.c.member_id, point_lots.c.remaining)))
            problems = await ledger.verify(conn)
        assert code and len(code) == 10
        assert [(row.member_id, row.remaining) for row in lots] == [(1, 120)]
        assert problems == []
    finally:
        await db.dispose()
        if name:
            await _drop_postgres_database(name)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_identities_get_one_spelling_and_collisions_are_reported_not_fatal(
    backend, tmp_path, caplog
):
    db, name = await new_empty_database(backend, tmp_path)
    try:
        # given identities written before spellings were normalised
        await upgrade(db, "0007")
        values = [(1, "PHONE", "+1 (555) 777-0001"), (2, "PHONE", "15557770002"),
                  (3, "PHONE", "+15557770003"), (4, "PHONE", "1 555 777 0003"),
                  (5, "PHONE", "call me"), (6, "EMAIL", "Ada@Example.COM"),
                  (7, "LOYALTY_CARD", "ab-123")]  # fmt: skip
        async with db.transaction() as conn:
            for number, kind, value in values:
                await conn.execute(text(
                    "INSERT INTO members (id, display_name, enrolled_at, referral_code) VALUES"
                    f" ({number}, 'M{number}', '2025-01-01 00:00:00+00:00', 'CODE{number}')"
                ))  # fmt: skip
                await conn.execute(
                    text("INSERT INTO identities (member_id, kind, value, linked_at) VALUES"
                         " (:m, :k, :v, '2025-01-01 00:00:00+00:00')"),
                    {"m": number, "k": kind, "v": value},
                )  # fmt: skip

        # when the spellings migration runs
        with caplog.at_level("WARNING", logger="pointgate.migrations"):
            await upgrade(db)

        # then each has its one spelling, but the second spelling of member 3's phone and the
        # value that is no phone stay as they were, and both are reported
        async with db.read() as conn:
            rows = dict(list(await conn.execute(text("SELECT member_id, value FROM identities"))))
        assert rows == {1: "+15557770001", 2: "+15557770002", 3: "+15557770003",
                        4: "1 555 777 0003", 5: "call me", 6: "ada@example.com",
                        7: "AB-123"}  # fmt: skip
        reported = " ".join(record.getMessage() for record in caplog.records)
        assert "another spelling of identity" in reported and "of member 3" in reported
        assert "'call me'" in reported
    finally:
        await db.dispose()
        if name:
            await _drop_postgres_database(name)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_growth_buckets_are_built_from_the_history_already_recorded(backend, tmp_path):
    db, name = await new_empty_database(backend, tmp_path)
    try:
        # given purchases (one partly refunded) and an interaction recorded before the buckets
        await upgrade(db, "0011")
        async with db.transaction() as conn:
            await conn.execute(text(
                "INSERT INTO members (id, display_name, enrolled_at, referral_code) VALUES"
                " (1, 'Ada', '2025-01-01 00:00:00+00:00', 'CODE1')"
            ))  # fmt: skip
            history = [(1, "2026-10-31 23:30:00+00:00", 100, 0),
                       (2, "2026-11-01 00:30:00+00:00", 50, 20),
                       (3, "2026-11-20 10:00:00+00:00", 7, 0)]  # fmt: skip
            for number, at, value, reversed_ in history:
                await conn.execute(text(
                    "INSERT INTO purchases (member_id, channel, source, external_order_id, amount,"
                    " currency, points_earned, growth_value, growth_reversed, purchased_at,"
                    " recorded_at, request_hash) VALUES (1, 'ONLINE', 'web', :order, 1, 'USD',"
                    f" 0, :growth, :reversed, '{at}', '{at}', '-')"
                ), {"order": f"o{number}", "growth": value, "reversed": reversed_})  # fmt: skip
            await conn.execute(text(
                "INSERT INTO interactions (member_id, kind, idempotency_key, growth_value,"
                " occurred_at, request_hash) VALUES (1, 'REVIEW', 'k', 2,"
                " '2026-11-05 00:00:00+00:00', '-')"
            ))  # fmt: skip

        # when the buckets migration runs
        await upgrade(db)

        # then each UTC month holds its events, with their first and last times
        async with db.read() as conn:
            ordered = select(growth_buckets).order_by(growth_buckets.c.month)
            rows = [(r.month, r.growth) for r in await conn.execute(ordered)]
            assert rows == [(202610, 100), (202611, 39)]
            assert await growth.verify(conn) == []
    finally:
        await db.dispose()
        if name:
            await _drop_postgres_database(name)
