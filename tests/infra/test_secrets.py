"""Signing keys, connector secrets and webhook secrets are stored sealed with the data key;
rotating the data key re-encrypts them, and secrets stored before encryption get sealed."""

from __future__ import annotations

import pytest
from sqlalchemy import String, select, type_coerce, update

from auth import keys
from infra import secrets
from infra.models import partners, signing_keys, webhook_subscriptions
from infra.rekey import has_unsealed_secrets, reencrypt_secrets
from partners import registry, webhook
from partners.registry import ConnectorKind
from tests.conftest import TEST_DATA_KEY
from tests.factories import a_partner

CONNECTOR_SECRET = "canary-connector-secret-7f3a"


async def raw(db, column):
    async with db.read() as conn:
        return list(await conn.scalars(select(type_coerce(column, String())).where(
            column.is_not(None))))  # fmt: skip


async def stored_secrets(db):
    partner = await a_partner(db, "sealed-air")
    await registry.update_partner(db, partner_id=partner.id, connector_kind=ConnectorKind.HTTP,
                                  connector_url="https://sealed.example",
                                  connector_secret=CONNECTOR_SECRET)  # fmt: skip
    _, hook_secret = await webhook.subscribe(db, partner_id=partner.id,
                                             url="https://sealed.example/h")  # fmt: skip
    await keys.rotate(db)
    return partner, hook_secret


@pytest.fixture
def keyring_of():
    def use(*data_keys):
        secrets.configure(lambda: secrets.Keyring.from_text(list(data_keys)))

    yield use
    use(TEST_DATA_KEY)


async def test_secrets_are_stored_sealed_and_read_back_in_clear(db):
    _, hook_secret = await stored_secrets(db)

    stored = (await raw(db, partners.c.connector_secret) + await raw(db, signing_keys.c.private_jwk)
              + await raw(db, webhook_subscriptions.c.secret))  # fmt: skip
    async with db.read() as conn:
        connector = await conn.scalar(select(partners.c.connector_secret))
        hook = await conn.scalar(select(webhook_subscriptions.c.secret))

    assert stored and all(value.startswith("enc:v1:") for value in stored)
    assert not any(CONNECTOR_SECRET in v or hook_secret in v or '"d"' in v for v in stored)
    assert (connector, hook) == (CONNECTOR_SECRET, hook_secret)
    assert await has_unsealed_secrets(db) is False


async def test_rotating_the_data_key_reencrypts_every_secret(db, keyring_of):
    await stored_secrets(db)
    new_key = secrets.new_data_key()

    keyring_of(new_key)
    with pytest.raises(secrets.SecretsError):  # the new key alone opens nothing yet
        async with db.read() as conn:
            await conn.scalar(select(partners.c.connector_secret))
    keyring_of(new_key, TEST_DATA_KEY)
    first = await reencrypt_secrets(db)
    second = await reencrypt_secrets(db)
    keyring_of(new_key)
    async with db.read() as conn:
        connector = await conn.scalar(select(partners.c.connector_secret))

    assert (first, second) == (3, 0)
    assert connector == CONNECTOR_SECRET


async def test_secrets_stored_readable_before_are_sealed_by_reencrypt(db):
    await stored_secrets(db)
    async with db.transaction() as conn:  # as a database from before encryption holds it
        await conn.execute(update(partners).values(
            {type_coerce(partners.c.connector_secret, String()): "legacy-plain"}))  # fmt: skip

    assert await has_unsealed_secrets(db) is True
    async with db.read() as conn:
        assert await conn.scalar(select(partners.c.connector_secret)) == "legacy-plain"
    assert await reencrypt_secrets(db) == 1
    assert await has_unsealed_secrets(db) is False
    assert all(v.startswith("enc:v1:") for v in await raw(db, partners.c.connector_secret))


async def test_a_sealed_value_moved_to_another_column_does_not_open(db):
    await stored_secrets(db)
    [sealed_hook] = await raw(db, webhook_subscriptions.c.secret)
    async with db.transaction() as conn:
        await conn.execute(update(partners).values(
            {type_coerce(partners.c.connector_secret, String()): sealed_hook}))  # fmt: skip

    with pytest.raises(secrets.SecretsError):
        async with db.read() as conn:
            await conn.scalar(select(partners.c.connector_secret))
