"""Who is calling: a partner's OAuth client, an internal (operator) client, a member, or nobody."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PrincipalKind(StrEnum):
    OPERATOR = "OPERATOR"
    PARTNER = "PARTNER"
    MEMBER = "MEMBER"
    ANONYMOUS = "ANONYMOUS"


class Scope(StrEnum):
    MEMBERS_READ = "members:read"
    MEMBERS_WRITE = "members:write"
    PURCHASES_WRITE = "purchases:write"
    POINTS_REDEEM = "points:redeem"
    EXCHANGES_READ = "exchanges:read"
    EXCHANGES_WRITE = "exchanges:write"
    SETTLEMENTS_READ = "settlements:read"
    # A partner runs the coupons and campaigns it funds.
    PROMOTIONS_WRITE = "promotions:write"
    ADMIN = "admin"


ALL_SCOPES = frozenset(scope.value for scope in Scope)


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    partner_id: int | None = None
    member_id: int | None = None
    client_id: str | None = None
    # The token's id, when the principal came from one of our own access tokens.
    token_id: str | None = None

    def has(self, scope: Scope) -> bool:
        return scope.value in self.scopes

    @property
    def is_admin(self) -> bool:
        return self.kind is PrincipalKind.OPERATOR and self.has(Scope.ADMIN)


ANONYMOUS = Principal(kind=PrincipalKind.ANONYMOUS, subject="anonymous")
