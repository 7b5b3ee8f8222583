"""No sequence of allowed calls overflows a field: the per-call points fields stay within GraphQL's
Int whatever campaigns run and whatever is bought, the sums that can pass it are BigInt, and every
number a client can send has a bound in loyalty.bounds that docs/bounds.md lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from graphql import GraphQLInputObjectType, get_named_type
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.app import build_schema
from loyalty import bounds, tier
from loyalty.earning import base_points, check_amount
from loyalty.program import Program
from loyalty.promotions import campaign
from loyalty.promotions.campaign import Campaign

NOW = datetime(2026, 6, 18, 12, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "bounds.md"

amounts = st.decimals(min_value=Decimal("0.01"), max_value=bounds.MAX_AMOUNT, places=2)


def a_campaign(number: int, multiplier: Decimal, bonus: int, exclusive: bool, priority: int):
    """A campaign in force for everyone, at any size the bounds allow."""
    return Campaign(
        number, f"c{number}", priority, exclusive, NOW - timedelta(days=1),
        NOW + timedelta(days=1), None, None, None, None, None, None, None,
        multiplier, bonus, None, None, None,
    )  # fmt: skip


campaigns = st.builds(
    a_campaign,
    st.integers(1, 10**6),
    st.decimals(min_value=1, max_value=bounds.MAX_MULTIPLIER, places=2),
    st.integers(0, bounds.MAX_BONUS_POINTS),
    st.booleans(),
    st.integers(-1000, 1000),
)


def points_of_purchase(program: Program, running: list[Campaign], amount: Decimal,
                       member_tier: tier.Tier) -> tuple[int, int, int]:  # fmt: skip
    """As loyalty.purchase composes them: base, campaigns (planned), tier bonus."""
    base = base_points(check_amount(amount, program), program)
    chosen = campaign.applicable(running, at=NOW, zone=ZoneInfo("UTC"), tier=member_tier.value,
                                 channel="ONLINE", partner_id=None)  # fmt: skip
    assert len(chosen) <= bounds.MAX_CAMPAIGNS_PER_PURCHASE
    extra = sum(item.points for item in campaign.plan(chosen, base))
    return base, extra, tier.bonus_points(program, member_tier, amount)


@settings(max_examples=300, deadline=None)
@given(running=st.lists(campaigns, max_size=40), amount=amounts,
       member_tier=st.sampled_from(list(tier.Tier)))  # fmt: skip
def test_a_purchase_earns_within_int_whatever_campaigns_run(running, amount, member_tier):
    program = Program()

    base, extra, bonus = points_of_purchase(program, running, amount, member_tier)

    assert extra >= 0 and base + extra <= bounds.MAX_POINTS
    assert bonus <= int(bounds.MAX_AMOUNT) * 5
    assert base + extra + bonus <= bounds.MAX_INT


def client_numbers() -> set[tuple[str, str]]:
    """(snake_case name, GraphQL type) of every Int, Decimal and BigInt argument or input field
    a client can send, read from the schema itself."""
    schema = build_schema()._schema
    found: set[tuple[str, str]] = set()

    def walk(kind: object, name: str, seen: frozenset[str]) -> None:
        named = get_named_type(kind)
        if isinstance(named, GraphQLInputObjectType):
            if named.name not in seen:
                for field_name, field in named.fields.items():
                    walk(field.type, field_name, seen | {named.name})
        elif named.name in ("Int", "Decimal", "BigInt"):
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
            found.add((snake, named.name))

    for type_ in schema.type_map.values():
        for field in getattr(type_, "fields", {}).values():
            for argument_name, argument in getattr(field, "args", {}).items():
                walk(argument.type, argument_name, frozenset())
    return found


def test_every_number_a_client_sends_has_a_documented_bound():
    numbers = client_numbers()
    documented = DOCS.read_text()

    assert {name for name, _ in numbers} - set(bounds.BOUNDS) == set()
    assert [name for name in bounds.BOUNDS if f"`{name}`" not in documented] == []
    assert len(numbers) >= 36  # the walk reached the inputs (36 when this was written)
