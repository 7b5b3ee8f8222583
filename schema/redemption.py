"""Spending points: the reward catalog and redemptions."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.enums import Channel, RedemptionStatus, RewardStatus
from schema.info import Info
from schema.pagination import parse_id
from schema.partner import Partner, partner_of
from schema.rows import Row
from schema.types import MemberAndPartner


@strawberry.federation.type(keys=["id"])
class Reward(Row):
    id: strawberry.ID
    code: str
    name: str
    description: str
    point_cost: int
    stock: int | None = strawberry.field(description="Left to redeem; null means unlimited.")
    status: RewardStatus
    created_at: datetime
    updated_at: datetime
    partner_id: strawberry.Private[int | None]

    @strawberry.field(description="The partner that fulfils the reward, if any.")
    async def partner(self, info: Info) -> Partner | None:
        return await partner_of(info, self.partner_id)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Reward | None:
        row = await info.context.loaders.reward_by_id.load(parse_id(id))
        return None if row is None else cls.from_row(row)


@strawberry.type
class Redemption(MemberAndPartner):
    id: strawberry.ID
    points: int
    channel: Channel
    reference: str | None
    status: RedemptionStatus
    quantity: int
    created_at: datetime
    cancelled_at: datetime | None
    reward_id: strawberry.Private[int | None]

    @strawberry.field
    async def reward(self, info: Info) -> Reward | None:
        if self.reward_id is None:
            return None
        row = await info.context.loaders.reward_by_id.load(self.reward_id)
        return None if row is None else Reward.from_row(row)
