"""Token signing keys, kept in the database so every replica signs and verifies alike.

The newest unretired key signs. Rotating adds a key and retires the others; a retired key stays
in the published JWKS for the access-token lifetime plus the JWKS cache time, so no token it
signed fails verification anywhere before it expires."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select, update

from infra.database import Database
from infra.models import signing_keys

ALGORITHM = "RS256"


@dataclass(frozen=True, slots=True)
class SigningKeys:
    current: RSAKey
    # Public keys a verifier should accept: the current one and recently retired ones.
    published: KeySet

    def jwks(self) -> dict[str, Any]:
        return dict(self.published.as_dict(private=False))


def _new_key() -> RSAKey:
    kid = secrets.token_urlsafe(12)
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})


async def rotate(db: Database, *, now: datetime | None = None) -> str:
    """Add a new signing key and retire the others. Returns the new key's kid."""
    now = now or datetime.now(UTC)
    key = _new_key()
    async with db.transaction() as conn:
        await conn.execute(
            update(signing_keys).where(signing_keys.c.retired_at.is_(None)).values(retired_at=now)
        )
        await conn.execute(
            signing_keys.insert().values(
                kid=key.kid, private_jwk=orjson.dumps(key.as_dict(private=True)).decode(),
                created_at=now,
            )
        )  # fmt: skip
    return str(key.kid)


# Private keys already imported, by kid (with the JWK they came from): importing one checks the
# RSA key, tens of milliseconds of CPU that would stall every request at each reload.
_IMPORTED: dict[str, tuple[str, RSAKey]] = {}


def _imported(kid: str, private_jwk: str) -> RSAKey:
    found = _IMPORTED.get(kid)
    if found is None or found[0] != private_jwk:
        found = _IMPORTED[kid] = (private_jwk, RSAKey.import_key(orjson.loads(private_jwk)))
    return found[1]


async def load(
    db: Database, *, keep_retired_for: timedelta, now: datetime | None = None
) -> SigningKeys:
    """The signing key and the published set; creates the first key on a fresh database."""
    now = now or datetime.now(UTC)
    async with db.read() as conn:
        rows = list(
            await conn.execute(
                select(signing_keys)
                .where(
                    signing_keys.c.retired_at.is_(None)
                    | (signing_keys.c.retired_at > now - keep_retired_for)
                )
                .order_by(signing_keys.c.created_at.desc())
            )
        )
    if not any(row.retired_at is None for row in rows):
        await rotate(db, now=now)
        return await load(db, keep_retired_for=keep_retired_for, now=now)
    keys = [_imported(row.kid, row.private_jwk) for row in rows]
    for kid in set(_IMPORTED) - {row.kid for row in rows}:
        del _IMPORTED[kid]
    current = next(key for key, row in zip(keys, rows, strict=True) if row.retired_at is None)
    published = KeySet([RSAKey.import_key(key.as_dict(private=False)) for key in keys])
    return SigningKeys(current=current, published=published)
