"""Who may call what: the graph's root fields (a `Rule` per field, which schema.permissions
turns into Strawberry permission classes) and the console's pages (a `Need` per route, which
gateway.console checks before a page runs). Which rows a let-through principal then sees or acts
on is auth.ownership's decision. Nothing outside auth/ looks at a principal's admin flag or
scopes to decide (tests/auth/test_policy_in_one_place.py holds the product to it)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from auth import ownership
from auth.principal import Principal, PrincipalKind, Scope


@dataclass(frozen=True, slots=True)
class Rule:
    """Operators with `admin`; partners holding `partner` (any partner if `any_partner`);
    members if `member`; everyone (also anonymous) if `anyone`."""

    partner: Scope | None = None
    any_partner: bool = False
    member: bool = False
    anyone: bool = False
    admin: bool = True


def permits(rule: Rule, principal: Principal) -> bool:
    if rule.anyone:
        return True
    if principal.kind is PrincipalKind.OPERATOR:
        return rule.admin and principal.has(Scope.ADMIN)
    if principal.kind is PrincipalKind.PARTNER:
        return rule.any_partner or (rule.partner is not None and principal.has(rule.partner))
    if principal.kind is PrincipalKind.MEMBER:
        return rule.member
    return False


def is_operator(principal: Principal) -> bool:
    """The program's operators (the admin scope): what a page shows them differs from what it
    shows a partner's staff."""
    return principal.is_admin


def may_read_sdl(principal: Principal, from_router: bool) -> bool:
    """The subgraph's SDL: the federation router (its configured credential) and operators."""
    return from_router or principal.is_admin


class Need(Enum):
    """What a console page needs of the signed-in person (a console principal is an operator or
    a partner's staff); the partner a page is about is the one in its address."""

    SIGNED_IN = "anyone signed in (their own account, their home page)"
    OPERATOR = "the program's operators"
    PARTNER_STAFF = "a partner's staff (their own partner's pages)"
    STATEMENTS = "operators, and the partner's staff with settlements:read"
    INTEGRATION = "operators, and the partner's staff (its webhooks); no partner: operators"
    CLIENTS = "operators, and the partner's staff (its OAuth clients)"
    EXCHANGES = "operators, and partners' staff with exchanges:read (their own exchanges)"


def may_open(need: Need, principal: Principal, partner_id: int | None) -> bool:
    """Whether `principal` may open a page of this need about `partner_id` (None: the page
    names no partner). Anything else is answered as a page that does not exist."""
    staff_of = principal.kind is PrincipalKind.PARTNER and principal.partner_id is not None
    match need:
        case Need.SIGNED_IN:
            return True
        case Need.OPERATOR:
            return principal.is_admin
        case Need.PARTNER_STAFF:
            return staff_of and not principal.is_admin
        case Need.STATEMENTS:
            return partner_id is not None and ownership.may_read_statement(principal, partner_id)
        case Need.INTEGRATION:
            if partner_id is None:
                return principal.is_admin
            return ownership.may_run_integration(principal, partner_id)
        case Need.CLIENTS:  # whom ownership.client_scopes_for gives any scope
            return partner_id is not None and ownership.may_run_integration(principal, partner_id)
        case Need.EXCHANGES:
            return principal.is_admin or principal.has(Scope.EXCHANGES_READ)
