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
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from authlib.integrations.starlette_client import OAuth, OAuthError
from itsdangerous import BadSignature, TimestampSigner, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth import console
from auth.throttle import AuthenticationThrottle
from gateway.console import members, pages
from gateway.settings import Settings
from infra.database import Database
from infra.errors import DomainError, ValidationFailed
from infra.secrets import Keyring
from infra.store import Store
from partners.directory import ConnectorDirectory
from partners.settlement.periods import minor_unit

HERE = Path(__file__).parent
COOKIE = "pointgate_console"
# Before a session exists (signing in, accepting an invitation), forms carry this cookie's
# value as their CSRF token (a double submit).
FORM_COOKIE = "pointgate_console_form"
# How long the second step of a sign-in waits for the code.
CODE_SECONDS = 300
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
)


def money(amount: Decimal, currency: str) -> str:
    """An amount in its currency's minor units, grouped: 1,234.50 USD."""
    exponent = -minor_unit(currency).as_tuple().exponent  # type: ignore[operator]
    return f"{amount.quantize(minor_unit(currency), ROUND_HALF_EVEN):,.{exponent}f} {currency}"


def plain(value: Decimal) -> str:
    """A rate as written, without the trailing zeros of its stored scale: 0.008, 3."""
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


templates.env.filters["money"] = money
templates.env.filters["plain"] = plain

Handler = Callable[["Visit"], Awaitable[Response]]


# What every console answer tells the browser: only this origin's scripts, styles and
# forms, never in a frame, no referrer to other sites, no type sniffing, HTTPS only, and
# nothing kept in caches (pages show people's data and secrets shown once).
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
     b"frame-ancestors 'none'; form-action 'self'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cache-control", b"no-store"),
]  # fmt: skip


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                static = scope["path"].startswith("/console/static/")
                named = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(
                        (name, value)
                        for name, value in SECURITY_HEADERS
                        if name not in named and not (static and name == b"cache-control")
                    ),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def _plain(value: str) -> bool:
    return (
        len(value) <= 10_000
        and "\ufffd" not in value
        and not any(ord(c) < 32 and c not in "\t\r\n" for c in value)
    )


def _address(visit: Visit) -> str | None:
    return visit.request.client.host if visit.request.client else None


class Visit:
    """One request to the console: the request, the signed-in session (or None) and helpers to
    answer it."""

    def __init__(
        self,
        request: Request,
        session: console.Session | None,
        db: Database,
        settings: Settings,
        directory: ConnectorDirectory,
    ) -> None:
        self.request, self.session, self.db, self.settings = request, session, db, settings
        self.program, self.directory = settings.program, directory
        self.now = datetime.now(UTC)
        self.form_token = ""

    @property
    def principal(self) -> Any:
        assert self.session is not None
        return self.session.principal

    @property
    def user(self) -> Any:
        assert self.session is not None
        return self.session.user

    def page(self, template: str, status: int = 200, **values: Any) -> Response:
        return templates.TemplateResponse(
            self.request,
            template,
            {
                "session": self.session,
                "user": self.session.user if self.session else None,
                "csrf": self.session.csrf_token if self.session else self.form_token,
                **values,
            },
            status_code=status,
        )

    def redirect(self, path: str) -> Response:
        return RedirectResponse(path, status_code=303)

    async def form(self) -> dict[str, str]:
        """The form's text values; a value no field takes (control characters such as NUL,
        over 10,000 characters, undecodable bytes) is dropped, as if not sent."""
        return {key: str(value) for key, value in (await self.request.form()).items()
                if isinstance(value, str) and _plain(value)}  # fmt: skip


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
        handler: Handler, *, signed_in: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = await _session_of(request)
            if signed_in and session is None:
                return RedirectResponse("/console/sign-in", status_code=303)
            visit = Visit(request, session, db, settings, directory)
            if session is None:
                visit.form_token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)
            if request.method == "POST":
                expected = session.csrf_token if session else request.cookies.get(FORM_COOKIE)
                sent = (await request.form()).get("csrf")
                # as bytes: compare_digest refuses str with non-ASCII characters (a 500)
                given = str(sent or "").encode("utf-8", "surrogatepass")
                if not expected or not hmac.compare_digest(given, expected.encode()):
                    return visit.page(
                        "message.html",
                        403,
                        title="Form expired",
                        message="This form is out of date: reload the page and send it again.",
                    )
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
                return visit.page(
                    "message.html", 404, title="Not found", message="There is no such page."
                )
            except DomainError as error:
                if error.code == "NOT_FOUND":
                    return visit.page(
                        "message.html", 404, title="Not found", message="There is no such page."
                    )
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
                Route("/sign-in", view(sign_in_page, signed_in=False)),
                Route("/sign-in", view(sign_in, signed_in=False), methods=["POST"]),
                Route("/sign-in/code", view(sign_in_code, signed_in=False), methods=["POST"]),
                *(_provider_routes(db, settings, view, _signed_in) if provider else []),
                Route("/sign-out", view(sign_out), methods=["POST"]),
                Route(
                    "/invitations/{token}",
                    view(invitation, signed_in=False),
                    methods=["GET", "POST"],
                    name="console-invitation",
                ),
                *(
                    Route(path, view(handler), methods=methods)
                    for path, handler, methods in (*pages.ROUTES, *members.ROUTES)
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
        Route("/sign-in/company", view(start, signed_in=False)),
        Route("/sign-in/company/callback", view(callback, signed_in=False),
              name="console-provider-callback"),
    ]  # fmt: skip
