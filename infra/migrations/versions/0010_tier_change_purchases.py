"""Tier changes name the purchase behind them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

`tier_changes.purchase_id`: the purchase whose growth value caused an UPGRADE, so that a refund
of it can revert the upgrade (reason UPGRADE_REVERTED). Earlier upgrades stay without one and
are not reverted by refunds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tier_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purchase_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_tier_changes_purchase_id_purchases'), 'purchases', ['purchase_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_tier_changes_purchase_id'), ['purchase_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tier_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tier_changes_purchase_id'))
        batch_op.drop_constraint(batch_op.f('fk_tier_changes_purchase_id_purchases'), type_='foreignkey')
        batch_op.drop_column('purchase_id')
