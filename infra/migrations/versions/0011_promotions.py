"""Promotions: coupon templates and coupons, campaigns and their awards, benefit grants; a
purchase's amount before coupons and its campaigns' points; a reward taken with a free-item
coupon (no transfer); a member's birth date and the lifecycle last announced; program-wide
webhook subscriptions for member events

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.types

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('coupon_templates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reward_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('amount_off', infra.types.Money(precision=20, scale=4), nullable=True),
    sa.Column('percent_off', infra.types.Rate(precision=26, scale=8), nullable=True),
    sa.Column('max_discount', infra.types.Money(precision=20, scale=4), nullable=True),
    sa.Column('threshold', infra.types.Money(precision=20, scale=4), server_default=sa.text('0'), nullable=False),
    sa.Column('valid_from', infra.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('valid_until', infra.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('valid_hours', sa.BigInteger(), nullable=True),
    sa.Column('channels', sa.String(length=64), nullable=True),
    sa.Column('partner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('funded_by_partner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('per_member_limit', sa.BigInteger(), nullable=True),
    sa.Column('total_limit', sa.BigInteger(), nullable=True),
    sa.Column('budget', infra.types.Money(precision=20, scale=4), nullable=True),
    sa.Column('issued_count', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('redeemed_count', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('discount_total', infra.types.Money(precision=20, scale=4), server_default=sa.text('0'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['funded_by_partner_id'], ['partners.id'], name=op.f('fk_coupon_templates_funded_by_partner_id_partners')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_coupon_templates_partner_id_partners')),
    sa.ForeignKeyConstraint(['reward_id'], ['rewards.id'], name=op.f('fk_coupon_templates_reward_id_rewards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon_templates')),
    sa.UniqueConstraint('code', name=op.f('uq_coupon_templates_code'))
    )
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
    sa.Column('lifecycles', sa.String(length=64), nullable=True),
    sa.Column('spend_bands', sa.String(length=32), nullable=True),
    sa.Column('frequency_bands', sa.String(length=32), nullable=True),
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

    op.create_table('coupons',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('template_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('issue_key', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('issued_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('valid_from', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('valid_until', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('purchase_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('redemption_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('discount', infra.types.Money(precision=20, scale=4), nullable=True),
    sa.Column('redeemed_at', infra.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('expiry_announced_at', infra.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_coupons_member_id_members')),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_coupons_purchase_id_purchases')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_coupons_redemption_id_redemptions')),
    sa.ForeignKeyConstraint(['template_id'], ['coupon_templates.id'], name=op.f('fk_coupons_template_id_coupon_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons')),
    sa.UniqueConstraint('code', name=op.f('uq_coupons_code')),
    sa.UniqueConstraint('template_id', 'member_id', 'issue_key', name='uq_coupons_template_id_member_issue_key')
    )
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.create_index('ix_coupons_member_id_id', ['member_id', 'id'], unique=False)
        batch_op.create_index('ix_coupons_purchase_id', ['purchase_id'], unique=False)

    op.create_table('benefit_grants',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('benefit', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=32), nullable=False),
    sa.Column('coupon_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('granted_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_benefit_grants_coupon_id_coupons')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_benefit_grants_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_benefit_grants')),
    sa.UniqueConstraint('member_id', 'benefit', 'period', name='uq_benefit_grants_member_benefit')
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birth_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('announced_lifecycle', sa.String(length=16), nullable=True))

    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gross_amount', infra.types.Money(precision=20, scale=4), nullable=True))
        batch_op.add_column(sa.Column('campaign_points', sa.BigInteger(), server_default=sa.text('0'), nullable=False))

    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.alter_column('transfer_id',
               existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               nullable=True)

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

    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.alter_column('transfer_id',
               existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
               nullable=False)

    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_column('campaign_points')
        batch_op.drop_column('gross_amount')

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('announced_lifecycle')
        batch_op.drop_column('birth_date')

    op.drop_table('benefit_grants')
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index('ix_coupons_purchase_id')
        batch_op.drop_index('ix_coupons_member_id_id')

    op.drop_table('coupons')
    with op.batch_alter_table('campaign_awards', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_awards_purchase_id')

    op.drop_table('campaign_awards')
    op.drop_table('campaigns')
    op.drop_table('coupon_templates')
