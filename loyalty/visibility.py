"""What the acting principal may see and act on, as SQL conditions that the domain adds to the
statements that read or act, inside the transaction that acts.

The domain only applies these conditions; `auth.ownership.visibility(principal)` is the one
policy that decides them. A row the principal may not see is answered exactly like a row that
does not exist (NOT_FOUND). `EVERYTHING` is the program's own view, for its jobs, the CLI and
seeding; every domain function takes the visibility it applies as a required argument, so a
caller that forgets it fails to type-check and to run instead of seeing everything."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, Table, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from loyalty.errors import NotFound

ALL: ColumnElement[bool] = true()


@dataclass(frozen=True, slots=True)
class Visibility:
    """Every field is required: a condition nobody set is a construction error, never "all"."""

    members: ColumnElement[bool]
    # A member named by an identity it presents itself (a card shown at a till).
    presented_members: ColumnElement[bool]
    identities: ColumnElement[bool]
    # The identities the caller may name a member by (a partner: also a loyalty card).
    nameable_identities: ColumnElement[bool]
    # Whom a member referred, as summaries (loyalty.referral.REFEREE_COLUMNS).
    referees: ColumnElement[bool]
    purchases: ColumnElement[bool]
    # The purchases the caller may read (a partner: also others', with the PURCHASES consent).
    readable_purchases: ColumnElement[bool]
    redemptions: ColumnElement[bool]
    rewards: ColumnElement[bool]
    partners: ColumnElement[bool]
    exchanges: ColumnElement[bool]
    quotes: ColumnElement[bool]
    # A partner's rate cards: its commercial terms.
    rate_cards: ColumnElement[bool]
    # Issued coupons; the coupon templates and campaigns the caller runs.
    coupons: ColumnElement[bool]
    coupon_templates: ColumnElement[bool]
    campaigns: ColumnElement[bool]
    # What a reader may see of promotions it does not run: the campaigns offered to a member it
    # sees (`Member.campaigns`) and the templates behind coupons and campaigns it sees.
    offered_campaigns: ColumnElement[bool]
    # What a member was granted (gifts, coupon grants): personal, like a birth date.
    benefit_grants: ColumnElement[bool]
    readable_templates: ColumnElement[bool]
    # Which purchases and interactions a member's aggregates (lifecycle, segment) count.
    aggregated_purchases: ColumnElement[bool]
    aggregated_interactions: ColumnElement[bool]
    # Which transfers a member's ledger shows (a partner: those concerning it).
    transfers: ColumnElement[bool]
    # Whether federation's `_entities` answers the caller at all (not an anonymous one).
    entities: ColumnElement[bool]
    # Settlement statements (a partner's own).
    statements: ColumnElement[bool]
    # Whose birth dates (members rows) the caller may read.
    birth_dates: ColumnElement[bool]
    # Which of members' consents to partners (loyalty.consent) the caller may read.
    data_consents: ColumnElement[bool]

    async def check(self, conn: AsyncConnection, table: Table, row_id: Any) -> None:
        """NOT_FOUND unless the row exists and the principal may act on it."""
        condition = getattr(self, table.name)
        found = await conn.scalar(select(table.c.id).where(table.c.id == row_id, condition))
        if found is None:
            raise NotFound(f"{table.name[:-1]} {row_id} does not exist")


# The program's own view (jobs, the CLI, seeding): passed explicitly, never a default.
EVERYTHING = Visibility(**{field.name: ALL for field in fields(Visibility)})
