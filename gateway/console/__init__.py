"""The console: server-rendered pages under /console for the program's operators and partners'
staff (Jinja2 templates, a stylesheet and no script of our own; every asset is served from this
package). People sign in with an e-mail and a password (auth.console); the session is a signed,
Secure, HttpOnly, SameSite=Lax cookie whose token the database can revoke, and every form
carries the session's CSRF token. Pages call the same domain functions as the graph and ask
auth.ownership what the person may see: what they may not is answered as a missing page (404).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from authlib.integrations.starlette_client import OAuth, OAuthError
from itsdangerous import BadSignature, TimestampSigner, URLSafeSerializer
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

import gateway.console.kpis as kpis
import gateway.console.members as members
import gateway.console.pages as pages
from auth import access, console
from auth.access import Need
from auth.throttle import AuthenticationThrottle
from gateway.console.headers import SecurityHeaders
from gateway.console.visit import HERE, Handler, Visit, acceptable_text
from gateway.settings import Settings
from infra.database import Database
from infra.secrets import Keyring
from infra.store import Store
from loyalty.errors import DomainError, ValidationFailed
from partners.directory import ConnectorDirectory

COOKIE = "pointgate_console"
# Before a session exists (signing in, accepting an invitation), forms carry this cookie's
# value as their CSRF token (a double submit).
FORM_COOKIE = "pointgate_console_form"
# How long the second step of a sign-in waits for the code.
CODE_SECONDS = 300


def _address(visit: Visit) -> str | None:
    return visit.request.client.host if visit.request.client else None


EXPIRED = "This form is out of date: reload the page and send it again."


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
    partner_id = pages._whole(named)
    if named is not None and partner_id is None:
        return False
    return access.may_open(need, visit.principal, partner_id)


def _no_page(visit: Visit) -> Response:
    """What a person may not see is answered as a page that does not exist."""
    return visit.page("message.html", 404, title="Not found", message="There is no such page.")


def routes(
    db: Database,
    settings: Settings,
    keyring: Keyring,
    store: Store,
    directory: ConnectorDirectory,
) -> list[BaseRoute]:
    signer = URLSafeSerializer(keyring.derived("console-session"), salt="console-session")
    # Between a right password and the authenticator's code: whose sign-in it is, for a while.
    pending = TimestampSigner(keyring.derived("console-code"), salt="console-code")
    throttle = AuthenticationThrottle(store, burst=5, per_minute=2, prefix="console-sign-in")
    provider = bool(settings.console_oidc_metadata_url and settings.console_oidc_client_id
                    and settings.console_oidc_client_secret)  # fmt: skip

    def view(
        handler: Handler, need: Need | None = Need.SIGNED_IN
    ) -> Callable[[Request], Awaitable[Response]]:
        """`handler` behind the session, the CSRF check and what the page needs of the
        signed-in person (None: a page for people not signed in)."""

        async def endpoint(request: Request) -> Response:
            session = await _session_of(request)
            if need is not None and session is None:
                return RedirectResponse("/console/sign-in", status_code=303)
            visit = Visit(request, session, db, settings, directory)
            if not all(acceptable_text(value) for value in request.query_params.values()):
                return _no_page(visit)
            if need is not None and not _may_open(visit, need):
                return _no_page(visit)
            if session is None:
                visit.form_token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)
            if request.method == "POST" and not await _csrf_matches(request, session):
                return visit.page("message.html", 403, title="Form expired", message=EXPIRED)
            try:
                answer = await handler(visit)
                if session is None and FORM_COOKIE not in request.cookies:
                    answer.set_cookie(
                        FORM_COOKIE,
                        visit.form_token,
                        path="/console",
                        secure=True,
                        httponly=True,
                        samesite="lax",
                    )
                return answer
            except pages.NotFoundPage:
                return _no_page(visit)
            except DomainError as error:
                if error.code == "NOT_FOUND":
                    return _no_page(visit)
                raise

        return endpoint

    async def _session_of(request: Request) -> console.Session | None:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            token = signer.loads(cookie)
        except BadSignature:
            return None
        return await console.session(db, str(token))

    async def sign_in_page(visit: Visit) -> Response:
        if visit.session is not None:
            return visit.redirect("/console")
        return visit.page("sign_in.html", title="Sign in", provider=provider)

    async def sign_in(visit: Visit) -> Response:
        form = await visit.form()
        try:
            opened = await console.sign_in(
                db, throttle, email=form.get("email", ""), password=form.get("password", ""),
                address=_address(visit),
            )  # fmt: skip
        except console.SignInRefused as refused:
            return _refused(visit, "sign_in.html", refused, email=form.get("email", ""))
        except console.CodeNeeded as needed:
            # Whose sign-in it is, and a nonce that a completed sign-in uses up.
            ticket = f"{needed.user.id}.{secrets.token_urlsafe(16)}"
            return visit.page("code.html", title="Sign in: second step",
                              pending=pending.sign(ticket).decode())  # fmt: skip
        return _signed_in(visit, opened)

    async def sign_in_code(visit: Visit) -> Response:
        form = await visit.form()
        try:
            ticket = pending.unsign(form.get("pending", ""), max_age=CODE_SECONDS).decode()
            user_id = int(ticket.partition(".")[0])
        except (BadSignature, ValueError, UnicodeDecodeError):
            return visit.redirect("/console/sign-in")
        used = f"console-code-used:{ticket}"
        if await store.get(used) is not None:  # this step completed a sign-in already
            return visit.redirect("/console/sign-in")
        try:
            opened = await console.complete_sign_in(
                db, throttle, user_id=user_id, code=form.get("code", ""),
                address=_address(visit),
            )  # fmt: skip
        except console.SignInRefused as refused:
            return _refused(visit, "code.html", refused, pending=form.get("pending", ""),
                            what="code")  # fmt: skip
        await store.set(used, "1", ttl_seconds=CODE_SECONDS + 1)
        return _signed_in(visit, opened)

    def _refused(
        visit: Visit, template: str, refused: console.SignInRefused, *,
        what: str = "e-mail address or the password", **shown: Any,
    ) -> Response:  # fmt: skip
        wait = f" Try again in {refused.retry_after} seconds." if refused.retry_after else ""
        return visit.page(template, 401, title="Sign in",
                          error=f"The {what} is not right.{wait}", **shown)  # fmt: skip

    def _signed_in(visit: Visit, opened: console.Session) -> Response:
        answer = visit.redirect("/console")
        answer.set_cookie(
            COOKIE, signer.dumps(opened.token),
            max_age=int(console.SESSION_LIFETIME.total_seconds()), path="/console",
            secure=True, httponly=True, samesite="lax",
        )  # fmt: skip
        return answer

    async def sign_out(visit: Visit) -> Response:
        assert visit.session is not None
        await console.sign_out(db, visit.session)
        answer = visit.redirect("/console/sign-in")
        answer.delete_cookie(COOKIE, path="/console", secure=True, httponly=True, samesite="lax")
        return answer

    async def invitation(visit: Visit) -> Response:
        token = visit.request.path_params["token"]
        person = await console.invited(db, token)
        if visit.request.method == "GET":
            return visit.page("invitation.html", title="Choose a password", person=person)
        form = await visit.form()
        try:
            if form.get("password") != form.get("repeat"):
                raise ValidationFailed("the two passwords differ", argument="repeat")
            await console.accept(db, token, form.get("password", ""))
        except DomainError as error:
            if error.code == "NOT_FOUND":
                raise
            return visit.page(
                "invitation.html",
                422,
                title="Choose a password",
                person=person,
                error=error.message,
            )
        return visit.page(
            "message.html",
            title="Password set",
            message="Your password is set: sign in with it.",
            link="/console/sign-in",
        )

    return [
        Mount(
            "/console",
            routes=[
                Route("/", view(pages.home)),
                Route("/sign-in", view(sign_in_page, None)),
                Route("/sign-in", view(sign_in, None), methods=["POST"]),
                Route("/sign-in/code", view(sign_in_code, None), methods=["POST"]),
                *(_provider_routes(db, settings, view, _signed_in) if provider else []),
                Route("/sign-out", view(sign_out), methods=["POST"]),
                Route(
                    "/invitations/{token}",
                    view(invitation, None),
                    methods=["GET", "POST"],
                    name="console-invitation",
                ),
                *(
                    Route(path, view(handler, need), methods=methods)
                    for path, handler, methods, need in (*pages.ROUTES, *members.ROUTES,
                                                         *kpis.ROUTES)
                ),
                Mount("/static", StaticFiles(directory=HERE / "static"), name="console-static"),
            ],
            # What the identity provider's sign-in round trip keeps meanwhile (its state and
            # nonce, for Authlib), in a signed cookie of its own.
            middleware=[Middleware(SecurityHeaders), *([Middleware(
                SessionMiddleware, secret_key=keyring.derived("console-oidc")[-1].hex(),
                session_cookie="pointgate_console_oidc", max_age=600, path="/console",
                same_site="lax", https_only=True,
            )] if provider else [])],
        ),
    ]  # fmt: skip


def _provider_routes(
    db: Database,
    settings: Settings,
    view: Callable[..., Callable[[Request], Awaitable[Response]]],
    signed_in: Callable[[Visit, console.Session], Response],
) -> list[Route]:
    """Operators' sign-in through the company's OpenID Connect provider (Authlib's Starlette
    client): the provider vouches for an e-mail address, which must be an operator's here."""
    oauth = OAuth()
    oauth.register(
        "company", server_metadata_url=settings.console_oidc_metadata_url,
        client_id=settings.console_oidc_client_id,
        client_secret=settings.console_oidc_client_secret,
        client_kwargs={"scope": "openid email"},
    )  # fmt: skip
    company: Any = oauth.create_client("company")

    async def start(visit: Visit) -> Response:
        back = visit.request.url_for("console-provider-callback")
        answer: Response = await company.authorize_redirect(visit.request, back)
        return answer

    async def callback(visit: Visit) -> Response:
        try:
            token = await company.authorize_access_token(visit.request)
            claims = token.get("userinfo") or {}
            opened = await console.sign_in_by_identity_provider(
                db, email=claims.get("email"), verified=claims.get("email_verified")
            )
        except (OAuthError, console.SignInRefused):
            return visit.page("sign_in.html", 401, title="Sign in", provider=True,
                              error="Your company account is not an operator's here.")  # fmt: skip
        return signed_in(visit, opened)

    return [
        Route("/sign-in/company", view(start, None)),
        Route("/sign-in/company/callback", view(callback, None),
              name="console-provider-callback"),
    ]  # fmt: skip
