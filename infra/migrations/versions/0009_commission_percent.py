"""Statement lines keep the commission percentage they were priced with

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

A commission line's unit rate is a per-point amount (3 % of 0.01 = 0.0003); finance reads the
rate card's percentage, now stored with the line (NULL for lines that are no commission and for
lines frozen before this revision).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('statement_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('commission_percent', infra.types.Rate(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('statement_lines', schema=None) as batch_op:
        batch_op.drop_column('commission_percent')
