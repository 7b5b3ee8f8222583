"""Root mutation fields: each is allowed by its permission class, checks ownership through
`resolvers.access`, calls one domain function and maps the result."""

from __future__ import annotations

import strawberry

from auth.principal import Scope
from infra.errors import IdentityTaken
from loyalty import interaction, member, merge, purchase, redemption, referral, reward
from loyalty.member import IdentityKind
from loyalty.purchase import Channel
from partners import exchange, registry
from resolvers import access
from resolvers.convert import identity_ref, member_ref, optional_id, reward_terms
from resolvers.exchanges import ExchangeMutations
from resolvers.settlements import SettlementMutations
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
from schema.pagination import parse_id
from schema.partner import Partner
from schema.permissions import ADMIN, allow
from schema.redemption import Redemption, Reward
from schema.types import Identity, Interaction, Member, Purchase, Refund

WRITE_MEMBERS = allow(partner=Scope.MEMBERS_WRITE)
WRITE_PURCHASES = allow(partner=Scope.PURCHASES_WRITE)
REDEEM = allow(partner=Scope.POINTS_REDEEM)
REDEEM_OWN = allow(partner=Scope.POINTS_REDEEM, member=True)
MEMBER_OR_ADMIN = allow(member=True)


@strawberry.type
class Mutation(ExchangeMutations, SettlementMutations):
    @strawberry.mutation(permission_classes=[WRITE_MEMBERS])
    async def enroll_member(self, info: Info, input: EnrollMemberInput) -> Member:
        partner_id = access.consenting_partner(info)
        try:
            row = await member.enroll(
                info.context.db,
                display_name=input.display_name,
                idempotency_key=access.scoped_key(info, input.idempotency_key),
                identities_to_link=[identity_ref(i, partner_id) for i in input.identities],
                referral_code=input.referral_code,
                consent_partner_id=partner_id,
                program=info.context.program,
            )
        except IdentityTaken as taken:
            raise await access.answer_identity_taken(info, taken) from None
        return Member.from_row(row)

    @strawberry.mutation(permission_classes=[WRITE_MEMBERS])
    async def link_identity(self, info: Info, input: LinkIdentityInput) -> Identity:
        member_id = parse_id(input.member_id)
        identity = identity_ref(input.identity, access.consenting_partner(info))
        if identity.kind is IdentityKind.PARTNER_ACCOUNT and identity.partner_id is not None:
            await exchange.confirm_account(
                info.context.db, info.context.directory, partner_id=identity.partner_id,
                account=identity.value, deadline=info.context.directory.timeout,
            )  # fmt: skip
        try:
            row = await member.link_identity(
                info.context.db,
                member_id=member_id,
                kind=identity.kind,
                value=identity.value,
                partner_id=identity.partner_id,
                visible=info.context.visible,
            )
        except IdentityTaken as taken:
            raise await access.answer_identity_taken(info, taken) from None
        return Identity.from_row(row)

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
            visible=info.context.visible,
        )
        return Purchase.from_row(row, info.context.program.currency_exponent)

    @strawberry.mutation(permission_classes=[WRITE_PURCHASES])
    async def refund_purchase(self, info: Info, input: RefundPurchaseInput) -> Refund:
        purchase_id = parse_id(input.purchase_id)
        row = await purchase.refund_purchase(
            info.context.db,
            info.context.program,
            purchase_id=purchase_id,
            amount=input.amount,
            idempotency_key=access.scoped_key(info, input.idempotency_key),
            visible=info.context.visible,
        )
        return Refund.from_row(row, info.context.program.currency_exponent)

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

    @strawberry.mutation(permission_classes=[ADMIN])
    async def create_partner(self, info: Info, input: CreatePartnerInput) -> Partner:
        row = await registry.create_partner(info.context.db, code=input.code, name=input.name)
        return Partner.from_row(row)

    @strawberry.mutation(
        description="Growth value for a review, check-in, event or survey.",
        permission_classes=[WRITE_MEMBERS],
    )
    async def record_interaction(self, info: Info, input: RecordInteractionInput) -> Interaction:
        row = await interaction.record_interaction(
            info.context.db,
            info.context.program,
            member_ref=member_ref(input.member),
            kind=interaction.InteractionKind(input.kind),
            idempotency_key=access.scoped_key(info, input.idempotency_key),
            occurred_at=input.occurred_at,
            visible=info.context.visible,
        )
        return Interaction.from_row(row)

    @strawberry.mutation(
        description="A recently enrolled member enters a referral code.",
        permission_classes=[MEMBER_OR_ADMIN],
    )
    async def apply_referral_code(self, info: Info, input: ApplyReferralCodeInput) -> Member:
        row = await referral.claim_referral(
            info.context.db,
            info.context.program,
            member_id=parse_id(input.member_id),
            code=input.referral_code,
            visible=info.context.visible,
        )
        return Member.from_row(row)

    @strawberry.mutation(permission_classes=[ADMIN])
    async def create_reward(self, info: Info, input: CreateRewardInput) -> Reward:
        row = await reward.create_reward(
            info.context.db,
            code=input.code,
            terms=reward_terms(input),
            partner_id=optional_id(input.partner_id),
        )
        return Reward.from_row(row)

    @strawberry.mutation(permission_classes=[ADMIN])
    async def update_reward(self, info: Info, input: UpdateRewardInput) -> Reward:
        row = await reward.update_reward(
            info.context.db, reward_id=parse_id(input.reward_id), terms=reward_terms(input)
        )
        return Reward.from_row(row)

    @strawberry.mutation(
        description="Spend points on a reward from the catalog.", permission_classes=[REDEEM_OWN]
    )
    async def redeem_reward(self, info: Info, input: RedeemRewardInput) -> Redemption:
        row = await reward.redeem_reward(
            info.context.db,
            member_ref=member_ref(input.member),
            reward_id=parse_id(input.reward_id),
            idempotency_key=access.scoped_key(info, input.idempotency_key),
            quantity=input.quantity,
            channel=Channel(input.channel),
            visible=info.context.visible,
        )
        return Redemption.from_row(row)

    @strawberry.mutation(
        description="Merge two records of one person; returns the survivor.",
        permission_classes=[ADMIN],
    )
    async def merge_members(self, info: Info, input: MergeMembersInput) -> Member:
        row = await merge.merge_members(
            info.context.db,
            info.context.program,
            survivor_id=parse_id(input.survivor_id),
            merged_id=parse_id(input.merged_id),
        )
        return Member.from_row(row)
