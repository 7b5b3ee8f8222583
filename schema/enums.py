"""GraphQL enums: the domain's own enums, exposed as they are."""

from __future__ import annotations

from enum import StrEnum

import strawberry

from loyalty.consent import ConsentPurpose
from loyalty.interaction import InteractionKind
from loyalty.member import IdentityKind
from loyalty.membership import MemberStatus
from loyalty.promotions.campaign import CampaignStatus
from loyalty.promotions.coupon import CouponKind, CouponState
from loyalty.promotions.template import TemplateStatus
from loyalty.purchase import Channel
from loyalty.reward import RewardStatus
from loyalty.segment import Band, Lifecycle
from loyalty.tier import Tier, TierChangeReason
from partners.exchange import ExchangeState
from partners.registry import ConnectorKind, Direction, PartnerStatus

# Registered in place: the GraphQL enums are the domain's classes themselves.
for domain_enum in (
    IdentityKind, MemberStatus, Channel, Tier, TierChangeReason, InteractionKind, Lifecycle,
    Band, RewardStatus, ExchangeState, Direction, ConnectorKind, PartnerStatus, CouponKind,
    CouponState, CampaignStatus, TemplateStatus, ConsentPurpose,
):  # fmt: skip
    strawberry.enum(domain_enum)

__all__ = [
    "Band",
    "CampaignStatus",
    "Channel",
    "ConnectorKind",
    "ConsentPurpose",
    "CouponKind",
    "CouponState",
    "Direction",
    "ExchangeState",
    "IdentityKind",
    "InteractionKind",
    "Lifecycle",
    "MemberStatus",
    "PartnerStatus",
    "RedemptionStatus",
    "RewardStatus",
    "TemplateStatus",
    "Tier",
    "TierChangeReason",
    "TransferPhase",
]  # fmt: skip


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
