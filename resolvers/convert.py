"""From GraphQL inputs to the domain's plain values."""

from __future__ import annotations

from infra.errors import ValidationFailed
from loyalty.member import IdentityKind, IdentityRef, MemberRef
from loyalty.reward import RewardStatus, RewardTerms
from schema.inputs import CreateRewardInput, IdentityInput, MemberRefInput, UpdateRewardInput
from schema.pagination import parse_id


def identity_ref(value: IdentityInput, acting_partner: int | None = None) -> IdentityRef:
    """A partner's client links accounts in its own program only."""
    partner_id = acting_partner if acting_partner is not None else optional_id(value.partner_id)
    return IdentityRef(kind=IdentityKind(value.kind), value=value.value, partner_id=partner_id)


def member_ref(value: MemberRefInput) -> MemberRef:
    if value.id:
        return MemberRef(member_id=parse_id(value.id))
    if value.identity:
        return MemberRef(identity=identity_ref(value.identity))
    raise ValidationFailed("name the member by id or by identity")


def optional_id(value: str | None) -> int | None:
    return None if value is None else parse_id(value)


def reward_terms(value: CreateRewardInput | UpdateRewardInput) -> RewardTerms:
    status = getattr(value, "status", None)
    return RewardTerms(
        name=value.name,
        description=value.description,
        point_cost=value.point_cost,
        stock=value.stock,
        unlimited_stock=getattr(value, "unlimited_stock", False),
        status=None if status is None else RewardStatus(status),
    )
