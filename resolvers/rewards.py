"""Mutations of the reward catalog, and redeeming a reward."""

from __future__ import annotations

import strawberry

from loyalty import reward
from loyalty.purchase import Channel
from loyalty.reward import RewardTerms
from resolvers import access
from resolvers.convert import member_ref, optional_id, terms
from schema.info import Info
from schema.inputs import (
    CreateRewardInput,
    RedeemRewardInput,
    UpdateRewardInput,
)
from schema.pagination import parse_id
from schema.permissions import ADMIN, REDEEM_OWN
from schema.redemption import Redemption, Reward


@strawberry.type
class RewardMutations:
    @strawberry.mutation(permission_classes=[ADMIN])
    async def create_reward(self, info: Info, input: CreateRewardInput) -> Reward:
        row = await reward.create_reward(
            info.context.db,
            code=input.code,
            terms=terms(RewardTerms, input),
            partner_id=optional_id(input.partner_id),
        )
        return Reward.from_row(row)

    @strawberry.mutation(permission_classes=[ADMIN])
    async def update_reward(self, info: Info, input: UpdateRewardInput) -> Reward:
        row = await reward.update_reward(
            info.context.db, reward_id=parse_id(input.reward_id), terms=terms(RewardTerms, input)
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
            coupon_code=input.coupon_code,
            program=info.context.program,
            visible=info.context.visible,
        )
        return Redemption.from_row(row)
