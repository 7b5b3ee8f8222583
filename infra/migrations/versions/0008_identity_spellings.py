"""Identities in one spelling: phones in E.164, emails in lower case, card numbers in upper case

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Rows whose new spelling another row of the same kind already has (two members enrolled with
two spellings of one phone), and phones that do not parse, are left as they were and reported
(logger pointgate.migrations), for an operator to merge the members (`mergeMembers`) or fix
the value; the migration does not fail on them.
"""

from __future__ import annotations

import logging

import phonenumbers
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

log = logging.getLogger("pointgate.migrations")


def spelling(kind: str, value: str, region: str) -> str | None:
    """The value's one spelling (as loyalty.member.normalize_identity writes it from now on),
    or None where it cannot be had."""
    value = value.strip()
    if kind == 'PHONE':
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_possible_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if kind == 'EMAIL':
        return value.lower()
    return value.upper()


def upgrade() -> None:
    config = op.get_context().config
    region = config.attributes.get('phone_region', 'US') if config is not None else 'US'
    conn = op.get_bind()
    identities = sa.table('identities', sa.column('id', sa.BigInteger),
                          sa.column('kind', sa.String), sa.column('value', sa.String),
                          sa.column('member_id', sa.BigInteger))
    rows = conn.execute(
        sa.select(identities.c.id, identities.c.kind, identities.c.value, identities.c.member_id)
        .where(identities.c.kind.in_(['PHONE', 'EMAIL', 'LOYALTY_CARD']))
        .order_by(identities.c.id)
    ).all()
    taken = {(row.kind, row.value): row for row in rows}
    for row in rows:
        wanted = spelling(row.kind, row.value, region)
        if wanted == row.value:
            continue
        if wanted is None:
            log.warning("identity %s (%s of member %s) is not a phone number: left as %r",
                        row.id, row.kind, row.member_id, row.value)
            continue
        holder = taken.get((row.kind, wanted))
        if holder is not None:
            log.warning("identity %s (%s %r of member %s) is another spelling of identity %s "
                        "of member %s: left as it was; merge the members or unlink one",
                        row.id, row.kind, row.value, row.member_id, holder.id, holder.member_id)
            continue
        conn.execute(sa.update(identities).where(identities.c.id == row.id).values(value=wanted))
        del taken[(row.kind, row.value)]
        taken[(row.kind, wanted)] = row


def downgrade() -> None:
    """The old spellings are not kept: nothing to undo."""
