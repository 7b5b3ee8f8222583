"""Merging two member records of one person: everything moves to the survivor in one
transaction, and the merged record stays as a tombstone pointing at it.

A merge is one of the few operations that spans two members (docs/scaling.md): sharded by
member, its transaction writes two members' rows. A member's rows are keyed by their member,
so moving one is a copy under the survivor and a delete (never an UPDATE of member_id, which a
sharded table cannot do); the ledger and the lots stay with their member and pass over by
transfer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import (
    campaign_awards,
    identities,
    interactions,
    member_keys,
    members,
    purchases,
    redemptions,
    refunds,
)
from infra.records import MemberRow
from loyalty import growth, ledger, lot, tier
from loyalty.errors import InvalidState, NotFound, ValidationFailed
from loyalty.ledger import TransferCode
from loyalty.membership import MemberStatus
from loyalty.program import Program
from loyalty.promotions import benefit


async def merge_members(
    db: Database,
    program: Program,
    *,
    survivor_id: int,
    merged_id: int,
    now: datetime | None = None,
) -> MemberRow:
    """Move identities, balance (with its lots and their dates), purchases, interactions (so
    growth value), redemptions and referees from `merged_id` to `survivor_id`. The balance moves
    by a MERGE transfer, so the ledger shows it. The survivor keeps the higher of the two tiers
    and is upgraded if the combined growth value reaches more. Merging again answers the same;
    a member with points held by a pending transfer cannot be merged until it is settled."""
    if survivor_id == merged_id:
        raise ValidationFailed("a member cannot be merged into itself")
    now = now or datetime.now(UTC)
    async with db.transaction() as conn:
        survivor, merged = await _load_pair(conn, survivor_id, merged_id)
        if merged.status == MemberStatus.MERGED:
            if merged.merged_into == survivor_id:
                return survivor
            raise InvalidState(f"member {merged_id} was merged into another member")
        if survivor.status != MemberStatus.ACTIVE:
            raise InvalidState(f"member {survivor_id} is {survivor.status}")
        balances = {
            member_id: await ledger.lock_member_balance(conn, member_id)
            for member_id in sorted((survivor_id, merged_id), key=ledger.member_account)
        }
        moving = balances[merged_id]
        if moving.held or moving.incoming:
            raise InvalidState(f"member {merged_id} has pending transfers; settle them first")

        await _move_records(conn, survivor_id, merged_id)
        await _move_balance(conn, program, moving.posted, survivor_id, merged_id, now)

        await conn.execute(
            update(members)
            .where(members.c.id == merged_id)
            .values(status=MemberStatus.MERGED, merged_into=survivor_id, merged_at=now)
        )
        await _carry_tier(conn, program, survivor, merged, now)
        return (await conn.execute(select(members).where(members.c.id == survivor_id))).one()


async def _move_records(conn: AsyncConnection, survivor_id: int, merged_id: int) -> None:
    """Identities, purchases (with their refunds and campaign awards), interactions,
    redemptions and referees change hands."""
    moved = (purchases, refunds, campaign_awards, interactions, redemptions, identities)
    for table in moved:  # parents before the rows that refer to them
        copied = [literal(survivor_id) if c.name == "member_id" else c for c in table.c]
        await conn.execute(insert(table).from_select(
            [c.name for c in table.c], select(*copied).where(table.c.member_id == merged_id)
        ))  # fmt: skip
    for table in reversed(moved):
        await conn.execute(delete(table).where(table.c.member_id == merged_id))
    await conn.execute(
        update(member_keys)
        .where(member_keys.c.member_id == merged_id,
               or_(member_keys.c.key.startswith("identity:"),
                   member_keys.c.key.startswith("order:")))
        .values(member_id=survivor_id)
    )  # fmt: skip
    await growth.rebuild(conn, [survivor_id, merged_id])
    await conn.execute(
        update(purchases)
        .where(purchases.c.referrer_id == merged_id)
        .values(referrer_id=survivor_id)
    )
    await conn.execute(
        update(members).where(members.c.referred_by == merged_id).values(referred_by=survivor_id)
    )
    # A survivor referred by the member it absorbs would now refer itself.
    await conn.execute(
        update(members)
        .where(members.c.id == survivor_id, members.c.referred_by == survivor_id)
        .values(referred_by=None, referred_at=None)
    )


async def _load_pair(conn: AsyncConnection, survivor_id: int, merged_id: int) -> tuple[Any, Any]:
    rows = {
        row.id: row
        for row in await conn.execute(
            select(members).where(members.c.id.in_([survivor_id, merged_id]))
        )
    }
    for member_id in (survivor_id, merged_id):
        if member_id not in rows:
            raise NotFound(f"member {member_id} does not exist")
    return rows[survivor_id], rows[merged_id]


async def _move_balance(
    conn: AsyncConnection,
    program: Program,
    posted: int,
    survivor_id: int,
    merged_id: int,
    now: datetime,
) -> None:
    key = f"merge:{merged_id}:into:{survivor_id}"
    reference = f"member:{merged_id}"
    if posted > 0:
        # The lots move with their dates, so the transfer must not open new ones.
        moved = await ledger.transfer(
            conn, idempotency_key=key, debit=ledger.member_account(merged_id),
            credit=ledger.member_account(survivor_id), amount=posted, reason=TransferCode.MERGE,
            reference=reference, carry_lots=False, now=now,
        )  # fmt: skip
        await lot.move_lots(conn, from_member=merged_id, to_member=survivor_id,
                            transfer_id=moved.id)  # fmt: skip
    elif posted < 0:
        # A refund left the merged member below zero: the survivor takes over the debt.
        await ledger.transfer(
            conn, idempotency_key=key, debit=ledger.member_account(survivor_id),
            credit=ledger.member_account(merged_id), amount=-posted, reason=TransferCode.MERGE,
            reference=reference, overdraft=program.negative_balance_limit, now=now,
        )  # fmt: skip


async def _carry_tier(
    conn: AsyncConnection, program: Program, survivor: Any, merged: Any, now: datetime
) -> None:
    current = tier.Tier(survivor.tier)
    kept = tier.higher(current, tier.Tier(merged.tier))
    if kept != current:
        value = (await growth.values(conn, program, [survivor.id], now))[survivor.id]
        await tier.change_tier(
            conn, member_id=survivor.id, from_tier=current, to_tier=kept,
            reason=tier.TierChangeReason.MERGE, growth_value=value, at=now,
        )  # fmt: skip
    await benefit.upgrade_if_due(
        conn, program, member_id=survivor.id, current=kept, at=now,
        reason=tier.TierChangeReason.MERGE,
    )  # fmt: skip
