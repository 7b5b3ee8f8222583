"""Coupons: templates, the coupons issued from them, and a purchase's amount before discounts

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
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon_templates')),
    sa.UniqueConstraint('code', name=op.f('uq_coupon_templates_code'))
    )
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
    sa.Column('discount', infra.types.Money(precision=20, scale=4), nullable=True),
    sa.Column('redeemed_at', infra.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_coupons_member_id_members')),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_coupons_purchase_id_purchases')),
    sa.ForeignKeyConstraint(['template_id'], ['coupon_templates.id'], name=op.f('fk_coupons_template_id_coupon_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons')),
    sa.UniqueConstraint('code', name=op.f('uq_coupons_code')),
    sa.UniqueConstraint('template_id', 'member_id', 'issue_key', name='uq_coupons_template_id_member_issue_key')
    )
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.create_index('ix_coupons_member_id_id', ['member_id', 'id'], unique=False)
        batch_op.create_index('ix_coupons_purchase_id', ['purchase_id'], unique=False)

    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gross_amount', infra.types.Money(precision=20, scale=4), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_column('gross_amount')

    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index('ix_coupons_purchase_id')
        batch_op.drop_index('ix_coupons_member_id_id')

    op.drop_table('coupons')
    op.drop_table('coupon_templates')
