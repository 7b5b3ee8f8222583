"""Contact identities (e-mail, phone) sealed at rest: `identities.sealed` holds the value
encrypted, `identities.value` a keyed hash of it (loyalty.sealing). Identities stored in clear
before are sealed by `pointgate migrate` right after this revision (it needs the data keys,
which migrations do not read).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.types

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('identities') as batch:
        batch.add_column(sa.Column(
            'sealed', infra.types.Encrypted(512, 'identities.sealed'), nullable=True
        ))


def downgrade() -> None:
    with op.batch_alter_table('identities') as batch:
        batch.drop_column('sealed')
