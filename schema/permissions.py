"""Who may call which root field, declared on the field as a permission class.

One rule per field: `allow(...)` names the principal kinds let through (operators need the
admin scope; partners the given scope): an `auth.access.Rule`, which auth/ decides. Which rows
a let-through principal then sees (its own members, purchases, ...) is decided in one place,
`auth.ownership`, which the loaders apply.
The authorization matrix test holds every root field to `tests/auth/authorization_matrix.csv`."""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.permission import BasePermission

from auth import access
from auth.principal import Principal, PrincipalKind, Scope
from loyalty.errors import Forbidden, Unauthenticated


@cache
def allow(
    *,
    partner: Scope | None = None,
    any_partner: bool = False,
    member: bool = False,
    anyone: bool = False,
    admin: bool = True,
) -> type[BasePermission]:
    """A permission class: operators with `admin`, partners holding `partner` (any partner if
    `any_partner`), members if `member`, everyone (also anonymous) if `anyone`."""
    parts = [f"Partner{partner.name.title().replace('_', '')}" if partner else ""]
    parts += ["AnyPartner" if any_partner else ""]
    parts += ["Member" if member else "", "Anyone" if anyone else "", "Admin" if admin else ""]
    name = "Allow" + "".join(parts)

    rule = access.Rule(partner, any_partner, member, anyone, admin)

    def has_permission(self: BasePermission, source: Any, info: Any, **kwargs: Any) -> bool:
        principal: Principal = info.context.principal
        if access.permits(rule, principal):
            return True
        if principal.kind is PrincipalKind.ANONYMOUS:
            raise Unauthenticated("this field needs an access token")
        raise Forbidden("the token does not allow this field")

    return type(name, (BasePermission,), {"has_permission": has_permission})


ANYONE = allow(anyone=True)
ADMIN = allow()
MEMBER_ONLY = allow(member=True, admin=False)


class RouterOrAdmin(BasePermission):
    """The subgraph's SDL is for the federation router (its configured credential) and
    operators; to anyone else it would be the introspection production mode turns off."""

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        context = info.context
        if access.may_read_sdl(context.principal, context.from_router):
            return True
        if context.principal.kind is PrincipalKind.ANONYMOUS:
            raise Unauthenticated("the SDL is served to the federation router and operators")
        raise Forbidden("the SDL is served to the federation router and operators")


# Who may call each root field (the authorization matrix test holds them to
# tests/auth/authorization_matrix.csv).
CREDIT_INBOUND = allow(partner=Scope.EXCHANGES_WRITE)
MEMBER_OR_ADMIN = allow(member=True)
READ_EXCHANGES = allow(partner=Scope.EXCHANGES_READ, member=True)
READ_MEMBERS = allow(partner=Scope.MEMBERS_READ)
READ_OWN = allow(partner=Scope.MEMBERS_READ, member=True)
READ_STATEMENTS = allow(partner=Scope.SETTLEMENTS_READ)
RUN_PROMOTIONS = allow(partner=Scope.PROMOTIONS_WRITE)
REDEEM = allow(partner=Scope.POINTS_REDEEM)
REDEEM_OWN = allow(partner=Scope.POINTS_REDEEM, member=True)
SIGNED_IN = allow(any_partner=True, member=True)
SUBSCRIBE = allow(partner=Scope.EXCHANGES_READ)
WRITE_EXCHANGES = allow(partner=Scope.EXCHANGES_WRITE, member=True)
WRITE_MEMBERS = allow(partner=Scope.MEMBERS_WRITE)
WRITE_PURCHASES = allow(partner=Scope.PURCHASES_WRITE)
