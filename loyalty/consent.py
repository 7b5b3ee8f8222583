"""A member's consents to partners, one per purpose (docs/privacy.md). A partner the member is
linked to sees its display name, tier and balance and its own account identity; it sees more
only with the member's consent for that purpose:

- CONTACT: the member's e-mail and phone identities;
- BIRTH_DATE: its birth date;
- PURCHASES: its purchases at other partners and online (to read; never to refund).

The member grants and withdraws them (`me`); each is kept with its history (withdrawing closes
the open row, granting again opens a new one), and withdrawing takes effect with the commit:
the ownership policy (auth.ownership) reads `consented` in the statement that reads the data."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any

from sqlalchemy import ColumnElement, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database
from infra.models import data_consents, members, partners
from infra.reads import keyed
from loyalty.errors import NotFound
from loyalty.membership import active_member
from loyalty.visibility import Visibility


class ConsentPurpose(StrEnum):
    CONTACT = "CONTACT"
    BIRTH_DATE = "BIRTH_DATE"
    PURCHASES = "PURCHASES"


def consented(partner_id: Any, purpose: ConsentPurpose, member_id: Any) -> ColumnElement[bool]:
    """Whether the member has an open consent to the partner for the purpose (SQL, for the
    policy's conditions: one rule for both read paths, exports and webhooks)."""
    held = data_consents.alias("consent")
    return exists(select(held.c.id).where(
        held.c.member_id == member_id, held.c.partner_id == partner_id,
        held.c.purpose == purpose.value, held.c.withdrawn_at.is_(None),
    ))  # fmt: skip


async def _open(
    conn: AsyncConnection, member_id: int, partner_id: int, purpose: ConsentPurpose
) -> Any:
    return (await conn.execute(select(data_consents).where(
        data_consents.c.member_id == member_id, data_consents.c.partner_id == partner_id,
        data_consents.c.purpose == purpose.value, data_consents.c.withdrawn_at.is_(None),
    ))).first()  # fmt: skip


async def _checked(conn: AsyncConnection, member_id: int, partner_id: int,
                   visible: Visibility) -> None:  # fmt: skip
    """The member may be acted for (NOT_FOUND otherwise) and is locked for this transaction
    (two grants at once open one row); the partner exists."""
    await active_member(conn, member_id, visible.members)
    if conn.dialect.name == "postgresql":  # SQLite runs one writer at a time
        await conn.execute(select(members.c.id).where(members.c.id == member_id)
                           .with_for_update(key_share=True))  # fmt: skip
    known = await conn.scalar(select(partners.c.id).where(partners.c.id == partner_id))
    if known is None:
        raise NotFound(f"partner {partner_id} does not exist", argument="partnerId")


async def grant(
    db: Database, *, member_id: int, partner_id: int, purpose: ConsentPurpose, visible: Visibility,
    now: datetime | None = None,
) -> Any:  # fmt: skip
    """Consent to the partner for the purpose; already consented, the consent as it is."""
    async with db.transaction() as conn:
        await _checked(conn, member_id, partner_id, visible)
        held = await _open(conn, member_id, partner_id, purpose)
        if held is not None:
            return held
        return (await conn.execute(insert(data_consents).values(
            member_id=member_id, partner_id=partner_id, purpose=purpose.value,
            granted_at=now or datetime.now(UTC),
        ).returning(*data_consents.c))).one()  # fmt: skip


async def withdraw(
    db: Database,
    *,
    member_id: int,
    partner_id: int,
    purpose: ConsentPurpose,
    visible: Visibility,
    now: datetime | None = None,
) -> Any | None:
    """Withdraw the open consent (from this commit on the partner sees no more); the withdrawn
    row, or None when there was none open."""
    async with db.transaction() as conn:
        await _checked(conn, member_id, partner_id, visible)
        held = await _open(conn, member_id, partner_id, purpose)
        if held is None:
            return None
        return (await conn.execute(
            update(data_consents)
            .where(data_consents.c.member_id == member_id, data_consents.c.id == held.id)
            .values(withdrawn_at=now or datetime.now(UTC)).returning(*data_consents.c)
        )).one()  # fmt: skip


# The members' consents the reader may see, oldest first, with their history (the loaders').
consents_of = keyed(
    tuple(data_consents.c),
    data_consents.c.member_id,
    visible=attrgetter("data_consents"),
    order_by=(data_consents.c.id,),
)
