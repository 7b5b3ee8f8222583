"""Member events out: program-wide webhook subscriptions with an event filter, and what was
announced already (a member's lifecycle, a coupon's coming expiry)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.types

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expiry_announced_at', infra.types.UtcDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('announced_lifecycle', sa.String(length=16), nullable=True))

    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('events', sa.String(length=255), nullable=True))
        batch_op.alter_column('partner_id',
               existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               nullable=True)



def downgrade() -> None:
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.alter_column('partner_id',
               existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               nullable=False)
        batch_op.drop_column('events')

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('announced_lifecycle')

    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_column('expiry_announced_at')

