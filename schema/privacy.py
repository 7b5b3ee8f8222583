"""A member's consents to partners in the graph (loyalty.consent, docs/privacy.md)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.enums import ConsentPurpose
from schema.info import Info
from schema.partner import Partner, partner_of
from schema.rows import Row


@strawberry.type(
    description="A member's consent to a partner for a purpose; withdrawn ones stay, with when."
)
class Consent(Row):
    purpose: ConsentPurpose = strawberry.field(
        description="CONTACT: the member's e-mail and phone; BIRTH_DATE: its birth date; "
        "PURCHASES: its purchases at other partners and online, to read."
    )
    granted_at: datetime
    withdrawn_at: datetime | None = strawberry.field(description="Null: in force.")
    partner_id: strawberry.Private[int]

    @strawberry.field
    async def partner(self, info: Info) -> Partner | None:
        return await partner_of(info, self.partner_id)
