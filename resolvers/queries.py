"""Root query fields."""

from __future__ import annotations

import strawberry

from loyalty import member as members
from loyalty import reward as rewards
from loyalty.errors import NotFound, Unauthenticated
from loyalty.member import IdentityKind as DomainIdentityKind
from loyalty.segment import SegmentCriteria
from partners import registry
from resolvers.convert import optional_id
from schema.enums import IdentityKind
from schema.info import Info
from schema.inputs import MemberFilter, RewardFilter
from schema.pagination import Connection, build_connection, check_page_size, decode_cursor
from schema.program import ProgramRules
from schema.redemption import Reward
from schema.types import Member, Partner, Purchase, parse_id


@strawberry.type
class Query:
    @strawberry.field
    async def member(self, info: Info, id: strawberry.ID) -> Member:
        row = await info.context.loaders.member_by_id.load(parse_id(id))
        if row is None:
            raise NotFound(f"member {id} does not exist")
        return Member.from_row(row)

    @strawberry.field
    async def member_by_identity(self, info: Info, kind: IdentityKind, value: str) -> Member:
        row = await members.find_by_identity(info.context.db, DomainIdentityKind(kind), value)
        if row is None:
            raise NotFound(f"no member has this {kind} identity")
        return Member.from_row(row)

    @strawberry.field(description="Members in enrollment order.")
    async def members(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: MemberFilter | None = None,
    ) -> Connection[Member]:
        check_page_size(first)
        criteria = filter or MemberFilter()
        rows = await members.list_members(
            info.context.db,
            info.context.program,
            limit=first + 1,
            after_id=decode_cursor("member", after),
            tier=criteria.tier,
            enrolled_from=criteria.enrolled_from,
            enrolled_before=criteria.enrolled_before,
            identity_kind=criteria.has_identity_kind,
            segment=SegmentCriteria(
                lifecycle=criteria.lifecycle,
                spend=criteria.spend,
                frequency=criteria.frequency,
                interactions=criteria.interactions,
            ),
        )
        return build_connection(rows, first, "member", Member.from_row)

    @strawberry.field(description="The calling member (a member principal only).")
    async def me(self, info: Info) -> Member:
        member_id = info.context.principal.member_id
        if member_id is None:
            raise Unauthenticated("`me` needs a member's credentials")
        row = await info.context.loaders.member_by_id.load(member_id)
        if row is None:
            raise NotFound(f"member {member_id} does not exist")
        return Member.from_row(row)

    @strawberry.field(description="The program rules in force.")
    def program(self, info: Info) -> ProgramRules:
        return ProgramRules.build(info.context.program)

    @strawberry.field
    async def reward(self, info: Info, id: strawberry.ID) -> Reward:
        row = await info.context.loaders.reward_by_id.load(parse_id(id))
        if row is None:
            raise NotFound(f"reward {id} does not exist")
        return Reward.from_row(row)

    @strawberry.field(description="The reward catalog, in creation order.")
    async def rewards(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: RewardFilter | None = None,
    ) -> Connection[Reward]:
        check_page_size(first)
        criteria = filter or RewardFilter()
        rows = await rewards.list_rewards(
            info.context.db,
            limit=first + 1,
            after_id=decode_cursor("reward", after),
            status=criteria.status,
            partner_id=optional_id(criteria.partner_id),
        )
        return build_connection(rows, first, "reward", Reward.from_row)

    @strawberry.field
    async def purchase(self, info: Info, id: strawberry.ID) -> Purchase:
        row = await info.context.loaders.purchase_by_id.load(parse_id(id))
        if row is None:
            raise NotFound(f"purchase {id} does not exist")
        return Purchase.from_row(row, info.context.program.currency_exponent)

    @strawberry.field
    async def partner(self, info: Info, id: strawberry.ID) -> Partner:
        row = await info.context.loaders.partner_by_id.load(parse_id(id))
        if row is None:
            raise NotFound(f"partner {id} does not exist")
        return Partner.from_row(row)

    @strawberry.field
    async def partners(self, info: Info) -> list[Partner]:
        return [Partner.from_row(row) for row in await registry.list_partners(info.context.db)]
