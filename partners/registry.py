"""The partner registry: who the partners are, each with its clearing account in the ledger."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any

from sqlalchemy import ColumnElement, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.database import Database, insert_unless_exists
from infra.models import exchange_terms, ledger_accounts, partners
from infra.partner_records import ExchangeTermsRow, PartnerRow
from infra.reads import keyed
from loyalty import bounds, dated, ledger
from loyalty.errors import InvalidState, NotFound, ValidationFailed
from loyalty.idempotency import check_replay, request_hash, retry_on_race
from loyalty.program import time_zone
from loyalty.visibility import Visibility

_CODE = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")


async def create_partner(
    db: Database,
    *,
    code: str,
    name: str,
    timezone: str | None = None,
    settlement_currency: str | None = None,
    now: datetime | None = None,
) -> PartnerRow:
    """Register a partner under a unique code (its natural idempotency key), in one
    transaction with its clearing account; its time zone and settlement currency when given
    (else the table's defaults, UTC and USD), checked as `update_partner` checks them."""
    if not _CODE.fullmatch(code):
        raise ValidationFailed("a partner code is 2-64 lowercase letters, digits and dashes")
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("a partner name has 1 to 200 characters")
    settings = _settings(timezone, settlement_currency)

    async def attempt() -> Any:
        async with db.transaction() as conn:
            row = await insert_unless_exists(conn, partners, {
                "code": code, "name": name, "created_at": now or datetime.now(UTC), **settings,
            })  # fmt: skip
            if row is None:
                existing = (
                    await conn.execute(select(partners).where(partners.c.code == code))
                ).one()
                asked = {"name": name, **settings}
                check_replay(request_hash(**{key: existing._mapping[key] for key in asked}),
                             request_hash(**asked), code)  # fmt: skip
                return existing
            await conn.execute(
                insert(ledger_accounts).values(
                    id=ledger.partner_clearing_account(row.id), partner_id=row.id
                )
            )
            return row

    return await retry_on_race(attempt)


async def list_partners(db: Database, *, visible: Visibility) -> list[PartnerRow]:
    """Partners by code, those the caller may see."""
    query = select(partners).where(visible.partners).order_by(partners.c.code)
    async with db.read() as conn:
        return list(await conn.execute(query))


class ConnectorKind(StrEnum):
    SIMULATED = "SIMULATED"
    HTTP = "HTTP"


class PartnerStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


class Direction(StrEnum):
    OUTBOUND = "OUTBOUND"
    INBOUND = "INBOUND"


def _promotion_limits(points: int | None, budget: Decimal | None) -> dict[str, Any]:
    """What an operator lets the partner fund (loyalty.promotions.funding), within bounds."""
    given = {"campaign_points_limit": points, "coupon_budget_limit": budget}
    for field, limit in given.items():
        out_of_bounds = None if limit is None else bounds.problem(field, limit)
        if out_of_bounds is not None:
            raise ValidationFailed(f"{field} {out_of_bounds}", argument=field)
    return {field: limit for field, limit in given.items() if limit is not None}


def _settings(timezone: str | None, settlement_currency: str | None) -> dict[str, str]:
    """A partner's time zone (IANA) and settlement currency (ISO 4217), those given."""
    values = {}
    if timezone is not None:
        if time_zone(timezone) is None:
            raise ValidationFailed(f"{timezone[:64]!r} is not an IANA time zone",
                                   argument="timezone")  # fmt: skip
        values["timezone"] = timezone
    if settlement_currency is not None:
        if not re.fullmatch(r"[A-Z]{3}", settlement_currency):
            raise ValidationFailed("a settlement currency is an ISO 4217 code like EUR")
        values["settlement_currency"] = settlement_currency
    return values


async def update_partner(
    db: Database,
    *,
    partner_id: int,
    name: str | None = None,
    status: PartnerStatus | None = None,
    settlement_currency: str | None = None,
    connector_kind: ConnectorKind | None = None,
    connector_url: str | None = None,
    connector_secret: str | None = None,
    timezone: str | None = None,
    client_scopes: Iterable[str] | None = None,
    campaign_points_limit: int | None = None,
    coupon_budget_limit: Decimal | None = None,
) -> PartnerRow:
    """Change what is given; the same values again answer the same."""
    values: dict[str, Any] = _promotion_limits(campaign_points_limit, coupon_budget_limit)
    values.update(_settings(timezone, settlement_currency))
    if client_scopes is not None:
        values["client_scopes"] = " ".join(sorted(set(client_scopes)))
    if name is not None:
        if not name.strip() or len(name.strip()) > 200:
            raise ValidationFailed("a partner name has 1 to 200 characters")
        values["name"] = name.strip()
    if status is not None:
        values["status"] = status
    if connector_kind is not None:
        if connector_kind is ConnectorKind.HTTP and not (connector_url and connector_secret):
            raise ValidationFailed("an HTTP connector needs a URL and a shared secret")
        if connector_url and not connector_url.startswith(("https://", "http://")):
            raise ValidationFailed("a connector URL is http(s)://...")
        values.update(
            connector_kind=connector_kind,
            connector_url=connector_url,
            connector_secret=connector_secret,
        )
    async with db.transaction() as conn:
        row = (
            await conn.execute(
                update(partners)
                .where(partners.c.id == partner_id)
                .values(values)
                .returning(*partners.c)
            )
            if values
            else await conn.execute(select(partners).where(partners.c.id == partner_id))
        ).first()
    if row is None:
        raise NotFound(f"partner {partner_id} does not exist")
    return row


@dataclass(frozen=True, slots=True)
class Terms:
    rate: Decimal
    min_points: int
    max_points: int
    step_points: int
    daily_cap_points: int
    fee_points: int = 0

    def check(self) -> None:
        if (
            not self.rate.is_finite()
            or self.rate <= 0
            or self.rate != self.rate.quantize(Decimal("0.0001"))
        ):
            raise ValidationFailed("a rate is positive with at most 4 decimals")
        if not 0 < self.min_points <= self.max_points:
            raise ValidationFailed("terms need 0 < minimum <= maximum")
        if self.step_points <= 0 or self.daily_cap_points < self.min_points:
            raise ValidationFailed("the step is positive and the daily cap at least the minimum")
        if self.fee_points < 0:
            raise ValidationFailed("a fee is zero or more points")


async def partner_row(
    conn: AsyncConnection, partner_id: int, *, active: bool = False
) -> PartnerRow:
    """The partner, or NOT_FOUND; with `active`, INVALID_STATE unless it is ACTIVE."""
    row = (await conn.execute(select(partners).where(partners.c.id == partner_id))).first()
    if row is None:
        raise NotFound(f"partner {partner_id} does not exist")
    if active and row.status != PartnerStatus.ACTIVE:
        raise InvalidState(f"partner {partner_id} is {row.status}")
    return row


async def find_partner(db: Database, partner_id: int) -> PartnerRow:
    """The partner (NOT_FOUND if there is none), read outside any transaction."""
    async with db.read() as conn:
        return await partner_row(conn, partner_id)


def check_validity(valid_from: datetime, valid_to: datetime | None) -> None:
    """Dated terms (exchange terms, rate cards) end after they start."""
    if valid_to is not None and valid_to <= valid_from:
        raise ValidationFailed("dated terms end after they start", argument="validTo")


async def set_exchange_terms(
    db: Database,
    *,
    partner_id: int,
    direction: Direction,
    terms: Terms,
    valid_from: datetime,
    valid_to: datetime | None = None,
    now: datetime | None = None,
) -> ExchangeTermsRow:
    """Add dated terms; a later `valid_from` takes over from then on (terms are never edited,
    so a quote or statement can always show the terms it used)."""
    terms.check()
    values = {"direction": direction, **asdict(terms)}
    return await add_dated(db, exchange_terms, partner_id, values, valid_from, valid_to, now)


async def add_dated(
    db: Database,
    table: Table,
    partner_id: int,
    values: dict[str, Any],
    valid_from: datetime,
    valid_to: datetime | None,
    now: datetime | None,
) -> Any:
    """A partner's dated terms (exchange terms, rate cards): they end after they start, and are
    added, never edited."""
    check_validity(valid_from, valid_to)
    async with db.transaction() as conn:
        await partner_row(conn, partner_id)
        statement = insert(table).values(
            partner_id=partner_id, valid_from=valid_from, valid_to=valid_to,
            created_at=now or datetime.now(UTC), **values,
        )  # fmt: skip
        return (await conn.execute(statement.returning(*table.c))).one()


async def exchange_terms_of(conn: AsyncConnection, partner_id: int) -> list[ExchangeTermsRow]:
    """Every exchange terms of a partner, both directions, as added."""
    return list(await conn.execute(
        select(exchange_terms).where(exchange_terms.c.partner_id == partner_id)
        .order_by(exchange_terms.c.id)
    ))  # fmt: skip


async def terms_in_force(
    conn: AsyncConnection, partner_id: int, direction: Direction, at: datetime
) -> ExchangeTermsRow | None:
    """The latest terms that started by `at` and have not ended."""
    current, _ = await in_force_and_next(
        conn, exchange_terms, at,
        exchange_terms.c.partner_id == partner_id, exchange_terms.c.direction == direction,
    )  # fmt: skip
    return current


async def in_force_and_next(
    conn: AsyncConnection, table: Any, at: datetime, *where: ColumnElement[bool]
) -> tuple[Any | None, Any | None]:
    """Of dated terms (rate cards, exchange terms) matching `where`: the one in force at `at`
    (loyalty.dated) and the next to start."""
    current = (await conn.execute(
        select(table).where(*where, dated.in_force(table, at))
        .order_by(*dated.latest_first(table)).limit(1)
    )).first()  # fmt: skip
    upcoming = (await conn.execute(
        select(table).where(*where, table.c.valid_from > at)
        .order_by(table.c.valid_from, table.c.id).limit(1)
    )).first()  # fmt: skip
    return current, upcoming


partners_by_id = keyed(tuple(partners.c), partners.c.id, visible=attrgetter("partners"))

# The partners' exchange terms, in the order they take effect.
terms_of = keyed(
    tuple(exchange_terms.c), exchange_terms.c.partner_id,
    order_by=(exchange_terms.c.valid_from, exchange_terms.c.id),
)  # fmt: skip
