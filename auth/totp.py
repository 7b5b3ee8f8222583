"""A person's second factor: TOTP codes (RFC 6238, pyotp), each good once."""

from __future__ import annotations

import binascii
import hmac
from datetime import datetime, timedelta
from typing import Any

import pyotp
from sqlalchemy import update

from infra.database import Database
from infra.models import console_users


async def take_code(db: Database, user: Any, code: str, now: datetime) -> bool:
    """Whether `code` is the person's current TOTP code (or the one just before or after, for
    clock drift) and not used before; a good code is used up."""
    step = matching_step(user.totp_secret, code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    async with db.transaction() as conn:
        taken = await conn.execute(
            update(console_users)
            .where(console_users.c.id == user.id,
                   (console_users.c.totp_last_step.is_(None))
                   | (console_users.c.totp_last_step < step))
            .values(totp_last_step=step)
        )  # fmt: skip
    return bool(taken.rowcount)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code `code` is (this one, the one before or after), or None; a
    secret that is not base32 (a form's tampered value) matches nothing."""
    try:
        totp = pyotp.TOTP(secret)
    except (ValueError, binascii.Error):
        return None
    code = code.strip().replace(" ", "")
    for drift in (0, -1, 1):
        at = now + timedelta(seconds=drift * totp.interval)
        # as bytes: compare_digest refuses str with non-ASCII characters (a 500)
        if hmac.compare_digest(totp.at(at).encode(), code.encode("utf-8", "surrogatepass")):
            return int(at.timestamp()) // totp.interval
    return None


def new_secret(user: Any) -> tuple[str, str]:
    """A new TOTP secret for the person, and its otpauth:// URI for an authenticator app."""
    secret = pyotp.random_base32()
    return secret, pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Pointgate")


def valid_secret(secret: str) -> bool:
    """Whether `secret` is a TOTP secret as new_secret makes them (base32, 16 to 128
    characters): a form's value is checked before anything uses it."""
    if not 16 <= len(secret) <= 128 or not secret.isascii():
        return False
    try:
        pyotp.TOTP(secret).byte_secret()
    except (ValueError, binascii.Error):
        return False
    return True
