"""A member's consents to partners for a purpose (seeing its e-mail and phone, its birth date,
its purchases at other partners), kept with their history

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.types

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    if op.get_context().dialect.name == 'postgresql':  # a member's rows number from a sequence
        op.execute('CREATE SEQUENCE data_consents_id_seq')
    op.create_table('data_consents',
    sa.Column('member_id', ID, autoincrement=False, nullable=False),
    sa.Column('id', ID, autoincrement=False, nullable=False),
    sa.Column('partner_id', ID, nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('granted_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', infra.types.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_data_consents_member_id_members')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_data_consents_partner_id_partners')),
    sa.PrimaryKeyConstraint('member_id', 'id', name=op.f('pk_data_consents'))
    )
    op.create_index('ix_data_consents_id', 'data_consents', ['id'])
    op.create_index('ix_data_consents_member_id_partner_id', 'data_consents',
                    ['member_id', 'partner_id', 'purpose'])


def downgrade() -> None:
    op.drop_index('ix_data_consents_member_id_partner_id', table_name='data_consents')
    op.drop_index('ix_data_consents_id', table_name='data_consents')
    op.drop_table('data_consents')
    if op.get_context().dialect.name == 'postgresql':
        op.execute('DROP SEQUENCE data_consents_id_seq')
