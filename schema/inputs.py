"""Input types. Every mutation input carries an idempotency key, or is idempotent by a natural
key it names (a purchase's source and order id, an identity, a redemption id)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from schema.enums import Channel, IdentityKind, Tier

IDEMPOTENCY_KEY = "A key unique to this request; repeating it answers with the first result."


@strawberry.input
class IdentityInput:
    kind: IdentityKind
    value: str


@strawberry.input(one_of=True, description="A member, by id or by one of its identities.")
class MemberRefInput:
    id: strawberry.ID | None = strawberry.UNSET
    identity: IdentityInput | None = strawberry.UNSET


@strawberry.input
class EnrollMemberInput:
    display_name: str
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)
    identities: list[IdentityInput] = strawberry.field(default_factory=list)


@strawberry.input
class LinkIdentityInput:
    member_id: strawberry.ID
    identity: IdentityInput


@strawberry.input(description="Recorded once per (source, externalOrderId): that is its key.")
class RecordPurchaseInput:
    member: MemberRefInput
    channel: Channel
    source: str = strawberry.field(
        description="The shop, store or partner outlet the order is from."
    )
    external_order_id: str
    amount: Decimal
    currency: str | None = None
    partner_id: strawberry.ID | None = None
    purchased_at: datetime | None = None


@strawberry.input
class RefundPurchaseInput:
    purchase_id: strawberry.ID
    amount: Decimal
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)


@strawberry.input
class RedeemPointsInput:
    member: MemberRefInput
    points: int
    channel: Channel
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)
    partner_id: strawberry.ID | None = None
    reference: str | None = None


@strawberry.input(description="Cancelling is idempotent by the redemption's id.")
class CancelRedemptionInput:
    redemption_id: strawberry.ID


@strawberry.input(description="A partner's code is its key: creating it again answers the same.")
class CreatePartnerInput:
    code: str
    name: str


@strawberry.input
class MemberFilter:
    tier: Tier | None = None
    enrolled_from: datetime | None = None
    enrolled_before: datetime | None = None
    has_identity_kind: IdentityKind | None = None
