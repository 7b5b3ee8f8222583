"""Re-encrypt every stored secret with the current data key: after a data key rotation, and
once for secrets written before encryption at rest (run by `pointgate migrate` too)."""

from __future__ import annotations

from sqlalchemy import String, select, type_coerce, update

from infra import secrets
from infra.database import Database
from infra.models import partners, signing_keys, webhook_subscriptions

SEALED = (
    (partners, partners.c.id, partners.c.connector_secret),
    (signing_keys, signing_keys.c.kid, signing_keys.c.private_jwk),
    (webhook_subscriptions, webhook_subscriptions.c.id, webhook_subscriptions.c.secret),
)


async def reencrypt_secrets(db: Database) -> int:
    """How many values were rewritten; a second run rewrites none."""
    keyring = secrets.keyring()
    rewritten = 0
    async with db.transaction() as conn:
        for table, key, column in SEALED:
            stored = type_coerce(column, String()).label("stored")
            rows = await conn.execute(select(key, column, stored).where(column.is_not(None)))
            for row in rows.all():
                if keyring.is_current(row.stored):
                    continue
                await conn.execute(update(table).where(key == row[0]).values({column.name: row[1]}))
                rewritten += 1
    return rewritten


async def has_unsealed_secrets(db: Database) -> bool:
    """Whether a secret is still stored readable (written before encryption at rest)."""
    async with db.read() as conn:
        for _table, _key, column in SEALED:
            stored = type_coerce(column, String())
            found = await conn.scalar(
                select(stored).where(column.is_not(None), ~stored.startswith(secrets.PREFIX))
                .limit(1)
            )  # fmt: skip
            if found is not None:
                return True
    return False
