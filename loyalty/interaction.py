"""Interactions (a review, a check-in, an event, a survey): growth value without spending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import insert

from infra.database import Database
from infra.models import interactions
from infra.records import InteractionRow
from loyalty import member, tier
from loyalty.errors import ValidationFailed
from loyalty.idempotency import earlier, request_hash, retry_on_race
from loyalty.program import Program
from loyalty.promotions import benefit
from loyalty.visibility import Visibility


class InteractionKind(StrEnum):
    REVIEW = "REVIEW"
    CHECK_IN = "CHECK_IN"
    EVENT = "EVENT"
    SURVEY = "SURVEY"


async def record_interaction(
    db: Database,
    program: Program,
    *,
    member_ref: member.MemberRef,
    kind: InteractionKind,
    idempotency_key: str,
    occurred_at: datetime | None = None,
    visible: Visibility,
    now: datetime | None = None,
) -> InteractionRow:
    """Record an interaction once per key; its growth value may upgrade the member at once. It
    is dated within the days a purchase may be backdated (`purchase_backdating_days`), not in
    the future."""
    now = now or datetime.now(UTC)
    occurred_at = occurred_at or now
    if occurred_at > now:
        raise ValidationFailed("an interaction cannot be in the future", argument="occurredAt")
    if occurred_at < now - timedelta(days=program.purchase_backdating_days):
        raise ValidationFailed(
            f"an interaction is recorded within {program.purchase_backdating_days} days",
            argument="occurredAt",
        )
    fingerprint = request_hash(
        member=member_ref.fingerprint(), kind=kind,
        occurred_at=occurred_at if occurred_at != now else None,
    )  # fmt: skip

    async def attempt() -> Any:
        async with db.transaction() as conn:
            existing = await earlier(
                conn, interactions, fingerprint, idempotency_key, idempotency_key=idempotency_key
            )
            if existing is not None:
                return existing
            actor = await member.resolve(conn, member_ref, visible)
            # A concurrent request with the same key fails on the unique index here, and
            # retry_on_race answers it as a replay.
            row = (
                await conn.execute(
                    insert(interactions)
                    .values(
                        member_id=actor.id, kind=kind, idempotency_key=idempotency_key,
                        growth_value=program.growth_per_interaction, occurred_at=occurred_at,
                        request_hash=fingerprint,
                    )
                    .returning(*interactions.c)
                )
            ).one()  # fmt: skip
            await benefit.upgrade_if_due(
                conn,
                program,
                member_id=actor.id,
                current=tier.Tier(actor.tier),
                at=now,
                adding=(occurred_at, row.growth_value),
            )
            return row

    return await retry_on_race(attempt)
