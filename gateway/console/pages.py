"""The console's pages. Each is a thin handler: it checks with auth.ownership what the signed-in
person may see (what they may not is a 404, like a missing page), calls the domain function
the graph calls, audits what it changed, and renders a template."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

import pyotp
import segno
from markupsafe import Markup
from starlette.responses import Response

from auth import access, audit, clients, console, ownership, totp
from auth.access import Need
from auth.principal import Scope
from gateway import exports
from gateway.console.visit import Visit
from loyalty.errors import DomainError, ValidationFailed
from loyalty.promotions import campaign, coupon
from partners import exchange, rate_card, registry, settlement, statement_report, webhook
from partners.settlement import Period
from partners.settlement import usage as settlement_usage
from partners.settlement.periods import zone_of
from partners.settlement.statements import rate_cards_of_partner

# Scopes an operator may give a partner's client from the console (admin is never a partner's).
PARTNER_SCOPES = tuple(scope.value for scope in Scope if scope is not Scope.ADMIN)
RATE_CARD_FIELDS = tuple(rate_card.RateCardTerms.__dataclass_fields__)
TERMS_FIELDS = tuple(registry.Terms.__dataclass_fields__)
# Rows per page of a long table.
PAGE = 50


class NotFoundPage(Exception):
    """What the person may not see, answered as a missing page."""


def _not_found() -> Exception:
    return NotFoundPage()


def _whole(text: str | None, most: int = 2**63 - 1) -> int | None:
    """A whole number as typed in an address (ASCII digits, at most `most`), or None: "²" is a
    digit to str.isdigit but not to int(), and 10^30 fits no column."""
    if not text or len(text) > 19 or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= most else None


def _number(text: str) -> int:
    found = _whole(text)
    if found is None:
        raise _not_found()
    return found


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


async def partner_list(visit: Visit) -> Response:
    found = await registry.list_partners(visit.db, visible=visit.visible)
    return visit.page("partners.html", title="Partners", partners=found)


async def partner_create(visit: Visit) -> Response:
    form = await visit.form()
    try:
        created = await registry.create_partner(
            visit.db, code=form.get("code", "").strip(), name=form.get("name", "")
        )
        await registry.update_partner(
            visit.db,
            partner_id=created.id,
            timezone=form.get("timezone") or "UTC",
            settlement_currency=(form.get("currency") or "USD").upper(),
        )
    except DomainError as error:
        found = await registry.list_partners(visit.db, visible=visit.visible)
        return visit.page(
            "partners.html",
            422,
            title="Partners",
            partners=found,
            error=error.message,
            entered=form,
        )
    await audit.record(visit.db, visit.principal, "console.create_partner", target=created.code)
    return visit.redirect(f"/console/partners/{created.id}")


async def _partner_page(visit: Visit, status: int = 200, **shown: Any) -> Response:
    partner_id = _number(visit.request.path_params["partner_id"])
    partner = await registry.find_partner(visit.db, partner_id)
    async with visit.db.read() as conn:
        cards = await rate_cards_of_partner(conn, partner_id)
        terms = await registry.exchange_terms_of(conn, partner_id)
    current_card, next_card = _in_force_and_next(cards, visit.now)
    exchange_terms = {
        direction.value: _in_force_and_next([t for t in terms if t.direction == direction],
                                            visit.now)
        for direction in registry.Direction
    }  # fmt: skip
    people = await console.people(visit.db, visit.principal, partner_id=partner_id)
    period = Period.containing(visit.now, zone_of(partner))
    stored = await settlement.list_statements(visit.db, partner_id=partner_id)
    return visit.page(
        "partner.html",
        status,
        statements=stored,
        title=partner.name,
        partner=partner,
        current_cards=[current_card] if current_card else [],
        next_card=next_card,
        exchange_terms=exchange_terms,
        terms_fields=TERMS_FIELDS,
        statuses=[status.value for status in registry.PartnerStatus],
        people=people,
        scopes=PARTNER_SCOPES,
        card_fields=RATE_CARD_FIELDS,
        defaults=rate_card.RateCardTerms(),
        period=period,
        **shown,
    )


async def partner_detail(visit: Visit) -> Response:
    return await _partner_page(visit)


def _in_force_and_next(rows: list[Any], now: datetime) -> tuple[Any | None, Any | None]:
    """Of dated terms, the one in force now (the latest started and not ended) and the next."""
    started = [r for r in rows if r.valid_from <= now and (r.valid_to is None or r.valid_to > now)]
    upcoming = [r for r in rows if r.valid_from > now]
    return (max(started, key=lambda r: (r.valid_from, r.id), default=None),
            min(upcoming, key=lambda r: (r.valid_from, r.id), default=None))  # fmt: skip


async def _valid_from(visit: Visit, partner_id: int, form: dict[str, str]) -> datetime:
    """The form's start date and time, in the partner's time zone unless it names one."""
    partner = await registry.find_partner(visit.db, partner_id)
    valid_from = datetime.fromisoformat(form.get("valid_from", ""))
    return valid_from if valid_from.tzinfo else valid_from.replace(tzinfo=zone_of(partner))


async def _change_partner(
    visit: Visit,
    change: Callable[[int, dict[str, str]], Awaitable[str]],
    *,
    error_key: str,
    hint: str,
) -> Response:
    """An operator's form on a partner's page: `change` acts and names what it changed (the
    audit log's target); a refusal shows the page again with the reason at `error_key`
    (`hint` when the form itself did not parse)."""
    partner_id = _number(visit.request.path_params["partner_id"])
    form = await visit.form()
    try:
        changed = await change(partner_id, form)
    except (DomainError, ValueError) as error:
        message = error.message if isinstance(error, DomainError) else hint
        return await _partner_page(visit, 422, **{error_key: message})
    await audit.record(visit.db, visit.principal, f"console.{error_key.removesuffix('_error')}",
                       target=f"partner:{partner_id}:{changed}")  # fmt: skip
    return visit.redirect(f"/console/partners/{partner_id}")


async def rate_card_add(visit: Visit) -> Response:
    async def add(partner_id: int, form: dict[str, str]) -> str:
        terms = rate_card.RateCardTerms(**{name: _decimal(form, name) for name in RATE_CARD_FIELDS})
        card = await rate_card.add_rate_card(
            visit.db, partner_id=partner_id, terms=terms,
            valid_from=await _valid_from(visit, partner_id, form),
        )  # fmt: skip
        return f"rate_card:{card.id}"

    return await _change_partner(visit, add, error_key="rate_card_error",
                                 hint="a date and time, please")  # fmt: skip


async def exchange_terms_add(visit: Visit) -> Response:
    async def add(partner_id: int, form: dict[str, str]) -> str:
        direction = registry.Direction(form.get("direction", ""))
        whole = {name: int(form.get(name, "").strip()) for name in TERMS_FIELDS if name != "rate"}
        added = await registry.set_exchange_terms(
            visit.db, partner_id=partner_id, direction=direction,
            terms=registry.Terms(rate=_decimal(form, "rate"), **whole),
            valid_from=await _valid_from(visit, partner_id, form),
        )  # fmt: skip
        return f"exchange_terms:{added.id}"

    return await _change_partner(visit, add, error_key="exchange_terms_error",
                                 hint="whole numbers and a date")  # fmt: skip


async def partner_settings(visit: Visit) -> Response:
    """A partner's status, time zone and settlement currency."""

    async def save(partner_id: int, form: dict[str, str]) -> str:
        saved = await registry.update_partner(
            visit.db, partner_id=partner_id,
            status=registry.PartnerStatus(form.get("status", "")),
            timezone=form.get("timezone", "").strip(),
            settlement_currency=form.get("currency", "").strip().upper(),
        )  # fmt: skip
        return f"{saved.status}:{saved.timezone}:{saved.settlement_currency}"

    return await _change_partner(visit, save, error_key="partner_settings_error",
                                 hint="ACTIVE or SUSPENDED")  # fmt: skip


def _decimal(form: dict[str, str], name: str) -> Decimal:
    try:
        return Decimal(form.get(name, "").strip())
    except InvalidOperation:
        raise ValidationFailed(f"{name.replace('_', ' ')} is a number", argument=name) from None


async def _clients_of(visit: Visit) -> tuple[Any, frozenset[str]]:
    """The partner whose clients the page is about, and the scopes the person may give them
    (ownership.client_scopes_for); 404 for anyone else."""
    partner = await registry.find_partner(
        visit.db, _number(visit.request.path_params["partner_id"])
    )
    allowed = ownership.client_scopes_for(visit.principal, partner)
    if allowed is None:
        raise _not_found()
    return partner, allowed


async def clients_page(visit: Visit, status: int = 200, **shown: Any) -> Response:
    partner, allowed = await _clients_of(visit)
    rows = await clients.list_clients(visit.db, partner_id=partner.id)
    return visit.page("clients.html", status, title=f"{partner.name}: OAuth clients",
                      partner=partner, clients=rows,
                      scopes=[s for s in PARTNER_SCOPES if s in allowed], **shown)  # fmt: skip


async def client_create(visit: Visit) -> Response:
    partner, allowed = await _clients_of(visit)
    form = await visit.request.form()
    scopes = [str(s) for s in form.getlist("scopes")]
    name = str(form.get("name") or "").strip()
    if not name or not scopes or not set(scopes) <= allowed:
        return await clients_page(visit, 422, client_error="a name and at least one allowed scope")
    created = await clients.create_client(visit.db, name=name, scopes=scopes,
                                          partner_id=partner.id)  # fmt: skip
    await audit.record(visit.db, visit.principal, "console.create_client",
                       target=created.client_id)  # fmt: skip
    return await clients_page(visit, new_client=created.client_id, secret=created.client_secret)


async def _own_client(visit: Visit) -> tuple[Any, str]:
    partner, _ = await _clients_of(visit)
    client_id = visit.request.path_params["client_id"]
    owned = {c.client_id for c in await clients.list_clients(visit.db, partner_id=partner.id)
             if c.status == "ACTIVE"}  # fmt: skip
    if client_id not in owned:
        raise _not_found()
    return partner, client_id


async def client_rotate(visit: Visit) -> Response:
    """A new secret, shown once; the old one keeps working for the grace period asked."""
    _, client_id = await _own_client(visit)
    hours = _whole((await visit.form()).get("grace_hours", "24"), most=168)
    if hours is None:
        return await clients_page(visit, 422, client_error="a grace period of 0 to 168 hours")
    secret = await clients.rotate_secret(visit.db, client_id, grace=timedelta(hours=hours))
    await audit.record(visit.db, visit.principal, "console.rotate_secret", target=client_id)
    return await clients_page(visit, new_client=client_id, secret=secret, grace=hours)


async def client_revoke(visit: Visit) -> Response:
    partner, client_id = await _own_client(visit)
    await clients.revoke_client(visit.db, client_id)
    await audit.record(visit.db, visit.principal, "console.revoke_client", target=client_id)
    return visit.redirect(f"/console/partners/{partner.id}/clients")


async def client_scopes_set(visit: Visit) -> Response:
    """What the partner's staff may give their clients (an operator's decision)."""
    partner_id = _number(visit.request.path_params["partner_id"])
    form = await visit.request.form()
    scopes = [str(s) for s in form.getlist("scopes") if s in PARTNER_SCOPES]
    await registry.update_partner(visit.db, partner_id=partner_id, client_scopes=scopes)
    given = " ".join(sorted(scopes)) or "-"
    await audit.record(visit.db, visit.principal, "console.client_scopes",
                       target=f"partner:{partner_id}:{given}")  # fmt: skip
    return visit.redirect(f"/console/partners/{partner_id}")


async def statement_close(visit: Visit) -> Response:
    """Freeze a finished month's statement (closing again answers the same)."""
    partner_id = _number(visit.request.path_params["partner_id"])
    try:
        period = Period.parse(visit.request.path_params["period"])
        await settlement.close(visit.db, partner_id, period)
    except DomainError as error:
        if error.code == "NOT_FOUND":
            raise
        return await _partner_page(visit, 409, close_error=error.message)
    await audit.record(visit.db, visit.principal, "console.close_statement",
                       target=f"partner:{partner_id}:{period}")  # fmt: skip
    return visit.redirect(f"/console/partners/{partner_id}/statements/{period}")


async def staff_invite(visit: Visit) -> Response:
    partner_id = _number(visit.request.path_params["partner_id"])
    form = await visit.form()
    try:
        made = await console.invite(
            visit.db,
            visit.principal,
            email=form.get("email", ""),
            role=console.Role.PARTNER_STAFF,
            partner_id=partner_id,
        )
    except DomainError as error:
        return await _partner_page(visit, 422, invite_error=error.message)
    link = str(visit.request.url_for("console-invitation", token=made.token))
    return await _partner_page(visit, invitation_link=link, invited=made.user.email)


async def statement(visit: Visit) -> Response:
    partner_id = _number(visit.request.path_params["partner_id"])
    try:
        period = Period.parse(visit.request.path_params["period"])
    except DomainError:
        raise _not_found() from None
    partner = await registry.find_partner(visit.db, partner_id)
    found = await settlement.statement(visit.db, partner_id, period)
    days = await settlement.daily_activity(visit.db, partner_id, period)
    return visit.page(
        "statement.html",
        title=f"{partner.name}: {period}",
        partner=partner,
        statement=found,
        charts=Markup(statement_report.charts_html(found, days)),
        chart_css=Markup(statement_report.CHART_CSS),
        period=period,
    )


async def statement_download(visit: Visit) -> Response:
    params = visit.request.path_params
    return await exports.download(
        visit.db, visit.principal, params["partner_id"], params["period"], params["what"]
    )


async def usage(visit: Visit) -> Response:
    """A partner's API operations per day and client in a month, against its rate limit."""
    partner_id = _number(visit.request.path_params["partner_id"])
    try:
        period = Period.parse(visit.request.path_params["period"])
    except DomainError:
        raise _not_found() from None
    partner = await registry.find_partner(visit.db, partner_id)
    zone = zone_of(partner)
    days = await settlement_usage.daily_usage(visit.db, partner_id, *period.bounds(zone), zone)
    return visit.page("usage.html", title=f"{partner.name}: API usage in {period}",
                      partner=partner, period=period, days=days,
                      total=sum(day.calls for day in days),
                      per_minute=visit.settings.rate_limit_per_minute,
                      burst=visit.settings.rate_limit_burst)  # fmt: skip


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
    await audit.record(visit.db, visit.principal, "console.reconcile",
                       target=f"checked {report.checked}")  # fmt: skip
    said = (f"checked {report.checked}: posted {report.posted}, voided {report.voided}, "
            f"still open {report.still_open}")  # fmt: skip
    return visit.redirect(f"/console/exchanges?report={quote(said)}")


async def audit_page(visit: Visit) -> Response:
    """The audit log, newest first, filtered by action and subject, a page at a time (the
    cursor is the last entry's id)."""
    query = visit.request.query_params
    before = query.get("before")
    action, subject = query.get("action") or None, query.get("subject") or None
    before_id = _whole(before)
    rows = await audit.entries(visit.db, limit=PAGE + 1, action=action, subject=subject,
                               before_id=before_id)  # fmt: skip
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    cursor = {"action": action, "subject": subject, "before": rows[-1].id if more else None}
    after = urlencode({name: value for name, value in cursor.items() if value})
    return visit.page("audit.html", title="Audit log", entries=rows, action=action or "",
                      subject=subject or "", next_page=f"?{after}" if more else None)  # fmt: skip


def _offset(visit: Visit) -> int:
    return _whole(visit.request.query_params.get("offset"), most=1_000_000) or 0


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
    return _number(visit.request.path_params["partner_id"])


def _webhooks_path(partner_id: int | None) -> str:
    return "/console/webhooks" if partner_id is None else f"/console/partners/{partner_id}/webhooks"


async def webhooks_page(visit: Visit, status: int = 200, **shown: Any) -> Response:
    """Subscriptions and their deliveries, newest first, a page at a time."""
    partner_id = _webhooks_of(visit)
    partner = None if partner_id is None else await registry.find_partner(visit.db, partner_id)
    before = visit.request.query_params.get("before", "")
    rows = await webhook.recent_deliveries(
        visit.db, partner_id=partner_id, limit=PAGE + 1,
        before_id=_whole(before),
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
    await audit.record(visit.db, visit.principal, "console.subscribe_webhook",
                       target=f"partner:{partner_id or '-'}:subscription:{row.id}")  # fmt: skip
    return await webhooks_page(visit, subscribed=row, secret=secret)


async def webhook_resend(visit: Visit) -> Response:
    partner_id = _webhooks_of(visit)
    delivery_id = _number(visit.request.path_params["delivery_id"])
    await webhook.resend(visit.db, delivery_id, partner_id=partner_id)
    await audit.record(visit.db, visit.principal, "console.resend_webhook",
                       target=f"delivery:{delivery_id}")  # fmt: skip
    return visit.redirect(_webhooks_path(partner_id))


async def promotions_page(visit: Visit) -> Response:
    """The campaigns and coupon templates, with what each has spent against its budget."""
    return visit.page("promotions.html", title="Campaigns and coupons",
                      campaigns=await campaign.list_campaigns(visit.db, visit.visible),
                      templates=await coupon.list_templates(visit.db, visit.visible))  # fmt: skip


async def campaign_end(visit: Visit) -> Response:
    campaign_id = _number(visit.request.path_params["campaign_id"])
    ended = await campaign.end_campaign(visit.db, campaign_id, visible=visit.visible)
    await audit.record(visit.db, visit.principal, "console.end_campaign", target=ended.code)
    return visit.redirect("/console/promotions")


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
    person_id = _number(visit.request.path_params["person_id"])
    disable = visit.request.path_params["change"] == "disable"
    try:
        await console.set_disabled(visit.db, visit.principal, person_id, disabled=disable)
    except DomainError as error:
        if error.code == "NOT_FOUND":
            raise
        return await people_page(visit, 409, error=error.message)
    return visit.redirect("/console/people")


# Each page with what it needs of the signed-in person (auth.access decides, before it runs).
ROUTES: list[tuple[str, Any, list[str], Need]] = [
    ("/people", people_page, ["GET"], Need.SIGNED_IN),
    ("/people", operator_invite, ["POST"], Need.OPERATOR),
    ("/people/{person_id}/{change:str}", person_access, ["POST"], Need.OPERATOR),
    ("/promotions", promotions_page, ["GET"], Need.OPERATOR),
    ("/promotions/campaigns/{campaign_id}/end", campaign_end, ["POST"], Need.OPERATOR),
    ("/account", account, ["GET"], Need.SIGNED_IN),
    ("/account/second-factor/start", second_factor_start, ["POST"], Need.SIGNED_IN),
    ("/account/second-factor", second_factor_set, ["POST"], Need.SIGNED_IN),
    ("/exchanges", exchanges_page, ["GET"], Need.EXCHANGES),
    ("/exchanges/reconcile", reconcile_now, ["POST"], Need.OPERATOR),
    ("/audit", audit_page, ["GET"], Need.OPERATOR),
    ("/usage", own_usage, ["GET"], Need.PARTNER_STAFF),
    ("/partners", partner_list, ["GET"], Need.OPERATOR),
    ("/partners", partner_create, ["POST"], Need.OPERATOR),
    ("/partners/{partner_id}", partner_detail, ["GET"], Need.OPERATOR),
    ("/partners/{partner_id}/rate-cards", rate_card_add, ["POST"], Need.OPERATOR),
    ("/partners/{partner_id}/exchange-terms", exchange_terms_add, ["POST"], Need.OPERATOR),
    ("/partners/{partner_id}/settings", partner_settings, ["POST"], Need.OPERATOR),
    ("/partners/{partner_id}/clients", clients_page, ["GET"], Need.CLIENTS),
    ("/partners/{partner_id}/clients", client_create, ["POST"], Need.CLIENTS),
    ("/partners/{partner_id}/clients/{client_id}/rotate", client_rotate, ["POST"], Need.CLIENTS),
    ("/partners/{partner_id}/clients/{client_id}/revoke", client_revoke, ["POST"], Need.CLIENTS),
    ("/partners/{partner_id}/client-scopes", client_scopes_set, ["POST"], Need.OPERATOR),
    ("/partners/{partner_id}/webhooks", webhooks_page, ["GET"], Need.INTEGRATION),
    ("/partners/{partner_id}/webhooks", webhook_subscribe, ["POST"], Need.INTEGRATION),
    (
        "/partners/{partner_id}/webhooks/{delivery_id}/resend",
        webhook_resend,
        ["POST"],
        Need.INTEGRATION,
    ),
    ("/webhooks", webhooks_page, ["GET"], Need.INTEGRATION),
    ("/webhooks", webhook_subscribe, ["POST"], Need.INTEGRATION),
    ("/webhooks/{delivery_id}/resend", webhook_resend, ["POST"], Need.INTEGRATION),
    ("/partners/{partner_id}/staff", staff_invite, ["POST"], Need.OPERATOR),
    ("/partners/{partner_id}/statements/{period}", statement, ["GET"], Need.STATEMENTS),
    ("/partners/{partner_id}/statements/{period}/close", statement_close, ["POST"], Need.OPERATOR),
    ("/partners/{partner_id}/usage/{period}", usage, ["GET"], Need.STATEMENTS),
    (
        "/partners/{partner_id}/statements/{period}/{what}",
        statement_download,
        ["GET"],
        Need.STATEMENTS,
    ),
]
