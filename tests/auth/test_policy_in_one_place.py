"""Who may see or act on what is decided in auth/ only: no other module of the product builds a
Visibility, compares a principal's partner or member with a row's (auth/ownership.py), or looks
at a principal's admin flag or scopes to decide what it may call or open (auth/access.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = ("gateway", "schema", "resolvers", "loyalty", "partners", "auth", "infra")
POLICY = ROOT / "auth" / "ownership.py"
# The policy's part about personal data (consents, exports), whose conditions ownership uses.
PERSONAL_DATA = ROOT / "auth" / "privacy.py"
# A Visibility built by hand, or a row's partner or member compared with the caller's.
DECISIONS = re.compile(
    r"Visibility\(|(partner_id|member_id)\s*[!=]=\s*[\w.]*principal\.(partner_id|member_id)"
    r"|principal\.(partner_id|member_id)\s*[!=]=\s*[\w.]+"
)


# A decision on the principal's admin flag or scopes (what auth.access.permits and may_open do).
ADMIN_OR_SCOPE = re.compile(r"\.is_admin\b|\.has\(|principal\.scopes\b")


def product_modules() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    ]


def test_only_the_ownership_policy_decides_who_sees_what():
    deciding = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in product_modules()
        if path not in (POLICY, PERSONAL_DATA) and path.name != "visibility.py"
        for line in path.read_text().splitlines()
        if DECISIONS.search(line)
    ]

    assert deciding == []


def test_only_auth_decides_on_a_principals_admin_flag_or_scopes():
    deciding = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in product_modules()
        if path.relative_to(ROOT).parts[0] != "auth"
        for line in path.read_text().splitlines()
        if ADMIN_OR_SCOPE.search(line)
    ]

    assert deciding == []


def test_the_check_sees_a_console_page_deciding_for_itself():
    """The pattern catches what the console's pages did before they declared their needs."""
    before = [
        "    if not visit.principal.is_admin:",
        "        if not visit.principal.has(Scope.EXCHANGES_READ):",
        "    allowed = set(principal.scopes)",
    ]
    assert all(ADMIN_OR_SCOPE.search(line) for line in before)
    assert not ADMIN_OR_SCOPE.search("    if access.may_open(need, visit.principal, partner):")


def test_every_console_page_declares_what_it_needs():
    from auth.access import Need
    from gateway import console

    for page in console.ROUTES:
        assert isinstance(page.need, Need), page.path
    # a page about a partner is never for anyone signed in: it names whose it is
    about_a_partner = [p for p in console.ROUTES if "{partner_id}" in p.path]
    assert about_a_partner and all(page.need is not Need.SIGNED_IN for page in about_a_partner)


def test_the_policy_is_where_the_decisions_are():
    policy = POLICY.read_text()

    assert "Visibility(" in policy
    assert re.search(r"\.c\.partner_id == partner_param\(principal\)", policy)


def test_principals_of_one_shape_share_their_statements_with_their_own_values():
    """The caller's ids are parameters: compiled operations are planned once per shape."""
    from sqlalchemy.dialects import postgresql

    from auth.ownership import plan_parameters, plan_shape, visibility
    from auth.principal import Principal, PrincipalKind

    first = Principal(kind=PrincipalKind.PARTNER, subject="client-1", partner_id=1)
    second = Principal(kind=PrincipalKind.PARTNER, subject="client-2", partner_id=2)

    def compiled(principal: Principal) -> tuple[str, dict[str, object]]:
        statement = visibility(principal).members.compile(dialect=postgresql.dialect())
        return statement.string, statement.params

    (first_sql, first_values), (second_sql, second_values) = compiled(first), compiled(second)
    assert plan_shape(first) == plan_shape(second)
    assert first_sql == second_sql
    assert first_values["acting_partner"] == plan_parameters(first)["acting_partner"] == 1
    assert second_values["acting_partner"] == plan_parameters(second)["acting_partner"] == 2


def test_the_cached_conditions_are_the_principals_own():
    from auth.ownership import actor_key, visibility
    from auth.principal import Principal, PrincipalKind

    def quotes_of(principal: Principal) -> str:
        condition = visibility(principal).quotes
        return str(condition.compile(compile_kwargs={"literal_binds": True}))

    operator = Principal(kind=PrincipalKind.OPERATOR, subject="ops-1")
    other_operator = Principal(kind=PrincipalKind.OPERATOR, subject="ops-2")
    partner = Principal(kind=PrincipalKind.PARTNER, subject="client-9", partner_id=9)

    assert f"'{actor_key(operator)}'" in quotes_of(operator)
    assert f"'{actor_key(other_operator)}'" in quotes_of(other_operator)
    assert f"'{actor_key(partner)}'" in quotes_of(partner)
