"""What every console answer tells the browser (an ASGI middleware on the console's mount)."""

from __future__ import annotations

import base64
import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from partners.statement_report import CHART_CSS, REPORT_CSS


# What every console answer tells the browser: only this origin's scripts, styles and
# forms, never in a frame, no referrer to other sites, no type sniffing, HTTPS only, and
# nothing kept in caches (pages show people's data and secrets shown once).
def _hashed(css: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


# The statement's chart styles and the stand-alone report's, allowed by their hashes (the
# browser refused them as inline styles before, and drew the charts unstyled).
STYLES = " ".join(_hashed(css) for css in (CHART_CSS, REPORT_CSS))
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
     b"frame-ancestors 'none'; form-action 'self'; style-src 'self' " + STYLES.encode()),
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
