"""Statement downloads for finance and partners, with the same bearer token as the graph:
/settlements/{partner}/{period}/lines.csv, transfers.csv and report.html (the console serves
the same downloads to a signed-in person)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from auth import ownership
from auth.backend import principal_of
from auth.principal import Principal, PrincipalKind
from infra.database import Database
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

    return [Route("/settlements/{partner_id}/{period}/{what}", export)]


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
