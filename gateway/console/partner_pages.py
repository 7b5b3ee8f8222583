"""The console's pages about one partner, for operators (and the partner's own staff where
their need says so): onboarding, terms in force, rate cards, clients, statements and usage.
Each is a thin handler: it calls the domain function the graph calls and renders a template."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup
from starlette.responses import Response

from auth import clients, console, ownership
from auth.access import Need
from auth.principal import Scope
from gateway import exports
from gateway.console.visit import Page, Visit, not_found, number, whole
from infra.models import exchange_terms as terms_table
from infra.models import rate_cards
from loyalty.errors import DomainError, ValidationFailed
from partners import rate_card, registry, settlement, statement_report
from partners.settlement import Period
from partners.settlement import usage as settlement_usage
from partners.settlement.periods import zone_of

# Scopes an operator may give a partner's client from the console (admin is never a partner's).
PARTNER_SCOPES = tuple(scope.value for scope in Scope if scope is not Scope.ADMIN)
RATE_CARD_FIELDS = tuple(rate_card.RateCardTerms.__dataclass_fields__)
TERMS_FIELDS = tuple(registry.Terms.__dataclass_fields__)


async def partner_list(visit: Visit) -> Response:
    found = await registry.list_partners(visit.db, visible=visit.visible)
    return visit.page("partners.html", title="Partners", partners=found)


async def partner_create(visit: Visit) -> Response:
    form = await visit.form()
    try:
        created = await registry.create_partner(
            visit.db,
            code=form.get("code", "").strip(),
            name=form.get("name", ""),
            timezone=form.get("timezone") or None,
            settlement_currency=(form.get("currency") or "").upper() or None,
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
    return visit.redirect(f"/console/partners/{created.id}")


async def _partner_page(visit: Visit, status: int = 200, **shown: Any) -> Response:
    partner_id = number(visit.request.path_params["partner_id"])
    partner = await registry.find_partner(visit.db, partner_id)
    async with visit.db.read() as conn:
        current_card, next_card = await registry.in_force_and_next(
            conn, rate_cards, visit.now, rate_cards.c.partner_id == partner_id
        )
        exchange_terms = {
            direction.value: await registry.in_force_and_next(
                conn, terms_table, visit.now, terms_table.c.partner_id == partner_id,
                terms_table.c.direction == direction,
            )
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


async def _valid_from(visit: Visit, partner_id: int, form: dict[str, str]) -> datetime:
    """The form's start date and time, in the partner's time zone unless it names one."""
    partner = await registry.find_partner(visit.db, partner_id)
    valid_from = datetime.fromisoformat(form.get("valid_from", ""))
    return valid_from if valid_from.tzinfo else valid_from.replace(tzinfo=zone_of(partner))


async def _change_partner(
    visit: Visit,
    change: Callable[[int, dict[str, str]], Awaitable[None]],
    *,
    error_key: str,
    hint: str,
) -> Response:
    """An operator's form on a partner's page: `change` acts; a refusal shows the page again
    with the reason at `error_key` (`hint` when the form itself did not parse)."""
    partner_id = number(visit.request.path_params["partner_id"])
    form = await visit.form()
    try:
        await change(partner_id, form)
    except (DomainError, ValueError) as error:
        message = error.message if isinstance(error, DomainError) else hint
        return await _partner_page(visit, 422, **{error_key: message})
    return visit.redirect(f"/console/partners/{partner_id}")


async def rate_card_add(visit: Visit) -> Response:
    async def add(partner_id: int, form: dict[str, str]) -> None:
        terms = rate_card.RateCardTerms(**{name: _decimal(form, name) for name in RATE_CARD_FIELDS})
        await rate_card.add_rate_card(
            visit.db, partner_id=partner_id, terms=terms,
            valid_from=await _valid_from(visit, partner_id, form),
        )  # fmt: skip

    return await _change_partner(visit, add, error_key="rate_card_error",
                                 hint="a date and time, please")  # fmt: skip


async def exchange_terms_add(visit: Visit) -> Response:
    async def add(partner_id: int, form: dict[str, str]) -> None:
        direction = registry.Direction(form.get("direction", ""))
        whole = {name: int(form.get(name, "").strip()) for name in TERMS_FIELDS if name != "rate"}
        await registry.set_exchange_terms(
            visit.db, partner_id=partner_id, direction=direction,
            terms=registry.Terms(rate=_decimal(form, "rate"), **whole),
            valid_from=await _valid_from(visit, partner_id, form),
        )  # fmt: skip

    return await _change_partner(visit, add, error_key="exchange_terms_error",
                                 hint="whole numbers and a date")  # fmt: skip


async def partner_settings(visit: Visit) -> Response:
    """A partner's status, time zone and settlement currency."""

    async def save(partner_id: int, form: dict[str, str]) -> None:
        await registry.update_partner(
            visit.db, partner_id=partner_id,
            status=registry.PartnerStatus(form.get("status", "")),
            timezone=form.get("timezone", "").strip(),
            settlement_currency=form.get("currency", "").strip().upper(),
        )  # fmt: skip

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
    partner = await registry.find_partner(visit.db, number(visit.request.path_params["partner_id"]))
    allowed = ownership.client_scopes_for(visit.principal, partner)
    if allowed is None:
        raise not_found()
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
    return await clients_page(visit, new_client=created.client_id, secret=created.client_secret)


