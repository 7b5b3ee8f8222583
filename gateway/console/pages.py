"""The console's pages. Each is a thin handler: it checks with auth.ownership what the signed-in
person may see (what they may not is a 404, like a missing page), calls the domain function
the graph calls and renders a template; what it may open and the audit row of a form that
changes something are the console's routing (gateway.console, with auth.access and auth.audit)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pyotp
import segno
from markupsafe import Markup
from starlette.responses import Response

from auth import access, audit, console, ownership, totp
from auth.access import Need
from gateway.console.visit import PAGE, Page, Visit, number, whole
from loyalty.errors import DomainError
from partners import exchange, registry, webhook
from partners.settlement import Period
from partners.settlement.periods import zone_of


async def home(visit: Visit) -> Response:
    if access.is_operator(visit.principal):
        return visit.redirect("/console/partners")
    return visit.redirect(await _this_month(visit, "statements"))


async def own_usage(visit: Visit) -> Response:
    return visit.redirect(await _this_month(visit, "usage"))


async def _this_month(visit: Visit, page: str) -> str:
    """A partner staff's page of their partner's current month."""
    partner = await registry.find_partner(visit.db, visit.user.partner_id)
    period = Period.containing(visit.now, zone_of(partner))
    return f"/console/partners/{partner.id}/{page}/{period}"


async def exchanges_page(visit: Visit) -> Response:
    """Operators: the exchanges needing attention (UNKNOWN, RESERVED past the reconciliation
    delay) with a "reconcile now"; partner staff: their partner's exchanges, newest first."""
    if not access.is_operator(visit.principal):
        rows = await exchange.list_exchanges(
            visit.db,
            limit=PAGE,
            offset=_offset(visit),
            visible=ownership.visibility(visit.principal),
        )
        return visit.page("exchanges.html", title="Exchanges", exchanges=rows, attention=False,
                          offset=_offset(visit), page_size=PAGE)  # fmt: skip
    stale = timedelta(seconds=visit.settings.reconcile_after_seconds)
    rows = await exchange.needing_attention(visit.db, stale_after=stale, now=visit.now,
                                            limit=PAGE)  # fmt: skip
    return visit.page("exchanges.html", title="Exchanges needing attention", exchanges=rows,
                      attention=True, stale=stale, offset=0, page_size=PAGE,
                      report=visit.request.query_params.get("report"))  # fmt: skip


async def reconcile_now(visit: Visit) -> Response:
    stale = timedelta(seconds=visit.settings.reconcile_after_seconds)
    report = await exchange.reconcile(visit.db, visit.directory, stale_after=stale)
    said = (f"checked {report.checked}: posted {report.posted}, voided {report.voided}, "
            f"still open {report.still_open}")  # fmt: skip
    return visit.redirect(f"/console/exchanges?report={quote(said)}")


async def audit_page(visit: Visit) -> Response:
    """The audit log, newest first, filtered by action and subject, a page at a time (the
    cursor is the last entry's id)."""
    query = visit.request.query_params
    before = query.get("before")
    action, subject = query.get("action") or None, query.get("subject") or None
    before_id = whole(before)
    rows = await audit.entries(visit.db, limit=PAGE + 1, action=action, subject=subject,
                               before_id=before_id)  # fmt: skip
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    cursor = {"action": action, "subject": subject, "before": rows[-1].id if more else None}
    after = urlencode({name: value for name, value in cursor.items() if value})
    return visit.page("audit.html", title="Audit log", entries=rows, action=action or "",
                      subject=subject or "", next_page=f"?{after}" if more else None)  # fmt: skip


def _offset(visit: Visit) -> int:
    return whole(visit.request.query_params.get("offset"), most=1_000_000) or 0


async def account(visit: Visit) -> Response:
    """The person's own account: the second factor, on or off."""
    return visit.page("account.html", title="Your account")


async def second_factor_start(visit: Visit) -> Response:
    if visit.user.totp_secret:  # replacing it takes a code of it: turning it off first
        return visit.redirect("/console/account")
    secret, uri = totp.new_secret(visit.user)
    return _enrolment(visit, secret, uri)


def _enrolment(visit: Visit, secret: str, uri: str, error: str | None = None) -> Response:
    qr = segno.make(uri, error="m").svg_inline(scale=4, title="The QR code of the secret")
    return visit.page("account.html", 422 if error else 200, title="Your account",
                      enrolling=True, secret=secret, qr=Markup(qr), error=error)  # fmt: skip


async def second_factor_set(visit: Visit) -> Response:
    form = await visit.form()
    turning_on = form.get("secret") or None
    assert visit.session is not None
    try:
        await console.set_second_factor(visit.db, visit.session, secret=turning_on,
                                        code=form.get("code", ""))  # fmt: skip
    except DomainError as error:
        if turning_on and totp.valid_secret(turning_on):
            uri = pyotp.TOTP(turning_on).provisioning_uri(name=visit.user.email,
                                                          issuer_name="Pointgate")  # fmt: skip
            return _enrolment(visit, turning_on, uri, error.message)
        return visit.page("account.html", 422, title="Your account", error=error.message)
    return visit.redirect("/console/account")


