"""The one row mapper: each data field from the column of its name, converted to its type."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

from loyalty.membership import MemberStatus
from loyalty.tier import Tier
from schema import rows
from schema.types import AuditEntry, Member, Purchase

AT = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_ids_enums_and_renamed_columns_are_converted_and_resolvers_left_out():
    row = SimpleNamespace(
        id=7, display_name="Ada", tier="GOLD", status="ACTIVE", enrolled_at=AT,
        referral_code="ADA-1", referred_at=None, merged_at=None, referred_by=3, merged_into=None,
        birth_date=None,
    )  # fmt: skip

    member = Member.from_row(row)

    assert (member.id, member.tier, member.status) == ("7", Tier.GOLD, MemberStatus.ACTIVE)
    assert (member.referred_by_id, member.merged_into_id) == (3, None)


def test_an_optional_id_stays_none_and_given_fields_win():
    entry = AuditEntry.from_row(
        SimpleNamespace(
            id=1, at=AT, principal_kind="OPERATOR", subject="cli", client_id=None,
            partner_id=None, action="a", target=None, outcome="OK", trace_id=None,
        )
    )  # fmt: skip
    purchase = Purchase.priced(
        SimpleNamespace(
            id=5, channel="ONLINE", source="web", external_order_id="o-1",
            amount=Decimal("12.3000"), currency="USD", points_earned=12,
            refunded_amount=Decimal("0"), points_reversed=0, purchased_at=AT, recorded_at=AT,
            bonus_points=0, tier=None, growth_value=12, referral_points=0, member_id=1,
            partner_id=None, gross_amount=None, campaign_points=0,
        ),
        2,
    )  # fmt: skip

    assert entry.partner_id is None
    assert (purchase.amount, purchase.refunded_amount, purchase.tier) == (
        Decimal("12.30"), Decimal("0.00"), None,
    )  # fmt: skip


def test_each_type_is_compiled_once():
    row = SimpleNamespace(
        id=1, display_name="A", tier="SILVER", status="ACTIVE", enrolled_at=AT,
        referral_code=None, referred_at=None, merged_at=None, referred_by=None, merged_into=None,
        birth_date=None,
    )  # fmt: skip
    Member.from_row(row)
    builder = rows._BUILDERS[(Member, frozenset())]

    Member.from_row(row)

    assert rows._BUILDERS[(Member, frozenset())] is builder
