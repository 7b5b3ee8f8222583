"""Who follows which live events (auth.live): for every kind of caller and every kind of event
about its own or another member or partner, whether the policy lets it through, and what it
refuses to subscribe at all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auth.live import change_notes, followable, interest
from auth.principal import ANONYMOUS, Principal, PrincipalKind, Scope
from loyalty.errors import DomainError
from loyalty.live import Kind, LiveEvent

ADA, BOB, SKY, OTHER = 1, 2, 10, 20
MEMBER = Principal(PrincipalKind.MEMBER, f"member:{ADA}", member_id=ADA)
ALL_SCOPES = frozenset({Scope.MEMBERS_READ, Scope.EXCHANGES_READ, Scope.SETTLEMENTS_READ})
PARTNER = Principal(PrincipalKind.PARTNER, "pg_sky", ALL_SCOPES, partner_id=SKY, client_id="c")
EXCHANGES_ONLY = Principal(PrincipalKind.PARTNER, "pg_x", frozenset({Scope.EXCHANGES_READ}),
                           partner_id=SKY)  # fmt: skip
ADMIN = Principal(PrincipalKind.OPERATOR, "ops", frozenset({Scope.ADMIN}))
READER = Principal(PrincipalKind.OPERATOR, "reader")
STAFF = Principal(
    PrincipalKind.PARTNER,
    "console:clerk",
    frozenset({Scope.SETTLEMENTS_READ, Scope.EXCHANGES_READ}),
    partner_id=SKY,
)


def event(kind: Kind, member: int | None, partner: int | None) -> LiveEvent:
    return LiveEvent(1, kind, datetime.now(UTC), member, partner)


# Every event a subscriber could be offered: each kind, about Ada or Bob, at skyway or another
# partner or none.
EVENTS = [event(kind, member, partner) for kind in Kind for member in (ADA, BOB, None)
          for partner in (SKY, OTHER, None)
          if (member is None) == (kind is Kind.STATEMENT)]  # fmt: skip


def seen(principal: Principal, **asked) -> set[tuple[Kind, int | None, int | None]]:
    wanted = interest(principal, asked.get("kinds"), asked.get("member"), asked.get("partner"))
    return {(e.kind, e.member_id, e.partner_id) for e in EVENTS if wanted.accepts(e)}


def test_a_member_sees_only_its_own_account():
    shown = seen(MEMBER)
    assert shown and all(member == ADA for _, member, _ in shown)
    assert {kind for kind, _, _ in shown} == {Kind.POINTS, Kind.EXCHANGE, Kind.COUPON, Kind.TIER,
                                              Kind.BENEFIT}  # fmt: skip
    assert seen(MEMBER, partner=SKY) == {s for s in shown if s[2] == SKY}


def test_a_partner_sees_only_its_own_partners_events_of_its_scopes():
    shown = seen(PARTNER)
    assert shown and all(partner == SKY for _, _, partner in shown)
    assert {kind for kind, _, _ in shown} == {Kind.POINTS, Kind.EXCHANGE, Kind.STATEMENT}
    assert {kind for kind, _, _ in seen(EXCHANGES_ONLY)} == {Kind.EXCHANGE}
    assert seen(PARTNER, member=BOB) == {s for s in shown if s[1] == BOB}


def test_an_admin_sees_everything_narrowed_as_asked():
    assert len(seen(ADMIN)) == len(EVENTS)
    assert seen(ADMIN, partner=OTHER) == {(e.kind, e.member_id, e.partner_id) for e in EVENTS
                                          if e.partner_id == OTHER}  # fmt: skip
    assert seen(ADMIN, member=BOB, kinds=[Kind.TIER]) == {
        (Kind.TIER, BOB, p) for p in (SKY, OTHER, None)
    }


@pytest.mark.parametrize(("principal", "asked", "code"), [
    (ANONYMOUS, {}, "UNAUTHENTICATED"),
    (READER, {}, "FORBIDDEN"),
    (MEMBER, {"member": BOB}, "NOT_FOUND"),
    (PARTNER, {"partner": OTHER}, "NOT_FOUND"),
    (MEMBER, {"kinds": [Kind.STATEMENT]}, "FORBIDDEN"),
    (EXCHANGES_ONLY, {"kinds": [Kind.POINTS]}, "FORBIDDEN"),
    (MEMBER, {"kinds": []}, "VALIDATION"),
])  # fmt: skip
def test_refusals(principal, asked, code):
    with pytest.raises(DomainError) as refused:
        interest(principal, asked.get("kinds"), asked.get("member"), asked.get("partner"))
    assert refused.value.code == code


def test_console_staff_follow_their_partners_points_as_change_notes_only():
    assert Kind.POINTS not in followable(STAFF)  # not as events with members' balances
    notes = change_notes(STAFF, [Kind.POINTS, Kind.STATEMENT, Kind.COUPON], None)
    assert notes.kinds == {Kind.POINTS, Kind.STATEMENT} and notes.partner_id == SKY
    assert notes.accepts(event(Kind.POINTS, ADA, SKY))
    assert not notes.accepts(event(Kind.POINTS, ADA, OTHER))
    with pytest.raises(DomainError):
        change_notes(STAFF, [Kind.COUPON], None)
