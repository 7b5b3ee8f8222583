"""Who is calling. Until the OAuth issue lands every request is the development operator."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PrincipalKind(StrEnum):
    OPERATOR = "OPERATOR"
    PARTNER = "PARTNER"
    MEMBER = "MEMBER"
    ANONYMOUS = "ANONYMOUS"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    partner_id: int | None = None
    member_id: int | None = None


DEVELOPMENT_OPERATOR = Principal(
    kind=PrincipalKind.OPERATOR, subject="development", scopes=frozenset({"admin"})
)

# Development only: the header that makes a request act as a member, until member tokens exist.
DEVELOPMENT_MEMBER_HEADER = "x-pointgate-member"


def development_member(member_id: int) -> Principal:
    return Principal(kind=PrincipalKind.MEMBER, subject=f"member:{member_id}", member_id=member_id)


ANONYMOUS = Principal(kind=PrincipalKind.ANONYMOUS, subject="anonymous")
