"""Hot statements run as prepared statements on asyncpg (infra.prepared) give the rows and the
errors SQLAlchemy gives, inside a transaction and outside one."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, exc, insert, select

from infra import prepared
from infra.models import member_keys, members
from tests.factories import a_member

KEYS = (
    insert(member_keys)
    .values(key=bindparam("key"), member_id=bindparam("member"))
    .returning(member_keys.c.key, member_keys.c.member_id, member_keys.c.key)
)
NAMES = select(members.c.id, members.c.display_name).where(members.c.id == bindparam("id"))


async def test_rows_are_sqlalchemys_rows_with_their_columns_as_attributes(db, sql_statements):
    someone = await a_member(db, "Prepared Pat")
    sql_statements.statements.clear()
    async with db.transaction() as conn:
        await conn.execute(select(1))  # SQLAlchemy began the transaction
        added = await prepared.rows(conn, KEYS, {"key": "prepared-1", "member": someone.id})
        found = await prepared.rows(conn, NAMES, {"id": someone.id})
        none = await prepared.rows(conn, NAMES, {"id": 999_999})
    # on PostgreSQL they ran on asyncpg directly, not through SQLAlchemy
    through_sqlalchemy = [s for s in sql_statements.statements if "member" in s]
    assert len(through_sqlalchemy) == (0 if db.dialect == "postgresql" else 3)
    async with db.read() as conn:  # outside a transaction: through SQLAlchemy, alike
        again = await prepared.rows(conn, NAMES, {"id": someone.id})
    assert [tuple(row) for row in added] == [("prepared-1", someone.id, "prepared-1")]
    assert added[0].key == "prepared-1" and added[0].member_id == someone.id
    assert prepared.leading(added[0], 2) == ("prepared-1", someone.id)
    assert found == again == [(someone.id, "Prepared Pat")]
    assert found[0].display_name == "Prepared Pat"
    assert none == []


async def test_a_constraint_violation_is_sqlalchemys_integrity_error_and_rolls_back(db):
    someone = await a_member(db)
    with pytest.raises(exc.IntegrityError):
        async with db.transaction() as conn:
            await conn.execute(select(1))
            values = {"key": "prepared-twice", "member": someone.id}
            await prepared.rows(conn, KEYS, values)
            await prepared.rows(conn, KEYS, values)
    async with db.read() as conn:
        kept = await conn.scalar(select(member_keys.c.key).where(
            member_keys.c.key == "prepared-twice"))  # fmt: skip
    assert kept is None
