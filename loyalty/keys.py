"""What must be unique across members (infra.models.member_keys): an enrollment's idempotency
key, a referral code, an identity, an order, a coupon code. Sharded by member, a unique
constraint of a member's table holds per member only; the member that claims a key here first
holds it, and the claim is written in the transaction that takes the key."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, exists, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from infra import prepared
from infra.database import insert_unless_exists
from infra.models import member_keys


def enrollment(idempotency_key: str) -> str:
    return f"enrollment:{idempotency_key}"


def referral(code: str) -> str:
    return f"referral:{code}"


def identity(kind: str, value: str) -> str:
    return f"identity:{kind}:{value}"


def order(namespace: str, source: str, external_order_id: str) -> str:
    return f"order:{namespace}/{source}/{external_order_id}"


def coupon(code: str) -> str:
    return f"coupon:{code}"


def coupon_issue(idempotency_key: str) -> str:
    """An issue of a coupon by its caller's (namespaced) idempotency key."""
    return f"coupon-issue:{idempotency_key}"


async def claim(conn: AsyncConnection, key: str, member_id: int) -> int:
    """Claim `key` for the member; returns the member that holds it: this one, or the one that
    claimed it first (a concurrent claim waits for the first to commit or roll back)."""
    if await insert_unless_exists(conn, member_keys, {"key": key, "member_id": member_id}):
        return member_id
    first = await holder(conn, key)
    assert first is not None  # the insert found it held
    return first


async def take(conn: AsyncConnection, key: str, member_id: int) -> None:
    """Claim `key`, which must be free: a key already held raises IntegrityError (rolling the
    transaction back; loyalty.idempotency.retry_on_race runs it again, finding the holder)."""
    await conn.execute(insert(member_keys).values(key=key, member_id=member_id))


async def holder(conn: AsyncConnection, key: str) -> int | None:
    """The member holding `key`, if any."""
    found: int | None = await conn.scalar(
        select(member_keys.c.member_id).where(member_keys.c.key == key)
    )
    return found


async def insert_claimed(
    conn: AsyncConnection, table: Any, values: dict[str, Any], key: str
) -> Any | None:
    """Insert a member's row (values with member_id) under `key`, claimed in the same
    transaction: the new row, or None when the key is held already (by this member or another;
    the caller looks for the earlier row). One statement on PostgreSQL."""
    if conn.dialect.name != "postgresql":
        if await claim(conn, key, values["member_id"]) != values["member_id"]:
            return None
        return await insert_unless_exists(conn, table, values)
    statement = _claimed_insert(table, tuple(values))
    parameters = {f"new_{name}": value for name, value in values.items()}
    found = await prepared.rows(conn, statement, {**parameters, "claimed_key": key})
    return found[0] if found else None


@functools.cache
def _claimed_insert(table: Any, columns: tuple[str, ...]) -> Any:
    claimed = (
        pg_insert(member_keys)
        .values(key=bindparam("claimed_key"), member_id=bindparam("new_member_id"))
        .on_conflict_do_nothing()
        .returning(member_keys.c.key)
        .cte("claimed")
    )
    row = select(*(bindparam(f"new_{name}", type_=table.c[name].type) for name in columns))
    return (
        pg_insert(table)
        .from_select(list(columns), row.where(exists(select(claimed.c.key))))
        .on_conflict_do_nothing()
        .returning(*table.c)
        .add_cte(claimed)
    )
