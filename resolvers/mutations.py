"""Root mutation fields: each parses its input, calls one domain function, maps the result."""

from __future__ import annotations

import strawberry

from loyalty import member, purchase, redemption
from loyalty.member import IdentityKind
from loyalty.purchase import Channel
from partners import registry
from resolvers.convert import identity_ref, member_ref, optional_id
from schema.info import Info
from schema.inputs import (
    CancelRedemptionInput,
    CreatePartnerInput,
    EnrollMemberInput,
    LinkIdentityInput,
    RecordPurchaseInput,
    RedeemPointsInput,
    RefundPurchaseInput,
)
from schema.types import Identity, Member, Partner, Purchase, Redemption, Refund, parse_id


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def enroll_member(self, info: Info, input: EnrollMemberInput) -> Member:
        row = await member.enroll(
            info.context.db,
            display_name=input.display_name,
            idempotency_key=input.idempotency_key,
            identities_to_link=[identity_ref(identity) for identity in input.identities],
        )
        return Member.from_row(row)

    @strawberry.mutation
    async def link_identity(self, info: Info, input: LinkIdentityInput) -> Identity:
        row = await member.link_identity(
            info.context.db,
            member_id=parse_id(input.member_id),
            kind=IdentityKind(input.identity.kind),
            value=input.identity.value,
        )
        return Identity.from_row(row)

    @strawberry.mutation
    async def record_purchase(self, info: Info, input: RecordPurchaseInput) -> Purchase:
        row, _replayed = await purchase.record_purchase(
            info.context.db,
            info.context.program,
            member_ref=member_ref(input.member),
            channel=Channel(input.channel),
            source=input.source,
            external_order_id=input.external_order_id,
            amount=input.amount,
            currency=input.currency,
            partner_id=optional_id(input.partner_id),
            purchased_at=input.purchased_at,
        )
        return Purchase.from_row(row, info.context.program.currency_exponent)

    @strawberry.mutation
    async def refund_purchase(self, info: Info, input: RefundPurchaseInput) -> Refund:
        row = await purchase.refund_purchase(
            info.context.db,
            info.context.program,
            purchase_id=parse_id(input.purchase_id),
            amount=input.amount,
            idempotency_key=input.idempotency_key,
        )
        return Refund.from_row(row, info.context.program.currency_exponent)

    @strawberry.mutation
    async def redeem_points(self, info: Info, input: RedeemPointsInput) -> Redemption:
        row = await redemption.redeem_points(
            info.context.db,
            member_ref=member_ref(input.member),
            points=input.points,
            channel=Channel(input.channel),
            idempotency_key=input.idempotency_key,
            partner_id=optional_id(input.partner_id),
            reference=input.reference,
        )
        return Redemption.from_row(row)

    @strawberry.mutation
    async def cancel_redemption(self, info: Info, input: CancelRedemptionInput) -> Redemption:
        row = await redemption.cancel_redemption(
            info.context.db, redemption_id=parse_id(input.redemption_id)
        )
        return Redemption.from_row(row)

    @strawberry.mutation
    async def create_partner(self, info: Info, input: CreatePartnerInput) -> Partner:
        row = await registry.create_partner(info.context.db, code=input.code, name=input.name)
        return Partner.from_row(row)
