"""Lifecycle and value segment, computed from purchases and interactions by SQL expressions
correlated to the members table, so the same rules both answer `member.lifecycle` for a batch of
members and filter the member list in the database (never a loop over members in Python).

Lifecycle, first match wins: NEW (enrolled within `new_member_days`), DORMANT (no purchase in the
last `dormant_days`), AT_RISK (purchases in the last `dormant_days` at most `at_risk_ratio` of the
`dormant_days` before), ACTIVE. Segment bands over the growth window: spend, purchase frequency
and interactions per month, each HIGH / MID / LOW by the program's thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, case, func, literal, select, true, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.models import interactions, members, purchases
from infra.types import Money
from loyalty.growth import window_start
from loyalty.program import Program


class Lifecycle(StrEnum):
    NEW = "NEW"
    ACTIVE = "ACTIVE"
    DORMANT = "DORMANT"
    AT_RISK = "AT_RISK"


class Band(StrEnum):
    LOW = "LOW"
    MID = "MID"
    HIGH = "HIGH"


@dataclass(frozen=True, slots=True)
class SegmentCriteria:
    lifecycle: Lifecycle | None = None
    spend: Band | None = None
    frequency: Band | None = None
    interactions: Band | None = None


def _purchase_count(scope: Any, after: datetime, until: datetime | None = None) -> Any:
    """The member's purchases in (after, until], a fully refunded one not counting."""
    query = select(func.count(purchases.c.id)).where(
        purchases.c.member_id == members.c.id, purchases.c.purchased_at > after, scope,
        purchases.c.refunded_amount < purchases.c.amount,
    )  # fmt: skip
    if until is not None:
        query = query.where(purchases.c.purchased_at <= until)
    return query.scalar_subquery()


def _band(value: Any, high: Any, mid: Any) -> Any:
    return case((value >= high, Band.HIGH.value), (value >= mid, Band.MID.value), else_="LOW")


def instants(program: Program, now: datetime) -> dict[str, datetime]:
    """The instants the measures at `now` count from: enrolled after `new_since` is NEW;
    purchases after `recent_since` are recent, those after `previous_since` (until
    `recent_since`) the period before; the growth window starts at `window_start`."""
    period = timedelta(days=program.dormant_days)
    return {
        "new_since": now - timedelta(days=program.new_member_days),
        "recent_since": now - period,
        "previous_since": now - 2 * period,
        "window_start": window_start(program, now),
    }


class Measures:
    """The correlated expressions, built once per (program, now). `purchase_scope` and
    `interaction_scope` narrow the rows they aggregate (a partner's view: its own purchases).
    `at` gives the instants (`instants`) as SQL expressions instead, such as parameters of a
    statement planned once and run at many `now`s (resolvers.compiled)."""

    def __init__(
        self,
        program: Program,
        now: datetime | None,
        purchase_scope: Any = None,
        interaction_scope: Any = None,
        *,
        at: dict[str, Any] | None = None,
    ) -> None:
        purchase_scope = true() if purchase_scope is None else purchase_scope
        interaction_scope = true() if interaction_scope is None else interaction_scope
        if at is None:
            assert now is not None
            at = instants(program, now)
        recent = _purchase_count(purchase_scope, at["recent_since"])
        previous = _purchase_count(purchase_scope, at["previous_since"], at["recent_since"])
        ratio_num, ratio_den = program.at_risk_ratio.as_integer_ratio()
        self.lifecycle = case(
            (members.c.enrolled_at > at["new_since"], "NEW"),
            (recent == 0, "DORMANT"),
            (recent * ratio_den <= previous * ratio_num, "AT_RISK"),
            else_="ACTIVE",
        )
        start = at["window_start"]
        self.spend = type_coerce(
            select(func.coalesce(func.sum(purchases.c.amount - purchases.c.refunded_amount), 0))
            .where(
                purchases.c.member_id == members.c.id,
                purchases.c.purchased_at > start,
                purchase_scope,
            )
            .scalar_subquery(),
            Money,
        )
        self.purchase_count = _purchase_count(purchase_scope, start)
        self.interaction_count = (
            select(func.count(interactions.c.id))
            .where(
                interactions.c.member_id == members.c.id,
                interactions.c.occurred_at > start,
                interaction_scope,
            )
            .scalar_subquery()
        )
        months = program.growth_window_months
        self.spend_band = _band(
            self.spend, literal(program.spend_high, Money), literal(program.spend_mid, Money)
        )
        self.frequency_band = _band(
            self.purchase_count, program.frequency_high, program.frequency_mid
        )
        self.interaction_band = _band(
            self.interaction_count,
            program.interactions_per_month_high * months,
            program.interactions_per_month_mid * months,
        )

    def filter(self, query: Select[Any], criteria: SegmentCriteria) -> Select[Any]:
        for expression, wanted in (
            (self.lifecycle, criteria.lifecycle),
            (self.spend_band, criteria.spend),
            (self.frequency_band, criteria.frequency),
            (self.interaction_band, criteria.interactions),
        ):
            if wanted is not None:
                query = query.where(expression == wanted.value)
        return query


@dataclass(frozen=True, slots=True)
class Insight:
    lifecycle: Lifecycle
    spend: Any
    purchase_count: int
    interaction_count: int
    spend_band: Band
    frequency_band: Band
    interaction_band: Band


async def insights(
    conn: AsyncConnection,
    program: Program,
    member_ids: list[int],
    now: datetime,
    *,
    purchase_scope: Any = None,
    interaction_scope: Any = None,
) -> dict[int, Insight]:
    """Lifecycle and segment of many members in one statement, over the scoped rows."""
    measures = Measures(program, now, purchase_scope, interaction_scope)
    rows = await conn.execute(
        select(
            members.c.id,
            measures.lifecycle.label("lifecycle"),
            measures.spend.label("spend"),
            measures.purchase_count.label("purchase_count"),
            measures.interaction_count.label("interaction_count"),
            measures.spend_band.label("spend_band"),
            measures.frequency_band.label("frequency_band"),
            measures.interaction_band.label("interaction_band"),
        ).where(members.c.id.in_(member_ids))
    )
    return {
        row.id: Insight(
            lifecycle=Lifecycle(row.lifecycle),
            spend=row.spend,
            purchase_count=row.purchase_count,
            interaction_count=row.interaction_count,
            spend_band=Band(row.spend_band),
            frequency_band=Band(row.frequency_band),
            interaction_band=Band(row.interaction_band),
        )
        for row in rows
    }
