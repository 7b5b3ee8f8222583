"""Mutations of purchases and point redemptions: each checks ownership in the domain's
transaction through `info.context.visible`."""

from __future__ import annotations

import strawberry

from loyalty import purchase, redemption, refund
from loyalty.purchase import Channel
from resolvers import access
from resolvers.convert import member_ref, optional_id
from schema.info import Info
from schema.inputs import (
    CancelRedemptionInput,
    RecordPurchaseInput,
    RedeemPointsInput,
    RefundPurchaseInput,
)
from schema.pagination import parse_id
from schema.permissions import REDEEM, WRITE_PURCHASES
from schema.redemption import Redemption
from schema.types import Purchase, Refund


@strawberry.type
class PurchaseMutations:
    @strawberry.mutation(
        permission_classes=[WRITE_PURCHASES],
        description="A partner's client records purchases at its own partner; it may name the "
        "member by an identity the member shows (a card), or by id if the member is linked.",
    )
    async def record_purchase(self, info: Info, input: RecordPurchaseInput) -> Purchase:
        buyer = member_ref(input.member)
        channel, partner_id = access.acting_partner(
            info, Channel(input.channel), optional_id(input.partner_id)
        )
        row, _replayed = await purchase.record_purchase(
            info.context.db,
            info.context.program,
            member_ref=buyer,
            channel=channel,
            source=input.source,
            external_order_id=input.external_order_id,
            amount=input.amount,
            currency=input.currency,
            partner_id=partner_id,
            purchased_at=input.purchased_at,
            namespace=access.key_namespace(info),
            coupon_codes=input.coupon_codes or (),
            campaigns=info.context.campaigns,
            visible=info.context.visible,
        )
        return Purchase.priced(row, info.context.program.currency_exponent)

    @strawberry.mutation(permission_classes=[WRITE_PURCHASES])
    async def refund_purchase(self, info: Info, input: RefundPurchaseInput) -> Refund:
        purchase_id = parse_id(input.purchase_id)
        row = await refund.refund_purchase(
            info.context.db,
            info.context.program,
            purchase_id=purchase_id,
            amount=input.amount,
            idempotency_key=access.scoped_key(info, input.idempotency_key),
            visible=info.context.visible,
        )
        return Refund.priced(row, info.context.program.currency_exponent)

    @strawberry.mutation(permission_classes=[REDEEM])
    async def redeem_points(self, info: Info, input: RedeemPointsInput) -> Redemption:
        spender = member_ref(input.member)
        channel, partner_id = access.acting_partner(
            info, Channel(input.channel), optional_id(input.partner_id)
        )
        row = await redemption.redeem_points(
            info.context.db,
            member_ref=spender,
            points=input.points,
            channel=channel,
            idempotency_key=access.scoped_key(info, input.idempotency_key),
            partner_id=partner_id,
            reference=input.reference,
            visible=info.context.visible,
        )
        return Redemption.from_row(row)

    @strawberry.mutation(permission_classes=[REDEEM])
    async def cancel_redemption(self, info: Info, input: CancelRedemptionInput) -> Redemption:
        row = await redemption.cancel_redemption(
            info.context.db,
            redemption_id=parse_id(input.redemption_id),
            visible=info.context.visible,
        )
        return Redemption.from_row(row)
