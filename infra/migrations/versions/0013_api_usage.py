"""API usage counted per client and minute

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

`api_usage` replaces `api_calls` (a row per admitted partner operation, reads included): the
gateway counts in memory and adds the counts per client and minute every second
(partners.settlement.usage). The rows already recorded are counted into it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_usage',
    sa.Column('partner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('minute', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('calls', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_api_usage_partner_id_partners')),
    sa.PrimaryKeyConstraint('partner_id', 'client_id', 'minute', name='pk_api_usage')
    )
    if op.get_bind().dialect.name == 'postgresql':
        minute = "date_trunc('minute', at)"
    else:  # timestamps are text as SQLAlchemy writes them
        minute = "strftime('%Y-%m-%d %H:%M:00.000000', at)"
    op.execute(
        "INSERT INTO api_usage (partner_id, client_id, minute, calls)"
        f" SELECT partner_id, coalesce(client_id, ''), {minute}, count(*) FROM api_calls"
        f" GROUP BY partner_id, coalesce(client_id, ''), {minute}"
    )
    with op.batch_alter_table('api_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_api_calls_partner_id_at')
    op.drop_table('api_calls')


def downgrade() -> None:
    op.create_table('api_calls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('partner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_api_calls_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_calls'))
    )
    with op.batch_alter_table('api_calls', schema=None) as batch_op:
        batch_op.create_index('ix_api_calls_partner_id_at', ['partner_id', 'at'], unique=False)
    op.drop_table('api_usage')
