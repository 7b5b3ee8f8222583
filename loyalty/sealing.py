"""Contact identities sealed at rest (docs/privacy.md, "Contact data at rest").

A member's e-mail addresses and phone numbers are stored encrypted with the data keys
(infra.secrets, in `identities.sealed`), and `identities.value` (with the key in member_keys
that keeps it unique) holds a keyed hash of the normalised value instead: a member is still
found by its e-mail or phone with one indexed equality, and a database dump alone gives
neither the contact list nor a way to test a guess. The other kinds (cards, online and partner
accounts) are the program's or a partner's own numbers, stored as they are.

The hash is keyed by a key derived from the current data key. After a rotation (a new data
key put first) a value is looked up under every configured key's hash until `pointgate keys
reencrypt` has sealed and hashed every identity again under the new one (`reseal`)."""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any

from sqlalchemy import String, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncConnection

from infra import secrets
from infra.database import Database
from infra.models import identities, member_keys
from loyalty import keys

SEALED_KINDS = frozenset({"EMAIL", "PHONE"})
# What the ciphertext is bound to (infra.types.Encrypted on identities.sealed).
PURPOSE = "identities.sealed"
_LOOKUP = "identity-lookup"
HASH_PREFIX = "h:"


def is_sealed(kind: str) -> bool:
    return str(kind) in SEALED_KINDS


def _hash(key: bytes, kind: str, value: str) -> str:
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return HASH_PREFIX + digest


def key_count() -> int:
    """How many values an identity may be stored under (one per configured data key)."""
    return len(secrets.keyring().keys)


@functools.lru_cache(maxsize=8)
def _lookup_keys(keyring: secrets.Keyring) -> tuple[bytes, ...]:
    """The keyring's lookup keys, current first (derived once per keyring)."""
    return tuple(reversed(keyring.derived(_LOOKUP)))


def lookup(kind: str, value: str) -> str:
    """What `identities.value` holds for an identity (`value` normalised): the current key's
    hash for a contact identity, the value itself for the others."""
    if not is_sealed(kind):
        return value
    return _hash(_lookup_keys(secrets.keyring())[0], str(kind), value)


def lookups(kind: str, value: str) -> list[str]:
    """Every value the identity may be stored under, current key's first (one per data key,
    so that a plan reading them has as many parameters as the keyring has keys)."""
    if not is_sealed(kind):
        return [value] * key_count()  # a card or account: no hashing on the till's path
    return [_hash(key, str(kind), value) for key in _lookup_keys(secrets.keyring())]


def stored(kind: str, value: str) -> dict[str, Any]:
    """The columns an identity is written with (`sealed` is encrypted by its column type)."""
    return {"value": lookup(kind, value), "sealed": value if is_sealed(kind) else None}


def shown(row: Any) -> str:
    """An identity row's value as the member gave it (`sealed` read back in clear)."""
    return row.sealed if row.sealed is not None else row.value  # type: ignore[no-any-return]


def open_sealed(stored_text: str) -> str:
    """A sealed value read as raw text (a planned statement's answer) opened."""
    return secrets.keyring().decrypt(stored_text, PURPOSE)


async def reseal(db: Database, *, only_clear: bool = False) -> int:
    """Seal every contact identity with the current data key and hash it with the current
    lookup key (the keys in member_keys follow): after a key rotation (`pointgate keys
    reencrypt`), and (`only_clear`, at `pointgate migrate`) those stored in clear before
    sealing existed. How many were rewritten; a second run rewrites none."""
    async with db.transaction() as conn:
        return await _reseal(conn, only_clear)


async def _reseal(conn: AsyncConnection, only_clear: bool) -> int:
    keyring = secrets.keyring()
    query = select(
        identities.c.member_id,
        identities.c.id,
        identities.c.kind,
        identities.c.value,
        identities.c.sealed,
        type_coerce(identities.c.sealed, String()).label("raw_sealed"),
    ).where(identities.c.kind.in_(sorted(SEALED_KINDS)))
    if only_clear:
        query = query.where(identities.c.sealed.is_(None))
    rows = await conn.execute(query)
    rewritten = 0
    for row in rows.all():
        clear = shown(row)
        wanted = lookup(row.kind, clear)
        if row.value == wanted and row.sealed is not None and keyring.is_current(row.raw_sealed):
            continue
        await conn.execute(update(identities).where(
            identities.c.member_id == row.member_id, identities.c.id == row.id,
        ).values(value=wanted, sealed=clear))  # fmt: skip
        await conn.execute(update(member_keys).where(
            member_keys.c.key == keys.identity(row.kind, row.value),
        ).values(key=keys.identity(row.kind, wanted)))  # fmt: skip
        rewritten += 1
    return rewritten
