"""The console's member page for operators: a member by id, its standing and what it was
granted (gift packs, birthday and annual target gifts, coupon grants), read through the same
domain reads and ownership policy as the graph's `member { grants }`."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from auth.access import Need
from gateway.console.visit import Page, Visit, whole
from loyalty import member
from loyalty.promotions import benefit


async def member_page(visit: Visit) -> Response:
    """`/console/members?id=N`: the member's standing and grants (operators)."""
    asked = visit.request.query_params.get("id", "")
    member_id = whole(asked)
    found: Any = None
    grants: list[Any] = []
    if member_id is not None:
        visible = visit.visible
        async with visit.db.read() as conn:
            rows = await member.members_by_id(conn, [member_id], visible)
            found = rows[0] if rows else None
            if found is not None:
                grants = await benefit.grants_of(conn, [member_id], visible)
    named = {b.code: b.name for b in visit.program.benefits}
    return visit.page("member.html", 200 if found or not asked else 404, title="Members",
                      asked=asked, member=found, grants=grants, named=named)  # fmt: skip


ROUTES: list[Page] = [Page("/members", member_page, ["GET"], Need.OPERATOR)]
