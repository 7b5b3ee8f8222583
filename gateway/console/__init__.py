"""The console: server-rendered pages under /console for the program's operators and partners'
staff (Jinja2 templates, a stylesheet and no script of our own; every asset is served from this
package). People sign in with an e-mail and a password (auth.console, gateway.console.signin);
the session is a signed, Secure, HttpOnly, SameSite=Lax cookie whose token the database can
revoke, and every form carries the session's CSRF token. Each page declares what it needs of the
signed-in person (auth.access decides; what they may not open is answered as a missing page,
404) and, for a form that changes something, the action its audit row names (written in the
action's own commit); pages call the same domain functions as the graph
(gateway.console.routing)."""

from __future__ import annotations

from itsdangerous import URLSafeSerializer
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

import gateway.console.kpis as kpis
import gateway.console.live as live
import gateway.console.members as members
import gateway.console.pages as pages
import gateway.console.partner_pages as partner_pages
import gateway.console.promotion_changes as promotion_changes
import gateway.console.promotion_forms as promotion_forms
from gateway.console.headers import SecurityHeaders
from gateway.console.routing import Views
from gateway.console.signin import SignIn, has_provider
from gateway.console.visit import HERE
from gateway.settings import Settings
from infra.database import Database
from infra.secrets import Keyring
from infra.store import Store
from partners.directory import ConnectorDirectory

# Every page of the console, with what it needs and the action its form's audit row names.
ROUTES = (*pages.ROUTES, *partner_pages.ROUTES, *members.ROUTES, *kpis.ROUTES,
          *promotion_forms.ROUTES, *promotion_changes.ROUTES, *live.ROUTES)  # fmt: skip


def routes(
    db: Database,
    settings: Settings,
    keyring: Keyring,
    store: Store,
    directory: ConnectorDirectory,
) -> list[BaseRoute]:
    signer = URLSafeSerializer(keyring.derived("console-session"), salt="console-session")
    views = Views(db, settings, directory, signer)
    signing_in = SignIn(db, settings, keyring, store, signer)
    # What the identity provider's sign-in round trip keeps meanwhile (its state and nonce, for
    # Authlib), in a signed cookie of its own.
    provider_state = [Middleware(
        SessionMiddleware, secret_key=keyring.derived("console-oidc")[-1].hex(),
        session_cookie="pointgate_console_oidc", max_age=600, path="/console",
        same_site="lax", https_only=True,
    )] if has_provider(settings) else []  # fmt: skip
    pages_routes = [
        Route(page.path, views.view(page.handler, page.need, page.audit), methods=page.methods)
        for page in ROUTES
    ]
    return [
        Mount(
            "/console",
            routes=[
                Route("/", views.view(pages.home)),
                *signing_in.routes(views, settings),
                *pages_routes,
                Mount("/static", StaticFiles(directory=HERE / "static"), name="console-static"),
            ],
            middleware=[Middleware(SecurityHeaders), *provider_state],
        ),
    ]
