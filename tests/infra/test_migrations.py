from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from infra.database import Database
from infra.migrate import alembic_config, current_revision, upgrade
from infra.models import (
    PROGRAM_ACCOUNTS,
    accounts,
    growth_buckets,
    ledger_accounts,
    members,
    metadata,
    point_lots,
)
from loyalty import books, growth, ledger
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
            program_accounts = set(await conn.scalars(select(ledger_accounts.c.id)))
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
            problems = await books.verify(conn)
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


@pytest.mark.parametrize("backend", BACKENDS)
async def test_members_rows_are_rekeyed_by_member_and_global_keys_claimed(backend, tmp_path):
    db, name = await new_empty_database(backend, tmp_path)
    try:
        # given a database from before sharding: a referrer (1), its referee (2) with a
        # purchase, a refund and a redemption, a member merged into the referrer (3), a partner
        await upgrade(db, "0013")
        at = "'2026-11-01 00:00:00+00:00'"
        statements = [
            "INSERT INTO partners (id, code, name, created_at) VALUES (1, 'sky', 'Sky', "
            + at
            + ")",
            "INSERT INTO accounts (id, partner_id) VALUES ('partner:1:clearing', 1)",
            "INSERT INTO members (id, display_name, enrolled_at, enrollment_key, referral_code)"
            f" VALUES (1, 'Ada', {at}, 'e-1', 'CODEADA')",
            "INSERT INTO members (id, display_name, enrolled_at, referral_code, referred_by,"
            f" referred_at) VALUES (2, 'Grace', {at}, 'CODEGRA', 1, {at})",
            "INSERT INTO members (id, display_name, enrolled_at, status, merged_into)"
            f" VALUES (3, 'Ada too', {at}, 'MERGED', 1)",
            "INSERT INTO accounts (id, member_id, posted_credits) VALUES ('member:1', 1, 56)",
            "INSERT INTO accounts (id, member_id, posted_credits, posted_debits)"
            " VALUES ('member:2', 2, 200, 30)",
            "INSERT INTO accounts (id, member_id, posted_credits, posted_debits)"
            " VALUES ('member:3', 3, 50, 50)",
            *(
                "INSERT INTO transfers (idempotency_key, debit_account_id, credit_account_id,"
                f" amount, phase, reason, request_hash, created_at) VALUES ('{key}', '{debit}',"
                f" '{credit}', {amount}, 'SINGLE', '{reason}', '-', {at})"
                for key, debit, credit, amount, reason in (
                    ("t-3", "program:issuance", "member:3", 50, "EARN"),
                    ("purchase:1:earn", "program:issuance", "member:2", 200, "EARN"),
                    ("purchase:1:referral", "program:issuance", "member:1", 6, "REFERRAL_EARN"),
                    ("merge:3:into:1", "member:3", "member:1", 50, "MERGE"),
                    ("redeem", "member:2", "program:redemption", 30, "REDEEM"),
                )
            ),
            "INSERT INTO point_lots (member_id, transfer_id, points, remaining, earned_at)"
            f" VALUES (2, 2, 200, 170, {at}), (1, 3, 6, 6, {at}), (1, 1, 50, 50, {at})",
            "INSERT INTO lot_draws (lot_id, transfer_id, points) VALUES (1, 5, 30)",
            "INSERT INTO purchases (member_id, channel, source, external_order_id, amount,"
            " currency, points_earned, referrer_id, referral_points, purchased_at, recorded_at,"
            f" request_hash) VALUES (2, 'ONLINE', 'web', 'o-1', 200, 'USD', 200, 1, 6, {at},"
            f" {at}, '-')",
            "INSERT INTO refunds (purchase_id, idempotency_key, amount, points_reversed,"
            f" points_unrecovered, request_hash, created_at) VALUES (1, 'r-1', 0.01, 0, 0, '-',"
            f" {at})",
            "INSERT INTO identities (member_id, kind, value, linked_at)"
            f" VALUES (2, 'LOYALTY_CARD', 'C-2', {at})",
        ]
        async with db.transaction() as conn:
            for statement in statements:
                await conn.execute(text(statement))

        # when the sharding migration runs
        await upgrade(db)

        # then every member's row carries its member, the global keys are claimed, program and
        # partner accounts are listed apart, and the ledger is as sound as before
        async with db.transaction() as conn:
            owners = {
                table: sorted(await conn.execute(text(f"SELECT id, member_id FROM {table}")))
                for table in ("transfers", "refunds", "lot_draws")
            }
            claims = dict(list(await conn.execute(text("SELECT key, member_id FROM member_keys"))))
            listed = set(await conn.scalars(select(ledger_accounts.c.id)))
            held = sorted(await conn.scalars(select(accounts.c.member_id)))
            share = (await conn.execute(text(
                "SELECT referral_paid, referral_reclaimed, referral_pending FROM purchases"
            ))).one()  # fmt: skip
            problems = await books.verify(conn)
            later = await ledger.transfer(
                conn, idempotency_key="after", debit=ledger.ISSUANCE,
                credit=ledger.member_account(2), amount=10, reason=ledger.TransferCode.ADJUSTMENT,
            )  # fmt: skip
        assert owners == {
            "transfers": [(1, 3), (2, 2), (3, 1), (4, 3), (5, 2)],
            "refunds": [(1, 2)],
            "lot_draws": [(1, 2)],
        }
        assert claims == {
            "enrollment:e-1": 1, "referral:CODEADA": 1, "referral:CODEGRA": 2,
            "identity:LOYALTY_CARD:C-2": 2, "order:/web/o-1": 2,
        }  # fmt: skip
        assert listed == {*PROGRAM_ACCOUNTS, "partner:1:clearing"}
        assert held == [1, 2, 3]
        assert (share.referral_paid, share.referral_reclaimed, bool(share.referral_pending)) == (
            6, 0, False,
        )  # fmt: skip
        assert problems == []
        # ids go on from where they were
        assert (later.id, later.member_id) == (6, 2)
    finally:
        await db.dispose()
        if name:
            await _drop_postgres_database(name)
