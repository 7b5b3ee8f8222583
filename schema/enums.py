"""GraphQL enums: the domain's own enums, exposed as they are."""

from __future__ import annotations

from enum import StrEnum

import strawberry

from loyalty.member import IdentityKind as DomainIdentityKind
from loyalty.member import MemberStatus as DomainMemberStatus
from loyalty.purchase import Channel as DomainChannel

IdentityKind = strawberry.enum(DomainIdentityKind, name="IdentityKind")
MemberStatus = strawberry.enum(DomainMemberStatus, name="MemberStatus")
Channel = strawberry.enum(DomainChannel, name="Channel")


@strawberry.enum
class Tier(StrEnum):
    SILVER = "SILVER"
    GOLD = "GOLD"
    DIAMOND = "DIAMOND"


@strawberry.enum
class RedemptionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"


@strawberry.enum(description="How a transfer stands: posted, held pending, or a pending one ended")
class TransferPhase(StrEnum):
    SINGLE = "SINGLE"
    PENDING = "PENDING"
    POST = "POST"
    VOID = "VOID"
