"""Who may follow which live events (loyalty.live): the policy checked for every event before
it is sent to a subscriber, so a subscriber never sees another member's or partner's event.

A member follows its own account: points moving, its exchanges, coupons issued, tier changes,
benefits granted. A partner's client follows its own partner: its exchanges (exchanges:read),
its members' points activity at that partner (members:read) and its statements closed
(settlements:read). An operator with admin follows any, narrowed by member or partner. Anyone
else follows nothing. Naming another member or partner is answered as if it did not exist."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from auth import ownership
from auth.acting import is_admin
from auth.principal import Principal, PrincipalKind, Scope
from infra.fanout import EVERYTHING
from loyalty.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from loyalty.live import Kind, LiveEvent

MEMBER_KINDS = frozenset({Kind.POINTS, Kind.EXCHANGE, Kind.COUPON, Kind.TIER, Kind.BENEFIT})
# What a partner's client follows, by the scope each needs.
PARTNER_KINDS = {
    Kind.EXCHANGE: Scope.EXCHANGES_READ,
    Kind.POINTS: Scope.MEMBERS_READ,
    Kind.STATEMENT: Scope.SETTLEMENTS_READ,
}


@dataclass(frozen=True, slots=True)
class LiveInterest:
    keys: tuple[Hashable, ...]
    kinds: frozenset[Kind]
    member_id: int | None = None
    partner_id: int | None = None

    def accepts(self, event: LiveEvent) -> bool:
        return (
            event.kind in self.kinds
            and (self.member_id is None or event.member_id == self.member_id)
            and (self.partner_id is None or event.partner_id == self.partner_id)
        )


def followable(principal: Principal) -> frozenset[Kind]:
    """The kinds `principal` may follow (none for a caller that follows nothing)."""
    if principal.kind is PrincipalKind.MEMBER and principal.member_id is not None:
        return MEMBER_KINDS
    if principal.kind is PrincipalKind.PARTNER and principal.partner_id is not None:
        return frozenset(kind for kind, scope in PARTNER_KINDS.items() if principal.has(scope))
    return frozenset(Kind) if is_admin(principal) else frozenset()


def owner(principal: Principal) -> Hashable:
    """Whose subscriptions count together against the cap: a client's, a member's, an
    operator's."""
    return (principal.kind.value, principal.subject)


def interest(
    principal: Principal,
    kinds: Iterable[Kind] | None,
    member_id: int | None,
    partner_id: int | None,
) -> LiveInterest:
    """What `principal` follows when it asks for `kinds` (None: all it may), narrowed to a
    member or partner; refused (an error) when it may follow nothing it asked for."""
    asked = frozenset(kinds) if kinds is not None else None
    if asked is not None and not asked:
        raise ValidationFailed("name at least one kind, or none for all", argument="kinds")
    if principal.kind is PrincipalKind.MEMBER and principal.member_id is not None:
        member = ownership.own_member(principal, member_id)
        kinds_seen = _within(asked, followable(principal))
        return LiveInterest((("member", member),), kinds_seen, member, partner_id)
    if principal.kind is PrincipalKind.PARTNER and principal.partner_id is not None:
        partner = ownership.acting_partner(principal, partner_id)
        kinds_seen = _within(asked, followable(principal))
        return LiveInterest((("partner", partner),), kinds_seen, member_id, partner)
    if is_admin(principal):
        keys: tuple[Hashable, ...] = (
            (("member", member_id),) if member_id is not None
            else (("partner", partner_id),) if partner_id is not None
            else (EVERYTHING,)
        )  # fmt: skip
        return LiveInterest(keys, asked or frozenset(Kind), member_id, partner_id)
    if principal.kind is PrincipalKind.ANONYMOUS:
        raise Unauthenticated("live events need a token")
    raise Forbidden("this caller may not follow live events")


def change_notes(
    principal: Principal, kinds: Iterable[Kind], partner_id: int | None
) -> LiveInterest:
    """What a console page follows to know when to show itself again: `kinds` among those the
    person may follow, where a partner's staff with settlements:read also follow the points
    moved at their partner (its open statement changes with them). The console sends only a
    note of the change (kind and id), never the event."""
    allowed = followable(principal)
    if principal.kind is PrincipalKind.PARTNER and principal.has(Scope.SETTLEMENTS_READ):
        allowed |= {Kind.POINTS}
    wanted = frozenset(kinds) & allowed
    if not wanted:
        raise NotFound("no such page")
    whose = interest(principal, None, None, partner_id)  # whose changes: its keys and narrowing
    return LiveInterest(whose.keys, wanted, whose.member_id, whose.partner_id)


def _within(asked: frozenset[Kind] | None, allowed: frozenset[Kind]) -> frozenset[Kind]:
    if asked is None:
        if not allowed:
            raise Forbidden("this caller's scopes allow no live events")
        return allowed
    refused = asked - allowed
    if refused:
        raise Forbidden(f"this caller may not follow {', '.join(sorted(refused))}",
                        kinds=sorted(refused))  # fmt: skip
    return asked