async def _own_client(visit: Visit) -> tuple[Any, str]:
    partner, _ = await _clients_of(visit)
    client_id = visit.request.path_params["client_id"]
    owned = {c.client_id for c in await clients.list_clients(visit.db, partner_id=partner.id)
             if c.status == "ACTIVE"}  # fmt: skip
    if client_id not in owned:
        raise not_found()
    return partner, client_id


async def client_rotate(visit: Visit) -> Response:
    """A new secret, shown once; the old one keeps working for the grace period asked."""
    _, client_id = await _own_client(visit)
    hours = whole((await visit.form()).get("grace_hours", "24"), most=168)
    if hours is None:
        return await clients_page(visit, 422, client_error="a grace period of 0 to 168 hours")
    secret = await clients.rotate_secret(visit.db, client_id, grace=timedelta(hours=hours))
    return await clients_page(visit, new_client=client_id, secret=secret, grace=hours)


async def client_revoke(visit: Visit) -> Response:
    partner, client_id = await _own_client(visit)
    await clients.revoke_client(visit.db, client_id)
    return visit.redirect(f"/console/partners/{partner.id}/clients")


async def client_scopes_set(visit: Visit) -> Response:
    """What the partner's staff may give their clients (an operator's decision)."""
    partner_id = number(visit.request.path_params["partner_id"])
    form = await visit.request.form()
    scopes = [str(s) for s in form.getlist("scopes") if s in PARTNER_SCOPES]
    await registry.update_partner(visit.db, partner_id=partner_id, client_scopes=scopes)
    return visit.redirect(f"/console/partners/{partner_id}")


async def statement_close(visit: Visit) -> Response:
    """Freeze a finished month's statement (closing again answers the same)."""
    partner_id = number(visit.request.path_params["partner_id"])
    try:
        period = Period.parse(visit.request.path_params["period"])
        await settlement.close(visit.db, partner_id, period)
    except DomainError as error:
        if error.code == "NOT_FOUND":
            raise
        return await _partner_page(visit, 409, close_error=error.message)
    return visit.redirect(f"/console/partners/{partner_id}/statements/{period}")


async def staff_invite(visit: Visit) -> Response:
    partner_id = number(visit.request.path_params["partner_id"])
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
    partner_id = number(visit.request.path_params["partner_id"])
    try:
        period = Period.parse(visit.request.path_params["period"])
    except DomainError:
        raise not_found() from None
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
    partner_id = number(visit.request.path_params["partner_id"])
    try:
        period = Period.parse(visit.request.path_params["period"])
    except DomainError:
        raise not_found() from None
    partner = await registry.find_partner(visit.db, partner_id)
    zone = zone_of(partner)
    days = await settlement_usage.daily_usage(visit.db, partner_id, *period.bounds(zone), zone)
    return visit.page("usage.html", title=f"{partner.name}: API usage in {period}",
                      partner=partner, period=period, days=days,
                      total=sum(day.calls for day in days),
                      per_minute=visit.settings.rate_limit_per_minute,
                      burst=visit.settings.rate_limit_burst)  # fmt: skip


# Each page, with what it needs of the signed-in person and the action a form's audit row names.
ROUTES: list[Page] = [
    Page("/partners", partner_list, ["GET"], Need.OPERATOR),
    Page("/partners", partner_create, ["POST"], Need.OPERATOR, "console.create_partner"),
    Page("/partners/{partner_id}", partner_detail, ["GET"], Need.OPERATOR),
    Page(
        "/partners/{partner_id}/rate-cards",
        rate_card_add,
        ["POST"],
        Need.OPERATOR,
        "console.rate_card",
    ),
    Page(
        "/partners/{partner_id}/exchange-terms",
        exchange_terms_add,
        ["POST"],
        Need.OPERATOR,
        "console.exchange_terms",
    ),
    Page(
        "/partners/{partner_id}/settings",
        partner_settings,
        ["POST"],
        Need.OPERATOR,
        "console.partner_settings",
    ),
    Page("/partners/{partner_id}/clients", clients_page, ["GET"], Need.CLIENTS),
    Page(
        "/partners/{partner_id}/clients",
        client_create,
        ["POST"],
        Need.CLIENTS,
        "console.create_client",
    ),
    Page(
        "/partners/{partner_id}/clients/{client_id}/rotate",
        client_rotate,
        ["POST"],
        Need.CLIENTS,
        "console.rotate_secret",
    ),
    Page(
        "/partners/{partner_id}/clients/{client_id}/revoke",
        client_revoke,
        ["POST"],
        Need.CLIENTS,
        "console.revoke_client",
    ),
    Page(
        "/partners/{partner_id}/client-scopes",
        client_scopes_set,
        ["POST"],
        Need.OPERATOR,
        "console.client_scopes",
    ),
    Page("/partners/{partner_id}/staff", staff_invite, ["POST"], Need.OPERATOR),
    Page("/partners/{partner_id}/statements/{period}", statement, ["GET"], Need.STATEMENTS),
    Page(
        "/partners/{partner_id}/statements/{period}/close",
        statement_close,
        ["POST"],
        Need.OPERATOR,
        "console.close_statement",
    ),
    Page("/partners/{partner_id}/usage/{period}", usage, ["GET"], Need.STATEMENTS),
    Page(
        "/partners/{partner_id}/statements/{period}/{what}",
        statement_download,
        ["GET"],
        Need.STATEMENTS,
    ),
]
