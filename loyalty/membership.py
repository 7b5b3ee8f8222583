"""A member's standing: whether the record is active or was merged into another, and the check
every action on a member starts with."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import members
from infra.records import MemberRow
from loyalty.errors import InvalidState, NotFound


class MemberStatus(StrEnum):
    ACTIVE = "ACTIVE"
    MERGED = "MERGED"
    ERASED = "ERASED"  # personal data removed on request (loyalty.erasure)


async def active_member(
    conn: AsyncConnection, member_id: int, visible: ColumnElement[bool] = true()
) -> MemberRow:
    """The member, if it exists and `visible` (the caller's view, loyalty.visibility) admits
    it, and it is active."""
    row = (await conn.execute(select(members).where(members.c.id == member_id, visible))).first()
    check_standing(row.status if row is not None else None)
    return row  # type: ignore[return-value]


def standing(member_id: Any, visible: ColumnElement[bool] = true()) -> ScalarSelect[Any]:
    """The member's status as `visible` admits it (NULL: no such member, or not to the caller),
    for a caller that reads it with other things in one statement (`check_standing`)."""
    return select(members.c.status).where(members.c.id == member_id, visible).scalar_subquery()


def check_standing(status: str | None) -> None:
    """NOT_FOUND for a member the caller cannot see, INVALID_STATE for one not active."""
    # The messages name no id: a caller who named the member by an identity must not learn it.
    if status is None:
        raise NotFound("the member does not exist")
    if status != MemberStatus.ACTIVE:
        raise InvalidState(f"the member is {status}")
