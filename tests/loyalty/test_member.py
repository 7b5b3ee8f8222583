from __future__ import annotations

import pytest

from infra.errors import IdempotencyConflict, IdentityTaken, ValidationFailed
from loyalty import member
from loyalty.member import IdentityKind, IdentityRef
from loyalty.program import Program


async def test_enrolling_links_identities_and_a_replay_returns_the_same_member(db):
    card = [IdentityRef(IdentityKind.LOYALTY_CARD, "CARD-1")]

    first = await member.enroll(db, display_name="Ada", idempotency_key="e1",
                                identities_to_link=card)  # fmt: skip
    again = await member.enroll(db, display_name="Ada", idempotency_key="e1",
                                identities_to_link=card)  # fmt: skip

    assert again.id == first.id
    found = await member.find_by_identity(db, IdentityKind.LOYALTY_CARD, "CARD-1")
    assert found == first.id


async def test_an_enrollment_replay_with_another_name_conflicts(db):
    await member.enroll(db, display_name="Ada", idempotency_key="e1")
    with pytest.raises(IdempotencyConflict):
        await member.enroll(db, display_name="Grace", idempotency_key="e1")


async def test_an_identity_belongs_to_one_member_and_a_failed_enrollment_leaves_nothing(db):
    card = [IdentityRef(IdentityKind.LOYALTY_CARD, "CARD-1")]
    await member.enroll(db, display_name="Ada", idempotency_key="e1", identities_to_link=card)

    with pytest.raises(IdentityTaken):
        await member.enroll(db, display_name="Grace", idempotency_key="e2",
                            identities_to_link=card)  # fmt: skip

    assert len(await member.list_members(db, Program(), limit=10)) == 1


async def test_linking_an_identity_twice_to_the_same_member_is_harmless(db):
    ada = await member.enroll(db, display_name="Ada", idempotency_key="e1")

    first = await member.link_identity(db, member_id=ada.id, kind=IdentityKind.EMAIL,
                                       value="Ada@Example.com")  # fmt: skip
    again = await member.link_identity(db, member_id=ada.id, kind=IdentityKind.EMAIL,
                                       value="ada@example.com ")  # fmt: skip

    assert again.id == first.id
    assert first.value == "ada@example.com"


@pytest.mark.parametrize(
    ("kind", "value"),
    [(IdentityKind.PHONE, "call me"), (IdentityKind.EMAIL, "nobody"), (IdentityKind.EMAIL, " ")],
)
async def test_malformed_identities_are_refused(db, kind, value):
    ada = await member.enroll(db, display_name="Ada", idempotency_key="e1")
    with pytest.raises(ValidationFailed):
        await member.link_identity(db, member_id=ada.id, kind=kind, value=value)
