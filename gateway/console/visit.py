"""One request to the console (`Visit`): the request, the signed-in session and helpers to
answer it with the console's templates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from auth import console, ownership
from auth.access import Need
from gateway.settings import Settings
from infra.database import Database
from loyalty.errors import NotFound
from loyalty.visibility import Visibility
from partners.directory import ConnectorDirectory
from partners.settlement.periods import minor_unit

HERE = Path(__file__).parent
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


def figure(value: Any) -> str:
    """A count or quantity grouped as the charts show it: 3,725 and 1,234.5."""
    number = Decimal(str(value))
    return f"{number:,}" if number == number.to_integral_value() else f"{number.normalize():,f}"


def moment(value: datetime | None) -> str:
    """An instant to the minute, with its zone: 2026-03-01 09:30 UTC (times are stored UTC)."""
    if value is None:
        return "open"
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def rate(value: Any) -> Markup:
    """A unit rate: as written when it has at most 4 decimals; else to 4 decimals, marked as
    rounded, with the exact rate (the one the amount was computed with) as its title."""
    exact = Decimal(str(value)).normalize()
    if -exact.as_tuple().exponent <= 4:  # type: ignore[operator]
        return Markup(escape(format(exact, "f")))
    shown = exact.quantize(Decimal("0.0001"), ROUND_HALF_EVEN)
    return Markup('<span title="exactly {0}">≈ {1}</span>').format(format(exact, "f"), shown)


templates.env.filters.update(money=money, plain=plain, figure=figure, moment=moment, rate=rate)

Handler = Callable[["Visit"], Awaitable[Response]]


class Page(NamedTuple):
    """A console route: what it needs of the signed-in person (auth.access decides before the
    handler runs) and, for a form that changes something, the action its audit row names (the
    row goes into the action's own commit: auth.audit.Audited). None: the form's command writes
    its own row (auth.console's invitations, access changes and second factors)."""

    path: str
    handler: Handler
    methods: list[str]
    need: Need
    audit: str | None = None


def acceptable_text(value: str) -> bool:
    """Text a field may take: no control characters but tab and line breaks, no undecodable
    bytes, at most 10,000 characters."""
    return (
        len(value) <= 10_000
        and "\ufffd" not in value
        and not any(ord(c) < 32 and c not in "\t\r\n" for c in value)
    )


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
    def visible(self) -> Visibility:
        """What the signed-in person may see and act on (the ownership policy's decision)."""
        return ownership.visibility(self.principal)

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
                if isinstance(value, str) and acceptable_text(value)}  # fmt: skip


# Rows per page of a long table.
PAGE = 50


def not_found() -> Exception:
    """What the person may not see, answered as a missing page (the routing's 404)."""
    return NotFound("there is no such page")


def whole(text: str | None, most: int = 2**63 - 1) -> int | None:
    """A whole number as typed in an address (ASCII digits, at most `most`), or None: "²" is a
    digit to str.isdigit but not to int(), and 10^30 fits no column."""
    if not text or len(text) > 19 or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= most else None


def number(text: str) -> int:
    found = whole(text)
    if found is None:
        raise not_found()
    return found
