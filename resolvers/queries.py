"""Root query fields."""

from __future__ import annotations

from functools import cache
from typing import Any

import strawberry
from strawberry.printer import print_schema

from auth import audit
from loyalty import member as members
from loyalty import reward as rewards
from loyalty.errors import NotFound, Unauthenticated
from loyalty.member import IdentityKind as DomainIdentityKind
from loyalty.segment import SegmentCriteria
from partners import registry
from resolvers.convert import optional_id
from resolvers.dataloaders import prime_rows
from resolvers.exchanges import ExchangeQueries
from resolvers.promotions import PromotionQueries
from resolvers.settlements import SettlementQueries
from schema.enums import IdentityKind
from schema.info import Info
from schema.inputs import MemberFilter, RewardFilter
from schema.pagination import Connection, build_connection, check_page_size, decode_cursor, parse_id
from schema.partner import Partner
from schema.permissions import (
    ADMIN,
    ANYONE,
    MEMBER_ONLY,
    READ_MEMBERS,
    READ_OWN,
    SIGNED_IN,
    RouterOrAdmin,
)
from schema.program import ProgramRules
from schema.redemption import Reward
from schema.types import AuditEntry, Member, Purchase


@strawberry.type(name="_Service")
class ServiceSDL:
    sdl: str


@cache
def _sdl(schema: Any) -> str:
    return print_schema(schema)


@strawberry.type
class Query(ExchangeQueries, SettlementQueries, PromotionQueries):
    @strawberry.field(name="_service", permission_classes=[RouterOrAdmin])
    def service(self, info: Info) -> ServiceSDL:
        return ServiceSDL(sdl=_sdl(info.schema))

    @strawberry.field(permission_classes=[READ_OWN])
    async def member(self, info: Info, id: strawberry.ID) -> Member:
        row = await info.context.loaders.member_by_id.load(parse_id(id))
        if row is None:
            raise NotFound(f"member {id} does not exist")
        return Member.from_row(row)

    @strawberry.field(permission_classes=[READ_MEMBERS])
    async def member_by_identity(self, info: Info, kind: IdentityKind, value: str) -> Member:
        found = await members.find_by_identity(
            info.context.db, DomainIdentityKind(kind), value, info.context.visible
        )
        row = None if found is None else await info.context.loaders.member_by_id.load(found)
        if row is None:
            raise NotFound(f"no member has this {kind} identity")
        return Member.from_row(row)

    @strawberry.field(description="Members in enrollment order.", permission_classes=[READ_MEMBERS])
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
            visible=info.context.visible,
        )
        prime_rows(info.context.loaders.member_by_id, rows)
        return build_connection(rows, first, "member", Member.from_row)

    @strawberry.field(
        description="The calling member (a member's token only).", permission_classes=[MEMBER_ONLY]
    )
    async def me(self, info: Info) -> Member:
        member_id = info.context.principal.member_id
        if member_id is None:
            raise Unauthenticated("`me` needs a member's credentials")
        row = await info.context.loaders.member_by_id.load(member_id)
        if row is None:
            raise NotFound(f"member {member_id} does not exist")
        return Member.from_row(row)

    @strawberry.field(description="The program rules in force.", permission_classes=[ANYONE])
    def program(self, info: Info) -> ProgramRules:
        return ProgramRules.build(info.context.program)

    @strawberry.field(permission_classes=[SIGNED_IN])
    async def reward(self, info: Info, id: strawberry.ID) -> Reward:
        row = await info.context.loaders.reward_by_id.load(parse_id(id))
        if row is None:
            raise NotFound(f"reward {id} does not exist")
        return Reward.from_row(row)

    @strawberry.field(
        description="The reward catalog, in creation order.", permission_classes=[SIGNED_IN]
    )
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
            visible=info.context.visible,
        )
        prime_rows(info.context.loaders.reward_by_id, rows)
        return build_connection(rows, first, "reward", Reward.from_row)

    @strawberry.field(
        description="Who did what, newest first: token issuance, client changes, mutations.",
        permission_classes=[ADMIN],
    )
    async def audit_log(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        action: str | None = None,
        subject: str | None = None,
    ) -> Connection[AuditEntry]:
        check_page_size(first)
        rows = await audit.entries(
            info.context.db,
            limit=first + 1,
            before_id=decode_cursor("audit", after),
            action=action,
            subject=subject,
        )
        return build_connection(rows, first, "audit", AuditEntry.from_row)

    @strawberry.field(permission_classes=[READ_OWN])
    async def purchase(self, info: Info, id: strawberry.ID) -> Purchase:
        row = await info.context.loaders.purchase_by_id.load(parse_id(id))
        if row is None:
            raise NotFound(f"purchase {id} does not exist")
        return Purchase.priced(row, info.context.program.currency_exponent)

    @strawberry.field(permission_classes=[SIGNED_IN])
    async def partner(self, info: Info, id: strawberry.ID) -> Partner:
        row = await info.context.loaders.partner_by_id.load(parse_id(id))
        if row is None:
            raise NotFound(f"partner {id} does not exist")
        return Partner.from_row(row)

    @strawberry.field(permission_classes=[SIGNED_IN])
    async def partners(self, info: Info) -> list[Partner]:
        rows = await registry.list_partners(info.context.db, visible=info.context.visible)
        prime_rows(info.context.loaders.partner_by_id, rows)
        return [Partner.from_row(row) for row in rows]
