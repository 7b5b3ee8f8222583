"""members, identities, ledger, purchases, redemptions

Revision ID: 0001
Revises: 
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('tier', sa.String(length=16), server_default='SILVER', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='ACTIVE', nullable=False),
    sa.Column('enrolled_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('enrollment_key', sa.String(length=200), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('enrollment_key', name=op.f('uq_members_enrollment_key'))
    )
    op.create_index('ix_members_tier_id', 'members', ['tier', 'id'], unique=False)
    op.create_table('partners',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='ACTIVE', nullable=False),
    sa.Column('created_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners')),
    sa.UniqueConstraint('code', name=op.f('uq_partners_code'))
    )
    op.create_table('accounts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('partner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('posted_debits', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('posted_credits', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('pending_debits', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('pending_credits', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_accounts_member_id_members')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_accounts_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('member_id', name=op.f('uq_accounts_member_id'))
    )
    op.create_table('identities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('linked_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_identities_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identities')),
    sa.UniqueConstraint('kind', 'value', name='uq_identities_kind_value')
    )
    op.create_index(op.f('ix_identities_member_id'), 'identities', ['member_id'], unique=False)
    op.create_table('purchases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('external_order_id', sa.String(length=200), nullable=False),
    sa.Column('amount', infra.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('points_earned', sa.BigInteger(), nullable=False),
    sa.Column('refunded_amount', infra.types.Money(precision=20, scale=4), server_default=sa.text('0'), nullable=False),
    sa.Column('points_reversed', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('partner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('purchased_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_purchases_amount_positive')),
    sa.CheckConstraint('refunded_amount <= amount', name=op.f('ck_purchases_refund_within_amount')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_purchases_member_id_members')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_purchases_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchases')),
    sa.UniqueConstraint('source', 'external_order_id', name='uq_purchases_source_order')
    )
    op.create_index('ix_purchases_member_id_id', 'purchases', ['member_id', 'id'], unique=False)
    op.create_table('transfers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('debit_account_id', sa.String(length=64), nullable=False),
    sa.Column('credit_account_id', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('phase', sa.String(length=8), nullable=False),
    sa.Column('pending_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('partner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_transfers_amount_positive')),
    sa.CheckConstraint('debit_account_id <> credit_account_id', name=op.f('ck_transfers_distinct_accounts')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['accounts.id'], name=op.f('fk_transfers_credit_account_id_accounts')),
    sa.ForeignKeyConstraint(['debit_account_id'], ['accounts.id'], name=op.f('fk_transfers_debit_account_id_accounts')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_transfers_partner_id_partners')),
    sa.ForeignKeyConstraint(['pending_id'], ['transfers.id'], name=op.f('fk_transfers_pending_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_transfers_idempotency_key')),
    sa.UniqueConstraint('pending_id', name=op.f('uq_transfers_pending_id'))
    )
    op.create_index('ix_transfers_credit_account_id_id', 'transfers', ['credit_account_id', 'id'], unique=False)
    op.create_index('ix_transfers_debit_account_id_id', 'transfers', ['debit_account_id', 'id'], unique=False)
    op.create_table('redemptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('partner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cancel_transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', infra.types.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cancel_transfer_id'], ['transfers.id'], name=op.f('fk_redemptions_cancel_transfer_id_transfers')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_redemptions_member_id_members')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_redemptions_partner_id_partners')),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_redemptions_transfer_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_redemptions_idempotency_key'))
    )
    op.create_index(op.f('ix_redemptions_member_id'), 'redemptions', ['member_id'], unique=False)
    op.create_table('refunds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('purchase_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('amount', infra.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('points_reversed', sa.BigInteger(), nullable=False),
    sa.Column('points_unrecovered', sa.BigInteger(), nullable=False),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_refunds_purchase_id_purchases')),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_refunds_transfer_id_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_refunds_idempotency_key'))
    )
    op.create_index(op.f('ix_refunds_purchase_id'), 'refunds', ['purchase_id'], unique=False)
    op.bulk_insert(
        sa.table('accounts', sa.column('id', sa.String)),
        [{'id': code} for code in ('program:issuance', 'program:redemption', 'program:expired')],
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_refunds_purchase_id'), table_name='refunds')
    op.drop_table('refunds')
    op.drop_index(op.f('ix_redemptions_member_id'), table_name='redemptions')
    op.drop_table('redemptions')
    op.drop_index('ix_transfers_debit_account_id_id', table_name='transfers')
    op.drop_index('ix_transfers_credit_account_id_id', table_name='transfers')
    op.drop_table('transfers')
    op.drop_index('ix_purchases_member_id_id', table_name='purchases')
    op.drop_table('purchases')
    op.drop_index(op.f('ix_identities_member_id'), table_name='identities')
    op.drop_table('identities')
    op.drop_table('accounts')
    op.drop_table('partners')
    op.drop_index('ix_members_tier_id', table_name='members')
    op.drop_table('members')
