"""Downloads with the same bearer token as the graph: statements for finance and partners
(/settlements/{partner}/{period}/lines.csv, transfers.csv and report.html; the console serves
the same to a signed-in person), and a member's copy of its data (/me/export.json, or
/members/{id}/export.json for an operator on its behalf)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from auth import audit, ownership, privacy
from auth.backend import principal_of
from auth.principal import Principal, PrincipalKind
from infra.database import Database
from loyalty import export
from loyalty.errors import DomainError
from partners import registry, settlement, statement_report
from partners.settlement import Period


def routes(db: Database) -> list[Route]:
    async def export(request: Request) -> Response:
        principal = principal_of(request)
        if principal.kind is PrincipalKind.ANONYMOUS:
            return JSONResponse({"error": "UNAUTHENTICATED"}, status_code=401)
        params = request.path_params
        return await download(db, principal, params["partner_id"], params["period"],
                              params["what"])  # fmt: skip

    async def member_export(request: Request) -> Response:
        principal = principal_of(request)
        if principal.kind is PrincipalKind.ANONYMOUS:
            return JSONResponse({"error": "UNAUTHENTICATED"}, status_code=401)
        named = request.path_params.get("member_id")
        member_id = principal.member_id if named is None else _whole(named)
        return await member_data(db, principal, member_id)

    return [
        Route("/settlements/{partner_id}/{period}/{what}", export),
        Route("/me/export.json", member_export),
        Route("/members/{member_id}/export.json", member_export),
    ]


def _whole(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


async def member_data(db: Database, principal: Principal, member_id: int | None) -> Response:
    """A member's export (docs/privacy.md): the member's own, or an operator's on its behalf,
    audited; anyone else's answered like a missing member."""
    if member_id is None or not privacy.may_export(principal, member_id):
        return JSONResponse({"error": "NOT_FOUND"}, status_code=404)
    try:
        async with audit.audited(db, principal, "export.member", f"member:{member_id}"):
            document = await export.export_member(db, member_id)
    except DomainError as error:
        return JSONResponse({"error": error.code}, status_code=404)
    return JSONResponse(document, headers=_download(f"member-{member_id}.json"))


async def download(
    db: Database, principal: Principal, partner: str, period_text: str, what: str
) -> Response:
    """A statement's download for `principal` (the graph's bearer, or a console session):
    another partner's statement is answered like a missing one."""
    try:
        partner_id = int(partner)
        period = Period.parse(period_text)
    except (ValueError, DomainError):
        return JSONResponse({"error": "NOT_FOUND"}, status_code=404)
    if not ownership.may_read_statement(principal, partner_id):
        return JSONResponse({"error": "NOT_FOUND"}, status_code=404)
    name = f"statement-{partner_id}-{period}"
    try:
        found = await settlement.statement(db, partner_id, period)
        if what == "lines.csv":
            return Response(statement_report.lines_csv(found), media_type="text/csv",
                            headers=_download(f"{name}-lines.csv"))  # fmt: skip
        if what == "transfers.csv":
            rows = await settlement.line_transfers(db, partner_id, period)
            return StreamingResponse(statement_report.transfers_csv(rows),
                                     media_type="text/csv",
                                     headers=_download(f"{name}-transfers.csv"))  # fmt: skip
        if what == "report.html":
            partner_row = await registry.find_partner(db, partner_id)
            days = await settlement.daily_activity(db, partner_id, period)
            return HTMLResponse(statement_report.html_report(found, partner_row, days))
    except DomainError as error:
        return JSONResponse({"error": error.code, "message": error.message}, status_code=404
                            if error.code == "NOT_FOUND" else 409)  # fmt: skip
    return JSONResponse({"error": "NOT_FOUND"}, status_code=404)


def _download(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
