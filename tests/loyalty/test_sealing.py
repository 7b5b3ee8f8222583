"""Contact identities sealed at rest (docs/privacy.md, "Contact data at rest"): no table holds a
member's e-mail or phone in clear, yet the member is found by them and sees them on both read
paths; a data key rotation re-seals and re-hashes them (`pointgate keys reencrypt`), lookups
working meanwhile; identities stored in clear before are sealed by `pointgate migrate`."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from sqlalchemy import String, func, select, type_coerce, update

from gateway.app import create_app
from infra import secrets
from infra.models import identities, member_keys
from loyalty import member, sealing
from loyalty.errors import IdentityTaken
from loyalty.member import IdentityKind
from loyalty.visibility import EVERYTHING
from tests.conftest import TEST_DATA_KEY, bearer, graphql, http_client
from tests.factories import a_member
from tests.infra.test_secrets import keyring_of  # noqa: F401 (a fixture)
from tests.loyalty.test_erasure import text_values_holding

EMAIL, PHONE = "grace.sealed@example.com", "+442071838752"
BY_IDENTITY = """query F($kind: IdentityKind!, $value: String!) {
  memberByIdentity(kind: $kind, value: $value) { displayName identities { kind value } } }"""


async def link(db, member_id, kind, value):
    return await member.link_identity(db, member_id=member_id, kind=kind, value=value,
                                      partner_id=None, visible=EVERYTHING)  # fmt: skip


async def grace(db):
    found = await a_member(db, "Grace", card="CARD-GRACE")
    for kind, value in ((IdentityKind.EMAIL, EMAIL), (IdentityKind.PHONE, PHONE)):
        await link(db, found.id, kind, value)
    return found


async def found_by(db, kind, value):
    return await member.find_by_identity(db, kind, value, EVERYTHING)


async def test_no_table_holds_an_email_or_phone_in_clear_nor_its_plain_hash(db):
    await grace(db)
    plain_hashes = [hashlib.sha256(v.encode()).hexdigest() for v in (EMAIL, PHONE)]

    left = await text_values_holding(db, [EMAIL, PHONE, "2071838752", *plain_hashes])
    async with db.read() as conn:
        stored = list(await conn.execute(select(
            identities.c.kind, identities.c.value, type_coerce(identities.c.sealed, String()),
        ).order_by(identities.c.id)))  # fmt: skip

    assert left == []
    assert [(kind, value.startswith("h:"), raw.startswith("enc:v1:")) for kind, value, raw in
            stored[1:]] == [("EMAIL", True, True), ("PHONE", True, True)]  # fmt: skip
    assert stored[0][1:] == ("CARD-GRACE", None)  # a card is the program's number, in clear


async def test_a_sealed_identity_finds_its_member_in_any_spelling_and_reads_in_clear(db, settings):
    found = await grace(db)
    answers = []
    for compiled in (True, False):  # the planned statement (opened after it), the loaders
        app = create_app(dataclasses.replace(settings, compiled_reads=compiled), db)
        client = http_client(app, await bearer(app, "operator:tests", "admin"))
        answers.append(await graphql(client, BY_IDENTITY,
                                     {"kind": "PHONE", "value": "+44 20 7183 8752"}))  # fmt: skip
        if compiled and db.dialect == "postgresql":
            assert app.state.compiled_operations.outcomes["compiled"] == 1

    assert await found_by(db, IdentityKind.EMAIL, "  Grace.Sealed@EXAMPLE.com") == found.id
    assert await found_by(db, IdentityKind.PHONE, "+44 20 7183 8752") == found.id
    assert await found_by(db, IdentityKind.EMAIL, "grace.other@example.com") is None
    expected = {"displayName": "Grace", "identities": [
        {"kind": "LOYALTY_CARD", "value": "CARD-GRACE"}, {"kind": "EMAIL", "value": EMAIL},
        {"kind": "PHONE", "value": PHONE}]}  # fmt: skip
    assert [a["data"]["memberByIdentity"] for a in answers] == [expected, expected]


async def test_the_same_email_cannot_be_linked_twice(db):
    await grace(db)
    other = await a_member(db, "Other")

    with pytest.raises(IdentityTaken):
        await link(db, other.id, IdentityKind.EMAIL, EMAIL.upper())


async def test_a_key_rotation_reseals_and_rehashes_and_lookups_work_throughout(db, keyring_of):  # noqa: F811
    found = await grace(db)
    other = await a_member(db, "Other")
    new_key = secrets.new_data_key()

    keyring_of(new_key, TEST_DATA_KEY)  # the new key first, not yet re-keyed
    during = await found_by(db, IdentityKind.EMAIL, EMAIL)
    with pytest.raises(IdentityTaken):  # held under the older key's hash
        await link(db, other.id, IdentityKind.EMAIL, EMAIL)
    again = await link(db, found.id, IdentityKind.EMAIL, EMAIL)
    rewritten = (await sealing.reseal(db), await sealing.reseal(db))
    keyring_of(new_key)  # the old key dropped
    after = await found_by(db, IdentityKind.PHONE, PHONE)
    async with db.read() as conn:
        shown = [
            sealing.shown(row)
            for row in await conn.execute(
                select(identities)
                .where(identities.c.member_id == found.id)
                .order_by(identities.c.id)
            )
        ]
        held = await conn.scalar(select(func.count()).select_from(member_keys).where(
            member_keys.c.key == f"identity:EMAIL:{sealing.lookup('EMAIL', EMAIL)}"))  # fmt: skip

    assert (during, after, sealing.shown(again)) == (found.id, found.id, EMAIL)
    assert rewritten == (2, 0)
    assert shown == ["CARD-GRACE", EMAIL, PHONE]
    assert held == 1


async def test_identities_stored_in_clear_before_sealing_are_sealed_at_migrate(db):
    found = await grace(db)
    async with db.transaction() as conn:  # as a database from before sealing holds them
        for value, kind in ((EMAIL, "EMAIL"), (PHONE, "PHONE")):
            await conn.execute(update(identities).where(identities.c.kind == kind)
                               .values(value=value, sealed=None))  # fmt: skip
            await conn.execute(update(member_keys).where(
                member_keys.c.key == f"identity:{kind}:{sealing.lookup(kind, value)}"
            ).values(key=f"identity:{kind}:{value}"))  # fmt: skip

    sealed = await sealing.reseal(db, only_clear=True)

    assert sealed == 2
    assert await text_values_holding(db, [EMAIL, PHONE]) == []
    assert await found_by(db, IdentityKind.EMAIL, EMAIL) == found.id
    assert await sealing.reseal(db, only_clear=True) == 0
