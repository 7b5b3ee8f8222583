"""Campaigns and their awards; what campaigns added to a purchase

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('priority', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('exclusive', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('starts_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('monthly_day', sa.BigInteger(), nullable=True),
    sa.Column('tiers', sa.String(length=64), nullable=True),
    sa.Column('channels', sa.String(length=64), nullable=True),
    sa.Column('partner_ids', sa.String(length=255), nullable=True),
    sa.Column('multiplier', infra.types.Rate(precision=26, scale=8), nullable=False),
    sa.Column('bonus_points', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('coupon_template_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('points_budget', sa.BigInteger(), nullable=True),
    sa.Column('points_awarded', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('funded_by_partner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['coupon_template_id'], ['coupon_templates.id'], name=op.f('fk_campaigns_coupon_template_id_coupon_templates')),
    sa.ForeignKeyConstraint(['funded_by_partner_id'], ['partners.id'], name=op.f('fk_campaigns_funded_by_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('code', name=op.f('uq_campaigns_code'))
    )
    op.create_table('campaign_awards',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('purchase_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('points_reversed', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_awards_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_campaign_awards_member_id_members')),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_campaign_awards_purchase_id_purchases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_awards')),
    sa.UniqueConstraint('campaign_id', 'purchase_id', name='uq_campaign_awards_campaign_purchase')
    )
    with op.batch_alter_table('campaign_awards', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_awards_purchase_id', ['purchase_id'], unique=False)

    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign_points', sa.BigInteger(), server_default=sa.text('0'), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_column('campaign_points')

    with op.batch_alter_table('campaign_awards', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_awards_purchase_id')

    op.drop_table('campaign_awards')
    op.drop_table('campaigns')