def _webhooks_of(visit: Visit) -> int | None:
    """Whose webhooks the page is about: the partner in its address, or the program's (no
    partner: deliveries of every subscription). Who may open it: Need.INTEGRATION."""
    if "partner_id" not in visit.request.path_params:
        return None
    return number(visit.request.path_params["partner_id"])


def _webhooks_path(partner_id: int | None) -> str:
    return "/console/webhooks" if partner_id is None else f"/console/partners/{partner_id}/webhooks"


async def webhooks_page(visit: Visit, status: int = 200, **shown: Any) -> Response:
    """Subscriptions and their deliveries, newest first, a page at a time."""
    partner_id = _webhooks_of(visit)
    partner = None if partner_id is None else await registry.find_partner(visit.db, partner_id)
    before = visit.request.query_params.get("before", "")
    rows = await webhook.recent_deliveries(
        visit.db, partner_id=partner_id, limit=PAGE + 1,
        before_id=whole(before),
    )  # fmt: skip
    return visit.page("webhooks.html", status,
                      title=f"{partner.name}: webhooks" if partner else "Webhooks",
                      partner=partner, base=_webhooks_path(partner_id), deliveries=rows[:PAGE],
                      older=rows[PAGE - 1].id if len(rows) > PAGE else None,
                      subscriptions=await webhook.subscriptions_of(visit.db, partner_id),
                      **shown)  # fmt: skip


async def webhook_subscribe(visit: Visit) -> Response:
    partner_id = _webhooks_of(visit)
    form = await visit.form()
    try:
        row, secret = await webhook.subscribe(visit.db, partner_id=partner_id,
                                              url=form.get("url", "").strip(),
                                              egress=visit.settings.egress())  # fmt: skip
    except DomainError as error:
        return await webhooks_page(visit, 422, error=error.message, url=form.get("url", ""))
    return await webhooks_page(visit, subscribed=row, secret=secret)


async def webhook_resend(visit: Visit) -> Response:
    partner_id = _webhooks_of(visit)
    delivery_id = number(visit.request.path_params["delivery_id"])
    await webhook.resend(visit.db, delivery_id, partner_id=partner_id)
    return visit.redirect(_webhooks_path(partner_id))


async def people_page(visit: Visit, status: int = 200, **shown: Any) -> Response:
    """The console's people: invite an operator, disable or enable anyone but oneself."""
    found = await console.people(visit.db, visit.principal)
    names = {p.id: p.code for p in await registry.list_partners(visit.db, visible=visit.visible)}
    return visit.page("people.html", status, title="People", people=found, partners=names,
                      **shown)  # fmt: skip


async def operator_invite(visit: Visit) -> Response:
    form = await visit.form()
    try:
        made = await console.invite(visit.db, visit.principal, email=form.get("email", ""),
                                    role=console.Role.OPERATOR)  # fmt: skip
    except DomainError as error:
        return await people_page(visit, 422, error=error.message)
    link = str(visit.request.url_for("console-invitation", token=made.token))
    return await people_page(visit, invitation_link=link, invited=made.user.email)


async def person_access(visit: Visit) -> Response:
    person_id = number(visit.request.path_params["person_id"])
    disable = visit.request.path_params["change"] == "disable"
    try:
        await console.set_disabled(visit.db, visit.principal, person_id, disabled=disable)
    except DomainError as error:
        if error.code == "NOT_FOUND":
            raise
        return await people_page(visit, 409, error=error.message)
    return visit.redirect("/console/people")


# Each page, with what it needs of the signed-in person and the action a form's audit row names.
ROUTES: list[Page] = [
    Page("/usage", own_usage, ["GET"], Need.PARTNER_STAFF),
    Page("/people", people_page, ["GET"], Need.SIGNED_IN),
    Page("/people", operator_invite, ["POST"], Need.OPERATOR),
    Page("/people/{person_id}/{change:str}", person_access, ["POST"], Need.OPERATOR),
    Page("/account", account, ["GET"], Need.SIGNED_IN),
    Page("/account/second-factor/start", second_factor_start, ["POST"], Need.SIGNED_IN),
    Page("/account/second-factor", second_factor_set, ["POST"], Need.SIGNED_IN),
    Page("/exchanges", exchanges_page, ["GET"], Need.EXCHANGES),
    Page("/exchanges/reconcile", reconcile_now, ["POST"], Need.OPERATOR, "console.reconcile"),
    Page("/audit", audit_page, ["GET"], Need.OPERATOR),
    Page("/partners/{partner_id}/webhooks", webhooks_page, ["GET"], Need.INTEGRATION),
    Page(
        "/partners/{partner_id}/webhooks",
        webhook_subscribe,
        ["POST"],
        Need.INTEGRATION,
        "console.subscribe_webhook",
    ),
    Page(
        "/partners/{partner_id}/webhooks/{delivery_id}/resend",
        webhook_resend,
        ["POST"],
        Need.INTEGRATION,
        "console.resend_webhook",
    ),
    Page("/webhooks", webhooks_page, ["GET"], Need.INTEGRATION),
    Page("/webhooks", webhook_subscribe, ["POST"], Need.INTEGRATION, "console.subscribe_webhook"),
    Page(
        "/webhooks/{delivery_id}/resend",
        webhook_resend,
        ["POST"],
        Need.INTEGRATION,
        "console.resend_webhook",
    ),
]
