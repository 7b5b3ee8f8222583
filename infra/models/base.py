"""The metadata every table belongs to, and the constants tables share."""

from __future__ import annotations

from sqlalchemy import MetaData, text

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ZERO = text("0")
# A caller's idempotency key (at most 200 characters) with its namespace and a prefix.
KEY_LENGTH = 240
