"""Spending points: the reward catalog and redemptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from schema.enums import Channel, RedemptionStatus, RewardStatus
from schema.info import Info
from schema.pagination import parse_id
from schema.partner import Partner, partner_of
from schema.types import MemberAndPartner


@strawberry.federation.type(keys=["id"])
class Reward:
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

    @staticmethod
    def from_row(row: Any) -> Reward:
        return Reward(
            id=strawberry.ID(str(row.id)),
            code=row.code,
            name=row.name,
            description=row.description,
            point_cost=row.point_cost,
            stock=row.stock,
            status=RewardStatus(row.status),
            created_at=row.created_at,
            updated_at=row.updated_at,
            partner_id=row.partner_id,
        )

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

    @staticmethod
    def from_row(row: Any) -> Redemption:
        return Redemption(
            id=strawberry.ID(str(row.id)),
            points=row.points,
            channel=Channel(row.channel),
            reference=row.reference,
            status=RedemptionStatus(row.status),
            quantity=row.quantity,
            created_at=row.created_at,
            cancelled_at=row.cancelled_at,
            member_id=row.member_id,
            partner_id=row.partner_id,
            reward_id=row.reward_id,
        )

    @strawberry.field
    async def reward(self, info: Info) -> Reward | None:
        if self.reward_id is None:
            return None
        row = await info.context.loaders.reward_by_id.load(self.reward_id)
        return None if row is None else Reward.from_row(row)
