"""Root mutation fields: each parses its input, calls one domain function, maps the result."""

from __future__ import annotations

import strawberry

from loyalty import interaction, member, merge, purchase, redemption, referral, reward
from loyalty.member import IdentityKind
from loyalty.purchase import Channel
from partners import registry
from resolvers.convert import identity_ref, member_ref, optional_id, reward_terms
from schema.info import Info
from schema.inputs import (
    ApplyReferralCodeInput,
    CancelRedemptionInput,
    CreatePartnerInput,
    CreateRewardInput,
    EnrollMemberInput,
    LinkIdentityInput,
    MergeMembersInput,
    RecordInteractionInput,
    RecordPurchaseInput,
    RedeemPointsInput,
    RedeemRewardInput,
    RefundPurchaseInput,
    UpdateRewardInput,
)
from schema.redemption import Redemption, Reward
from schema.types import Identity, Interaction, Member, Partner, Purchase, Refund, parse_id


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def enroll_member(self, info: Info, input: EnrollMemberInput) -> Member:
        row = await member.enroll(
            info.context.db,
            display_name=input.display_name,
            idempotency_key=input.idempotency_key,
            identities_to_link=[identity_ref(identity) for identity in input.identities],
            referral_code=input.referral_code,
            program=info.context.program,
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

    @strawberry.mutation(description="Growth value for a review, check-in, event or survey.")
    async def record_interaction(self, info: Info, input: RecordInteractionInput) -> Interaction:
        row = await interaction.record_interaction(
            info.context.db,
            info.context.program,
            member_ref=member_ref(input.member),
            kind=interaction.InteractionKind(input.kind),
            idempotency_key=input.idempotency_key,
            occurred_at=input.occurred_at,
        )
        return Interaction.from_row(row)

    @strawberry.mutation(description="A recently enrolled member enters a referral code.")
    async def apply_referral_code(self, info: Info, input: ApplyReferralCodeInput) -> Member:
        row = await referral.claim_referral(
            info.context.db,
            info.context.program,
            member_id=parse_id(input.member_id),
            code=input.referral_code,
        )
        return Member.from_row(row)

    @strawberry.mutation
    async def create_reward(self, info: Info, input: CreateRewardInput) -> Reward:
        row = await reward.create_reward(
            info.context.db,
            code=input.code,
            terms=reward_terms(input),
            partner_id=optional_id(input.partner_id),
        )
        return Reward.from_row(row)

    @strawberry.mutation
    async def update_reward(self, info: Info, input: UpdateRewardInput) -> Reward:
        row = await reward.update_reward(
            info.context.db, reward_id=parse_id(input.reward_id), terms=reward_terms(input)
        )
        return Reward.from_row(row)

    @strawberry.mutation(description="Spend points on a reward from the catalog.")
    async def redeem_reward(self, info: Info, input: RedeemRewardInput) -> Redemption:
        row = await reward.redeem_reward(
            info.context.db,
            member_ref=member_ref(input.member),
            reward_id=parse_id(input.reward_id),
            idempotency_key=input.idempotency_key,
            quantity=input.quantity,
            channel=Channel(input.channel),
        )
        return Redemption.from_row(row)

    @strawberry.mutation(description="Merge two records of one person; returns the survivor.")
    async def merge_members(self, info: Info, input: MergeMembersInput) -> Member:
        row = await merge.merge_members(
            info.context.db,
            info.context.program,
            survivor_id=parse_id(input.survivor_id),
            merged_id=parse_id(input.merged_id),
        )
        return Member.from_row(row)
