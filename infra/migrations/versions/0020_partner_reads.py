"""Reads of a member's data by partners' clients, counted per member, client and day (what a
member's export shows of who accessed its data)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('partner_reads',
    sa.Column('member_id', ID, nullable=False),
    sa.Column('partner_id', ID, nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reads', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_partner_reads_member_id_members')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_reads_partner_id_partners')),
    sa.PrimaryKeyConstraint('member_id', 'partner_id', 'client_id', 'day', name='pk_partner_reads')
    )


def downgrade() -> None:
    op.drop_table('partner_reads')
