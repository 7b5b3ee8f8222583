"""The console's member page for operators: a member by id, its standing, what it was granted
(gift packs, birthday and annual target gifts, coupon grants) and its consents to partners with
their history, read through the same domain reads and ownership policy as the graph's
`member { grants consents }`."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from auth.access import Need
from gateway.console.visit import Page, Visit, whole
from loyalty import consent, member
from loyalty.promotions import benefit
from partners import registry


async def member_page(visit: Visit) -> Response:
    """`/console/members?id=N`: the member's standing and grants (operators)."""
    asked = visit.request.query_params.get("id", "")
    member_id = whole(asked)
    found: Any = None
    grants: list[Any] = []
    consents: list[Any] = []
    if member_id is not None:
        visible = visit.visible
        async with visit.db.read() as conn:
            rows = await member.members_by_id(conn, [member_id], visible)
            found = rows[0] if rows else None
            if found is not None:
                grants = await benefit.grants_of(conn, [member_id], visible)
                consents = await consent.consents_of(conn, [member_id], visible)
    named = {b.code: b.name for b in visit.program.benefits}
    partners = {p.id: p.code for p in await registry.list_partners(visit.db, visible=visit.visible)}
    return visit.page("member.html", 200 if found or not asked else 404, title="Members",
                      asked=asked, member=found, grants=grants, named=named, consents=consents,
                      partners=partners)  # fmt: skip


ROUTES: list[Page] = [Page("/members", member_page, ["GET"], Need.OPERATOR)]
