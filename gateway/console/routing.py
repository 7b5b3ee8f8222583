"""How every console route is served (`Views.view`): the session, the query's text, what the
page needs of the signed-in person (auth.access), the form's CSRF token, and for a form that
changes something its audit row in the action's own commit (auth.audit.Audited). Handlers only
act and render."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from auth import access, audit, console
from auth.access import Need
from gateway.console.visit import Handler, Visit, acceptable_text, whole
from gateway.settings import Settings
from infra.database import Database
from loyalty.errors import DomainError
from partners.directory import ConnectorDirectory

COOKIE = "pointgate_console"
# Before a session exists (signing in, accepting an invitation), forms carry this cookie's
# value as their CSRF token (a double submit).
FORM_COOKIE = "pointgate_console_form"
EXPIRED = "This form is out of date: reload the page and send it again."
# The form fields that name what a form creates, for its audit row's target.
NAMING_FIELDS = ("code", "name", "email")


async def _csrf_matches(request: Request, session: console.Session | None) -> bool:
    """A form's CSRF token is its session's (or, before one, the form cookie's: a double
    submit); compared as bytes, since compare_digest refuses non-ASCII str (a 500)."""
    expected = session.csrf_token if session else request.cookies.get(FORM_COOKIE)
    sent = str((await request.form()).get("csrf") or "").encode("utf-8", "surrogatepass")
    return bool(expected) and hmac.compare_digest(sent, str(expected).encode())


def _may_open(visit: Visit, need: Need) -> bool:
    """auth.access's answer for the page's need and the partner in its address (an address
    naming no valid partner id opens nothing)."""
    named = visit.request.path_params.get("partner_id")
    partner_id = whole(named)
    if named is not None and partner_id is None:
        return False
    return access.may_open(need, visit.principal, partner_id)


def no_page(visit: Visit) -> Response:
    """What a person may not see is answered as a page that does not exist."""
    return visit.page("message.html", 404, title="Not found", message="There is no such page.")


async def _target(visit: Visit) -> str:
    """What a form acted on, for its audit row: the address it was sent to (which names the
    partner, client, delivery or campaign), and the name it gave what it creates."""
    # as it came over the wire, percent-encoded: whatever a path holds, it fits a text column
    raw = visit.request.scope.get("raw_path") or visit.request.url.path.encode()
    path = raw.decode("latin-1").removeprefix("/console")
    form = await visit.form()
    named = next((f"{key}={form[key]}" for key in NAMING_FIELDS if form.get(key)), "")
    return f"{path} {named}".strip()


class Views:
    """The console's routes' common serving, over one database and settings."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        directory: ConnectorDirectory,
        signer: URLSafeSerializer,
    ) -> None:
        self.db, self.settings, self.directory, self.signer = db, settings, directory, signer

    async def session_of(self, request: Request) -> console.Session | None:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            token = self.signer.loads(cookie)
        except BadSignature:
            return None
        return await console.session(self.db, str(token))

    def view(
        self, handler: Handler, need: Need | None = Need.SIGNED_IN, action: str | None = None
    ) -> Callable[[Request], Awaitable[Response]]:
        """`handler` behind the session, what the page needs of the signed-in person (None: a
        page for people not signed in), the CSRF check, and `action`'s audit row."""

        async def endpoint(request: Request) -> Response:
            session = await self.session_of(request)
            if need is not None and session is None:
                return RedirectResponse("/console/sign-in", status_code=303)
            visit = Visit(request, session, self.db, self.settings, self.directory)
            if not all(acceptable_text(value) for value in request.query_params.values()):
                return no_page(visit)
            if need is not None and not _may_open(visit, need):
                return no_page(visit)
            if session is None:
                visit.form_token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)
            if request.method == "POST" and not await _csrf_matches(request, session):
                return visit.page("message.html", 403, title="Form expired", message=EXPIRED)
            try:
                if action is None:
                    answer = await handler(visit)
                else:
                    answer = await self._audited(visit, handler, action)
            except DomainError as error:
                if error.code == "NOT_FOUND":
                    return no_page(visit)
                raise
            if session is None and FORM_COOKIE not in request.cookies:
                answer.set_cookie(FORM_COOKIE, visit.form_token, path="/console", secure=True,
                                  httponly=True, samesite="lax")  # fmt: skip
            return answer

        return endpoint

    async def _audited(self, visit: Visit, handler: Handler, action: str) -> Response:
        """The form's action, with its audit row written in the action's first commit: an
        action that committed has its row, and one whose row fails commits nothing."""
        target = await _target(visit)
        async with audit.audited(self.db, visit.principal, action, target) as entry:
            answer = await handler(visit)
            # A form answered with its page again (422, 409) changed nothing.
            entry.outcome = "OK" if answer.status_code < 400 else "REFUSED"
        return answer
