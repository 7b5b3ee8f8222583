"""Erasing a member on request (docs/privacy.md, "Erasure"): its personal data is removed or
replaced for good, and the books stay as they were.

In one transaction: the member's record becomes a pseudonym ("Erased member", no birth date,
status ERASED, its enrolment key and fingerprint replaced); its identities are deleted and
their keys freed, so another member may take them; the partner account it named in quotes and
exchanges is replaced; every copy of its personal values in webhook payloads is blanked; its
tokens stop working. Amounts, the ledger, lots, purchases, coupons, statements, consents'
history and the audit log remain, pointing at the pseudonymous member, so balances and
settlement totals do not change. An erased member can do nothing more, and erasing it again
answers it as it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.feed import REVOCATIONS, announce
from infra.models import (
    exchanges,
    identities,
    interactions,
    issued_tokens,
    member_keys,
    members,
    purchases,
    quotes,
    transfers,
    webhook_deliveries,
)
from loyalty import keys, sealing
from loyalty.errors import InvalidState, NotFound
from loyalty.membership import MemberStatus

PSEUDONYM = "Erased member"
BLANK = "[erased]"


async def _personal_values(conn: AsyncConnection, row: Any) -> list[str]:
    """The member's personal values that may have been copied elsewhere (display name,
    identities), longest first so that a value inside another is blanked after it."""
    held = await conn.execute(select(identities.c.value, identities.c.sealed)
                              .where(identities.c.member_id == row.id))  # fmt: skip
    values = {row.display_name, *map(sealing.shown, held)} - {"", PSEUDONYM}
    if row.birth_date is not None:
        values.add(row.birth_date.isoformat())
    return sorted(values, key=len, reverse=True)


async def erase_member(db: Database, member_id: int, *, now: datetime | None = None) -> Any:
    """Erase the member (an operator's act: the caller's permission is the policy's to decide).
    Returns the pseudonymous record."""
    now = now or datetime.now(UTC)
    async with db.transaction() as conn:
        query = select(members).where(members.c.id == member_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"member {member_id} does not exist")
        if row.status == MemberStatus.ERASED:
            return row
        await _no_exchange_in_flight(conn, member_id)
        values = await _personal_values(conn, row)
        await _free_identities(conn, row)
        await _blank_copies(conn, member_id, values)
        await _revoke_tokens(conn, member_id, now)
        return (await conn.execute(
            update(members).where(members.c.id == member_id).values(
                display_name=PSEUDONYM, birth_date=None, status=MemberStatus.ERASED,
                enrollment_key=None, request_hash=BLANK,
            ).returning(*members.c)
        )).one()  # fmt: skip


# An exchange ends POSTED or VOIDED (partners.exchange.state); until then it names the member's
# account at the partner, which settling or reconciling it still needs.
ENDED_EXCHANGES = ("POSTED", "VOIDED")


async def _no_exchange_in_flight(conn: AsyncConnection, member_id: int) -> None:
    open_ones = await conn.scalar(select(func.count()).select_from(exchanges).where(
        exchanges.c.member_id == member_id, exchanges.c.state.not_in(ENDED_EXCHANGES)))  # fmt: skip
    if open_ones:
        raise InvalidState("the member has exchanges in flight: erase it once they are settled",
                           reason="EXCHANGE_IN_FLIGHT")  # fmt: skip


async def _revoke_tokens(conn: AsyncConnection, member_id: int, now: datetime) -> None:
    """The member's tokens stop working (every process hears it as any revocation)."""
    mine = and_(issued_tokens.c.subject == f"member:{member_id}",
                issued_tokens.c.revoked_at.is_(None))  # fmt: skip
    revoked = await conn.scalars(
        update(issued_tokens).where(mine).values(revoked_at=now).returning(issued_tokens.c.jti)
    )
    for jti in list(revoked):
        await announce(conn, REVOCATIONS, f"token:{jti}")


async def _free_identities(conn: AsyncConnection, row: Any) -> None:
    """Delete the identities and the keys that kept them (and the enrolment key) unique."""
    held = list(await conn.execute(select(identities.c.kind, identities.c.value)
                                   .where(identities.c.member_id == row.id)))  # fmt: skip
    freed = [keys.identity(kind, value) for kind, value in held]
    if row.enrollment_key is not None:
        freed.append(keys.enrollment(row.enrollment_key))
    if freed:
        held_keys = and_(member_keys.c.key.in_(freed), member_keys.c.member_id == row.id)
        await conn.execute(delete(member_keys).where(held_keys))
    await conn.execute(delete(identities).where(identities.c.member_id == row.id))


async def _blank_copies(conn: AsyncConnection, member_id: int, values: list[str]) -> None:
    """Personal values copied into other rows: the partner account of its quotes and exchanges,
    and any of its values in webhook payloads (blanked in place: the delivery stays)."""
    for table in (quotes, exchanges):
        await conn.execute(update(table).where(table.c.member_id == member_id)
                           .values(external_account=BLANK))  # fmt: skip
    for value in values:
        await conn.execute(
            update(webhook_deliveries).where(webhook_deliveries.c.payload.contains(value))
            .values(payload=func.replace(webhook_deliveries.c.payload, value, BLANK))
        )  # fmt: skip


def dormant_since(cutoff: datetime) -> Any:
    """Members not erased with no purchase, interaction or transfer since `cutoff`, enrolled
    before it (the retention job's choice)."""
    recent = or_(
        select(purchases.c.id).where(purchases.c.member_id == members.c.id,
                                     purchases.c.purchased_at >= cutoff).exists(),
        select(interactions.c.id).where(interactions.c.member_id == members.c.id,
                                        interactions.c.occurred_at >= cutoff).exists(),
        select(transfers.c.id).where(transfers.c.member_id == members.c.id,
                                     transfers.c.created_at >= cutoff).exists(),
    )  # fmt: skip
    return (
        select(members.c.id)
        .where(members.c.status == MemberStatus.ACTIVE, members.c.enrolled_at < cutoff, ~recent)
        .order_by(members.c.id)
    )


async def dormant_members(db: Database, *, dormant_for: timedelta, now: datetime | None = None,
                          limit: int = 1000) -> list[int]:  # fmt: skip
    """The retention job's choice: up to `limit` members dormant for longer than `dormant_for`
    (the job erases each, one transaction and one audit row apiece)."""
    now = now or datetime.now(UTC)
    async with db.read() as conn:
        return list(await conn.scalars(dormant_since(now - dormant_for).limit(limit)))
