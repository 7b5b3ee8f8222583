"""Signing in to the console and out of it: an e-mail and a password (auth.console), a second
step with the authenticator's code when the person set one, accepting an invitation, and for
operators the company's OpenID Connect provider (Authlib's Starlette client)."""

from __future__ import annotations

import secrets
from typing import Any

from authlib.integrations.starlette_client import OAuth, OAuthError
from itsdangerous import BadSignature, TimestampSigner, URLSafeSerializer
from starlette.responses import Response
from starlette.routing import Route

from auth import console
from auth.throttle import AuthenticationThrottle
from gateway.console.routing import COOKIE, Views
from gateway.console.visit import Visit
from gateway.settings import Settings
from infra.database import Database
from infra.secrets import Keyring
from infra.store import Store
from loyalty.errors import DomainError, ValidationFailed

# How long the second step of a sign-in waits for the code.
CODE_SECONDS = 300


def _address(visit: Visit) -> str | None:
    return visit.request.client.host if visit.request.client else None


def has_provider(settings: Settings) -> bool:
    return bool(settings.console_oidc_metadata_url and settings.console_oidc_client_id
                and settings.console_oidc_client_secret)  # fmt: skip


class SignIn:
    """The sign-in pages' handlers, over one database, store and keyring."""

    def __init__(self, db: Database, settings: Settings, keyring: Keyring, store: Store,
                 signer: URLSafeSerializer) -> None:  # fmt: skip
        self.db, self.store, self.signer = db, store, signer
        # Between a right password and the authenticator's code: whose sign-in it is, for a while.
        self.pending = TimestampSigner(keyring.derived("console-code"), salt="console-code")
        self.throttle = AuthenticationThrottle(store, burst=5, per_minute=2,
                                               prefix="console-sign-in")  # fmt: skip
        self.provider = has_provider(settings)

    async def page(self, visit: Visit) -> Response:
        if visit.session is not None:
            return visit.redirect("/console")
        return visit.page("sign_in.html", title="Sign in", provider=self.provider)

    async def password(self, visit: Visit) -> Response:
        form = await visit.form()
        try:
            opened = await console.sign_in(
                self.db, self.throttle, email=form.get("email", ""),
                password=form.get("password", ""), address=_address(visit),
            )  # fmt: skip
        except console.SignInRefused as refused:
            return _refused(visit, "sign_in.html", refused, email=form.get("email", ""))
        except console.CodeNeeded as needed:
            # Whose sign-in it is, and a nonce that a completed sign-in uses up.
            ticket = f"{needed.user.id}.{secrets.token_urlsafe(16)}"
            return visit.page("code.html", title="Sign in: second step",
                              pending=self.pending.sign(ticket).decode())  # fmt: skip
        return self.signed_in(visit, opened)

    async def code(self, visit: Visit) -> Response:
        form = await visit.form()
        try:
            ticket = self.pending.unsign(form.get("pending", ""), max_age=CODE_SECONDS).decode()
            user_id = int(ticket.partition(".")[0])
        except (BadSignature, ValueError, UnicodeDecodeError):
            return visit.redirect("/console/sign-in")
        used = f"console-code-used:{ticket}"
        if await self.store.get(used) is not None:  # this step completed a sign-in already
            return visit.redirect("/console/sign-in")
        try:
            opened = await console.complete_sign_in(
                self.db, self.throttle, user_id=user_id, code=form.get("code", ""),
                address=_address(visit),
            )  # fmt: skip
        except console.SignInRefused as refused:
            return _refused(visit, "code.html", refused, pending=form.get("pending", ""),
                            what="code")  # fmt: skip
        await self.store.set(used, "1", ttl_seconds=CODE_SECONDS + 1)
        return self.signed_in(visit, opened)

    def signed_in(self, visit: Visit, opened: console.Session) -> Response:
        answer = visit.redirect("/console")
        answer.set_cookie(
            COOKIE, self.signer.dumps(opened.token),
            max_age=int(console.SESSION_LIFETIME.total_seconds()), path="/console",
            secure=True, httponly=True, samesite="lax",
        )  # fmt: skip
        return answer

    async def sign_out(self, visit: Visit) -> Response:
        assert visit.session is not None
        await console.sign_out(self.db, visit.session)
        answer = visit.redirect("/console/sign-in")
        answer.delete_cookie(COOKIE, path="/console", secure=True, httponly=True, samesite="lax")
        return answer

    async def invitation(self, visit: Visit) -> Response:
        token = visit.request.path_params["token"]
        person = await console.invited(self.db, token)
        if visit.request.method == "GET":
            return visit.page("invitation.html", title="Choose a password", person=person)
        form = await visit.form()
        try:
            if form.get("password") != form.get("repeat"):
                raise ValidationFailed("the two passwords differ", argument="repeat")
            await console.accept(self.db, token, form.get("password", ""))
        except DomainError as error:
            if error.code == "NOT_FOUND":
                raise
            return visit.page("invitation.html", 422, title="Choose a password", person=person,
                              error=error.message)  # fmt: skip
        return visit.page("message.html", title="Password set",
                          message="Your password is set: sign in with it.",
                          link="/console/sign-in")  # fmt: skip

    def routes(self, views: Views, settings: Settings) -> list[Route]:
        return [
            Route("/sign-in", views.view(self.page, None)),
            Route("/sign-in", views.view(self.password, None), methods=["POST"]),
            Route("/sign-in/code", views.view(self.code, None), methods=["POST"]),
            *(self._provider_routes(views, settings) if self.provider else []),
            Route("/sign-out", views.view(self.sign_out), methods=["POST"]),
            Route("/invitations/{token}", views.view(self.invitation, None),
                  methods=["GET", "POST"], name="console-invitation"),
        ]  # fmt: skip

    def _provider_routes(self, views: Views, settings: Settings) -> list[Route]:
        """Operators' sign-in through the company's OpenID Connect provider: the provider
        vouches for an e-mail address, which must be an operator's here."""
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
                    self.db, email=claims.get("email"), verified=claims.get("email_verified")
                )
            except (OAuthError, console.SignInRefused):
                refused = "Your company account is not an operator's here."
                return visit.page("sign_in.html", 401, title="Sign in", provider=True,
                                  error=refused)  # fmt: skip
            return self.signed_in(visit, opened)

        return [
            Route("/sign-in/company", views.view(start, None)),
            Route("/sign-in/company/callback", views.view(callback, None),
                  name="console-provider-callback"),
        ]  # fmt: skip


def _refused(
    visit: Visit, template: str, refused: console.SignInRefused, *,
    what: str = "e-mail address or the password", **shown: Any,
) -> Response:  # fmt: skip
    wait = f" Try again in {refused.retry_after} seconds." if refused.retry_after else ""
    return visit.page(template, 401, title="Sign in",
                      error=f"The {what} is not right.{wait}", **shown)  # fmt: skip
