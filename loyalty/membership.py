"""A member's standing: whether the record is active or was merged into another, and the check
every action on a member starts with."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import members
from infra.records import MemberRow
from loyalty.errors import InvalidState, NotFound


class MemberStatus(StrEnum):
    ACTIVE = "ACTIVE"
    MERGED = "MERGED"


async def active_member(
    conn: AsyncConnection, member_id: int, visible: ColumnElement[bool] = true()
) -> MemberRow:
    """The member, if it exists and `visible` (the caller's view, loyalty.visibility) admits
    it, and it is active."""
    # The messages name no id: a caller who named the member by an identity must not learn it.
    row = (await conn.execute(select(members).where(members.c.id == member_id, visible))).first()
    if row is None:
        raise NotFound("the member does not exist")
    if row.status != MemberStatus.ACTIVE:
        raise InvalidState(f"the member is {row.status}")
    return row
