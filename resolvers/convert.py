"""From GraphQL inputs to the domain's plain values."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, TypeVar

from loyalty.errors import ValidationFailed
from loyalty.member import IdentityKind, IdentityRef, MemberRef
from schema.inputs import IdentityInput, MemberRefInput
from schema.pagination import parse_id

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


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


def terms(cls: type[T], value: object) -> T:
    """The domain's terms (a dataclass) from an input with the same field names; a field the
    input does not have keeps the domain's default."""
    return cls(**{f.name: getattr(value, f.name) for f in fields(cls) if hasattr(value, f.name)})
