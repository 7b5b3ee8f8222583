from __future__ import annotations

import pytest

from loyalty import member, sealing
from loyalty.errors import IdempotencyConflict, IdentityTaken, NotFound, ValidationFailed
from loyalty.member import IdentityKind, IdentityRef
from loyalty.program import Program
from loyalty.visibility import EVERYTHING


async def test_enrolling_links_identities_and_a_replay_returns_the_same_member(db):
    card = [IdentityRef(IdentityKind.LOYALTY_CARD, "CARD-1")]

    first = await member.enroll(db, display_name="Ada", idempotency_key="e1",
                                identities_to_link=card)  # fmt: skip
    again = await member.enroll(db, display_name="Ada", idempotency_key="e1",
                                identities_to_link=card)  # fmt: skip

    assert again.id == first.id
    found = await member.find_by_identity(db, IdentityKind.LOYALTY_CARD, "CARD-1", EVERYTHING)
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

    assert len(await member.list_members(db, Program(), limit=10, visible=EVERYTHING)) == 1


async def test_linking_an_identity_twice_to_the_same_member_is_harmless(db):
    ada = await member.enroll(db, display_name="Ada", idempotency_key="e1")

    first = await member.link_identity(db, member_id=ada.id, kind=IdentityKind.EMAIL,
                                       value="Ada@Example.com", visible=EVERYTHING)  # fmt: skip
    again = await member.link_identity(db, member_id=ada.id, kind=IdentityKind.EMAIL,
                                       value="ada@example.com ", visible=EVERYTHING)  # fmt: skip

    assert again.id == first.id
    assert sealing.shown(first) == "ada@example.com"  # as normalised (sealed at rest)


@pytest.mark.parametrize(
    ("kind", "value"),
    [(IdentityKind.PHONE, "call me"), (IdentityKind.EMAIL, "nobody"), (IdentityKind.EMAIL, " ")],
)
async def test_malformed_identities_are_refused(db, kind, value):
    ada = await member.enroll(db, display_name="Ada", idempotency_key="e1")
    with pytest.raises(ValidationFailed):
        await member.link_identity(db, member_id=ada.id, kind=kind, value=value, visible=EVERYTHING)


@pytest.mark.parametrize(
    ("kind", "spellings", "stored"),
    [
        (IdentityKind.PHONE, ["+1 (555) 777-0001", "15557770001", "555.777.0001"], "+15557770001"),
        (IdentityKind.LOYALTY_CARD, ["ab-123", "AB-123", " Ab-123 "], "AB-123"),
        (IdentityKind.EMAIL, ["Ada@Example.com", "ada@example.COM"], "ada@example.com"),
    ],
)
async def test_every_spelling_of_a_taken_identity_is_taken(db, kind, spellings, stored):
    holder = await member.enroll(db, display_name="Ada", idempotency_key="e1",
                                 identities_to_link=[IdentityRef(kind, spellings[0])])  # fmt: skip

    for number, spelling in enumerate(spellings):
        with pytest.raises(IdentityTaken):
            await member.enroll(db, display_name="Grace", idempotency_key=f"e2-{number}",
                                identities_to_link=[IdentityRef(kind, spelling)])  # fmt: skip
        assert await member.find_by_identity(db, kind, spelling, EVERYTHING) == holder.id
    async with db.read() as conn:
        found = await member.identities_of(conn, [holder.id])
    assert [sealing.shown(row) for row in found] == [stored]


async def test_phones_without_a_country_code_are_read_in_the_programs_region(db):
    member.use_phone_region("GB")
    try:
        assert member.normalize_identity(IdentityKind.PHONE, "020 7946 0958") == "+442079460958"
        assert member.normalize_identity(IdentityKind.PHONE, "+1 555 777 0001") == "+15557770001"
    finally:
        member.use_phone_region(Program().phone_region)
    assert member.normalize_identity(IdentityKind.PHONE, "(555) 777-0001") == "+15557770001"


async def test_an_account_at_a_partner_that_does_not_exist_is_not_found_and_nothing_written(db):
    # found by the schema fuzz test: it was a foreign key failure (INTERNAL_SERVER_ERROR)
    with pytest.raises(NotFound):
        await member.enroll(
            db, display_name="Ada", idempotency_key="ghost-partner",
            identities_to_link=[IdentityRef(IdentityKind.PARTNER_ACCOUNT, "SKY-1", 987654)],
        )  # fmt: skip

    assert (
        await member.find_by_identity(db, IdentityKind.PARTNER_ACCOUNT, "SKY-1", EVERYTHING) is None
    )
    again = await member.enroll(db, display_name="Ada", idempotency_key="ghost-partner")
    assert again.display_name == "Ada"  # the key was not taken by the failed attempt
