"""The schema is ready to shard by member (docs/scaling.md): checked over the SQLAlchemy
metadata, table by table, with the rules Citus enforces on a distributed schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import (
    ForeignKeyConstraint,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    select,
    text,
)

from infra.models import ROLES, Role, metadata, transfers
from loyalty import referral
from tests.factories import a_member, a_purchase, balance_of

DAY_0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def shard_key(table: Table) -> str:
    return "id" if table.name == "members" else "member_id"


def tables(role: Role) -> list[Table]:
    return [metadata.tables[name] for name, given in ROLES.items() if given is role]


def unique_keys(table: Table) -> list[tuple[str, list[str]]]:
    """Every primary key, unique constraint and unique index, by name and columns."""
    keys = [
        (str(constraint.name), [column.name for column in constraint.columns])
        for constraint in table.constraints
        if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint)
    ]
    keys += [
        (str(index.name), [column.name for column in index.columns])
        for index in table.indexes
        if index.unique
    ]
    return keys


def foreign_keys(table: Table) -> list[ForeignKeyConstraint]:
    return [c for c in table.constraints if isinstance(c, ForeignKeyConstraint)]


def test_every_table_has_a_role():
    assert sorted(ROLES) == sorted(metadata.tables)


def test_a_distributed_table_keys_every_row_by_its_member():
    for table in tables(Role.DISTRIBUTED):
        key = shard_key(table)
        assert key in table.c and not table.c[key].nullable, table.name
        for name, columns in unique_keys(table):
            assert key in columns, f"{table.name}: {name} {columns} lacks {key}"


def test_foreign_keys_between_distributed_tables_stay_within_a_member():
    for table in tables(Role.DISTRIBUTED):
        for fk in foreign_keys(table):
            target = fk.referred_table
            role = ROLES[target.name]
            assert role in (Role.DISTRIBUTED, Role.REFERENCE), f"{table.name} -> {target.name}"
            if role is Role.DISTRIBUTED:
                pairs = {(own.name, theirs.column.name) for own, theirs in zip(
                    fk.columns, fk.elements, strict=True)}  # fmt: skip
                assert (shard_key(table), shard_key(target)) in pairs, (
                    f"{table.name} -> {target.name} by {sorted(pairs)}: not the same member"
                )


def test_reference_lookup_and_local_tables_refer_to_no_members_rows():
    for role, allowed in (
        (Role.REFERENCE, {Role.REFERENCE}),
        (Role.LOOKUP, set()),
        (Role.LOCAL, {Role.REFERENCE, Role.LOCAL}),
    ):
        for table in tables(role):
            for fk in foreign_keys(table):
                assert ROLES[fk.referred_table.name] in allowed, (
                    f"{role} table {table.name} -> {fk.referred_table.name}"
                )


def test_a_lookup_table_is_keyed_by_one_column():
    for table in tables(Role.LOOKUP):
        assert len(table.primary_key.columns) == 1, table.name
        assert [columns for _, columns in unique_keys(table)] == [
            [table.primary_key.columns[0].name]
        ]


async def test_a_purchase_writes_its_buyers_rows_only(db, program, monkeypatch):
    """Sharded by member, a purchase's transaction stays on its buyer's node: every row it
    writes (PostgreSQL's xmin names the transaction that wrote a row version) is the buyer's.
    The referrer's share is moved by a transaction of its own after it."""
    if db.dialect != "postgresql":
        pytest.skip("row versions name their transaction on PostgreSQL")
    referrer = await a_member(db, "Ada", card="CARD-ADA", now=DAY_0)
    buyer = await a_member(db, "Grace", referral_code=referrer.referral_code, program=program,
                           now=DAY_0)  # fmt: skip
    # a purchase that earns, upgrades the buyer's tier and owes the referrer a share (held
    # back here, to look at the purchase's rows before the share's transaction runs)
    with monkeypatch.context() as patched:
        patched.setattr(referral, "settle_after", _later)
        row = await a_purchase(db, program, buyer.id, "6000.00", at=DAY_0 + timedelta(days=1))

    written = await rows_written_with(db, "purchases", row.id)

    assert row.referral_points > 0 and row.referrer_id == referrer.id
    assert set(written) == {"purchases", "transfers", "accounts", "point_lots", "growth_buckets",
                            "tier_changes", "members", "member_keys"}  # fmt: skip
    assert {table: owners for table, owners in written.items() if owners != {buyer.id}} == {}
    # the share's transaction: the referrer's ledger, and the buyer's purchase marked settled
    assert await referral.settle_shares(db, program) == 1
    share = await referrer_share_transfer(db, row.id)
    assert await rows_written_with(db, "transfers", share) == {
        "transfers": {referrer.id}, "accounts": {referrer.id}, "point_lots": {referrer.id},
        "purchases": {buyer.id},
    }  # fmt: skip
    assert (await balance_of(db, referrer.id)).available == 500 + row.referral_points


async def _later(*_args, **_kwargs) -> None:
    return None


async def rows_written_with(db, table: str, row_id: int) -> dict[str, set[int]]:
    """Per table, whose rows the transaction that wrote `table` row `row_id` wrote (members
    by id, reference tables as 'reference')."""
    async with db.read() as conn:
        xid = await conn.scalar(text(f"SELECT xmin::text FROM {table} WHERE id = :id"),
                                {"id": row_id})  # fmt: skip
        written: dict[str, set[int]] = {}
        for name, role in ROLES.items():
            owner = "id" if name == "members" else "member_id"
            column = owner if role is not Role.REFERENCE else "'0'"
            if role is Role.LOCAL:
                continue
            found = set(await conn.scalars(text(
                f"SELECT DISTINCT {column} FROM {name} WHERE xmin::text = :xid"
            ), {"xid": xid}))  # fmt: skip
            if found:
                written[name] = {int(o) for o in found} if role is not Role.REFERENCE else {-1}
    return written


async def referrer_share_transfer(db, purchase_id: int) -> int:
    async with db.read() as conn:
        return await conn.scalar(
            select(transfers.c.id).where(
                transfers.c.idempotency_key == f"purchase:{purchase_id}:referral"
            )
        )
