"""auth.access: what each console page need lets through, person by person (the console's HTTP
tests check the same through its pages)."""

from __future__ import annotations

import pytest

from auth.access import Need, Rule, may_open, permits
from auth.principal import ANONYMOUS, Principal, PrincipalKind, Scope

OPERATOR = Principal(PrincipalKind.OPERATOR, "ops", frozenset({Scope.ADMIN.value}))
# An operator's session without the admin scope (a console principal always has it; a token may
# not): it may open nothing that is the operators'.
BARE_OPERATOR = Principal(PrincipalKind.OPERATOR, "ops-2")
STAFF = Principal(PrincipalKind.PARTNER, "staff", frozenset({Scope.SETTLEMENTS_READ.value,
                  Scope.EXCHANGES_READ.value}), partner_id=7)  # fmt: skip
PLAIN_STAFF = Principal(PrincipalKind.PARTNER, "staff-2", partner_id=7)
MEMBER = Principal(PrincipalKind.MEMBER, "member:3", member_id=3)

# need, partner in the address, and who may open it
CASES = [
    (Need.SIGNED_IN, None, {"OPERATOR", "BARE_OPERATOR", "STAFF", "PLAIN_STAFF", "MEMBER",
                            "ANONYMOUS"}),
    (Need.OPERATOR, None, {"OPERATOR"}),
    (Need.PARTNER_STAFF, None, {"STAFF", "PLAIN_STAFF"}),
    (Need.STATEMENTS, 7, {"OPERATOR", "STAFF"}),
    (Need.STATEMENTS, 8, {"OPERATOR"}),
    (Need.STATEMENTS, None, set()),
    (Need.INTEGRATION, 7, {"OPERATOR", "STAFF", "PLAIN_STAFF"}),
    (Need.INTEGRATION, 8, {"OPERATOR"}),
    (Need.INTEGRATION, None, {"OPERATOR"}),
    (Need.CLIENTS, 7, {"OPERATOR", "STAFF", "PLAIN_STAFF"}),
    (Need.CLIENTS, 8, {"OPERATOR"}),
    (Need.EXCHANGES, None, {"OPERATOR", "STAFF"}),
]  # fmt: skip
PEOPLE = {"OPERATOR": OPERATOR, "BARE_OPERATOR": BARE_OPERATOR, "STAFF": STAFF,
          "PLAIN_STAFF": PLAIN_STAFF, "MEMBER": MEMBER, "ANONYMOUS": ANONYMOUS}  # fmt: skip


@pytest.mark.parametrize(("need", "partner_id", "allowed"), CASES)
def test_who_may_open_a_page(need, partner_id, allowed):
    opened = {name for name, person in PEOPLE.items() if may_open(need, person, partner_id)}

    assert opened == allowed


def test_every_need_is_decided():
    assert {case[0] for case in CASES} == set(Need)


def test_a_fields_rule():
    members_read = Rule(partner=Scope.MEMBERS_READ)
    staff_reading = Principal(PrincipalKind.PARTNER, "c", frozenset({Scope.MEMBERS_READ.value}),
                              partner_id=1)  # fmt: skip

    assert permits(members_read, OPERATOR) and permits(members_read, staff_reading)
    assert not permits(members_read, BARE_OPERATOR)
    assert not permits(members_read, STAFF) and not permits(members_read, MEMBER)
    assert not permits(members_read, ANONYMOUS)
    assert permits(Rule(member=True, admin=False), MEMBER)
    assert not permits(Rule(member=True, admin=False), OPERATOR)
    assert permits(Rule(anyone=True), ANONYMOUS)
