"""Live events as subscriptions deliver them (loyalty.live): one GraphQL type per kind, all
built from the event as its transaction wrote it (nothing is read to send one)."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Self

import strawberry

from loyalty.live import Kind, LiveEvent
from schema.enums import Direction, ExchangeState, Tier, TransferPhase
from schema.scalars import BigInt

# The id of the event a subscription yields last, for its transport: SSE writes it as the
# event's `id:` (gateway.live). (The transport encodes the value in the task that advanced the
# subscription's generator, so it reads what the generator set.)
LAST_EVENT: ContextVar[int | None] = ContextVar("pointgate_last_event", default=None)

strawberry.enum(Kind, name="LiveEventKind",
                description="What a live event tells: see the type of each.")  # fmt: skip


def _id(value: Any) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


@strawberry.interface(description="Something that changed, sent when its transaction committed.")
class LiveUpdate:
    event_id: strawberry.ID = strawberry.field(
        description="Its place in the stream: subscribe again with `after` (or SSE's "
        "Last-Event-ID) set to the last one seen to get what was missed."
    )
    kind: Kind
    at: datetime
    member_id: strawberry.ID | None
    partner_id: strawberry.ID | None

    @classmethod
    def common(cls, event: LiveEvent) -> dict[str, Any]:
        return {"event_id": strawberry.ID(str(event.id)), "kind": event.kind, "at": event.at,
                "member_id": _id(event.member_id), "partner_id": _id(event.partner_id)}  # fmt: skip


@strawberry.type(description="Points moved on the member's account.")
class PointsMoved(LiveUpdate):
    transfer_id: strawberry.ID
    phase: TransferPhase
    points: BigInt = strawberry.field(
        description="The change to the available balance: negative when points left it."
    )
    reason: str
    balance: BigInt = strawberry.field(description="The available balance after it.")

    @classmethod
    def of(cls, event: LiveEvent) -> Self:
        return cls(**cls.common(event), transfer_id=strawberry.ID(event.subject or ""),
                   phase=TransferPhase(event.body["phase"]), points=BigInt(event.points or 0),
                   reason=event.state or "", balance=BigInt(event.balance or 0))  # fmt: skip


@strawberry.type(description="An exchange moved to another state.")
class ExchangeChanged(LiveUpdate):
    exchange_id: strawberry.ID
    state: ExchangeState
    from_state: ExchangeState | None
    reason: str
    direction: Direction
    points: BigInt
    units: BigInt

    @classmethod
    def of(cls, event: LiveEvent) -> Self:
        body = event.body
        return cls(
            **cls.common(event), exchange_id=strawberry.ID(event.subject or ""),
            state=ExchangeState(event.state or ""), reason=str(body.get("reason") or ""),
            from_state=ExchangeState(body["from"]) if body.get("from") else None,
            direction=Direction(body["direction"]), points=BigInt(event.points or 0),
            units=BigInt(int(body.get("units") or 0)),
        )  # fmt: skip


@strawberry.type(description="A partner's monthly statement was closed.")
class StatementClosed(LiveUpdate):
    period: str
    currency: str
    payable_by_partner: Decimal
    payable_by_program: Decimal

    @classmethod
    def of(cls, event: LiveEvent) -> Self:
        body = event.body
        return cls(**cls.common(event), period=event.subject or "", currency=body["currency"],
                   payable_by_partner=Decimal(body["payableByPartner"]),
                   payable_by_program=Decimal(body["payableByProgram"]))  # fmt: skip


@strawberry.type(description="A coupon was issued to the member.")
class CouponIssued(LiveUpdate):
    coupon_id: strawberry.ID
    code: str
    template: str
    valid_from: date | None
    valid_until: date | None

    @classmethod
    def of(cls, event: LiveEvent) -> Self:
        body = event.body
        return cls(
            **cls.common(event), coupon_id=strawberry.ID(event.subject or ""),
            code=event.state or "", template=str(body.get("template") or ""),
            valid_from=_day(body.get("valid_from")), valid_until=_day(body.get("valid_until")),
        )  # fmt: skip


@strawberry.type(description="The member's tier changed.")
class TierChanged(LiveUpdate):
    from_tier: Tier
    to_tier: Tier
    reason: str

    @classmethod
    def of(cls, event: LiveEvent) -> Self:
        return cls(**cls.common(event), from_tier=Tier(event.subject or ""),
                   to_tier=Tier(event.state or ""),
                   reason=str(event.body.get("reason") or ""))  # fmt: skip


@strawberry.type(description="A tier benefit was granted to the member.")
class BenefitGranted(LiveUpdate):
    benefit: str
    benefit_kind: str
    granted_for: str | None = strawberry.field(description="The period the benefit is for.")

    @classmethod
    def of(cls, event: LiveEvent) -> Self:
        kind = str(event.body.get("kind") or "")
        return cls(**cls.common(event), benefit=event.state or "", benefit_kind=kind,
                   granted_for=event.subject)  # fmt: skip


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


TYPES: dict[Kind, Any] = {
    Kind.POINTS: PointsMoved, Kind.EXCHANGE: ExchangeChanged, Kind.STATEMENT: StatementClosed,
    Kind.COUPON: CouponIssued, Kind.TIER: TierChanged, Kind.BENEFIT: BenefitGranted,
}  # fmt: skip


def update_of(event: LiveEvent) -> LiveUpdate:
    return TYPES[event.kind].of(event)  # type: ignore[no-any-return]
