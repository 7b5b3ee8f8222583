"""Who is acting, as the policy's conditions name it: an operator with `admin`, and the caller's
partner and member ids as named parameters, so a statement built for one partner (or member)
serves every other of the same shape with other values (auth.ownership.plan_shape and
plan_parameters): compiled operations are planned once per shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, BindParameter, ColumnElement, and_, bindparam, false, true

from auth.principal import Principal, PrincipalKind, Scope

ACTING_PARTNER = "acting_partner"
ACTING_MEMBER = "acting_member"


def is_admin(principal: Principal) -> bool:
    return principal.kind is PrincipalKind.OPERATOR and principal.has(Scope.ADMIN)


def partner_param(principal: Principal) -> BindParameter[int]:
    return bindparam(ACTING_PARTNER, principal.partner_id, type_=BigInteger)


def member_param(principal: Principal) -> BindParameter[int]:
    return bindparam(ACTING_MEMBER, principal.member_id, type_=BigInteger)


def own_or_admin(principal: Principal, member_column: Any) -> ColumnElement[bool]:
    """The member's own rows (a member), every row (an operator with admin), none (others)."""
    if principal.kind is PrincipalKind.MEMBER and principal.member_id is not None:
        return and_(true(), member_column == member_param(principal))
    return true() if is_admin(principal) else false()
