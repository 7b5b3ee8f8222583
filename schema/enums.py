"""GraphQL enums: the domain's own enums, exposed as they are."""

from __future__ import annotations

from enum import StrEnum

import strawberry

from loyalty.member import IdentityKind, MemberStatus
from loyalty.purchase import Channel

# Registered in place: the GraphQL enums are the domain's classes themselves.
for domain_enum in (IdentityKind, MemberStatus, Channel):
    strawberry.enum(domain_enum)

__all__ = [
    "Channel", "IdentityKind", "MemberStatus", "RedemptionStatus", "Tier", "TransferPhase",
]  # fmt: skip


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
