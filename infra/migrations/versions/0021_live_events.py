"""Live events (loyalty.live): the outbox subscriptions follow, written by the transaction that
makes a change; on PostgreSQL a trigger NOTIFYs each row on `pointgate_live` at commit.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.types

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

NOTIFY = ("""
CREATE FUNCTION pointgate_live_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pointgate_live', row_to_json(NEW)::text);
    RETURN NULL;
END $$
""", """
CREATE TRIGGER live_events_notify AFTER INSERT ON live_events
    FOR EACH ROW EXECUTE FUNCTION pointgate_live_notify()
""")


def upgrade() -> None:
    op.create_table('live_events',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('at', infra.types.UtcDateTime(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('member_id', ID, nullable=True),
    sa.Column('partner_id', ID, nullable=True),
    sa.Column('subject', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=64), nullable=True),
    sa.Column('points', sa.BigInteger(), nullable=True),
    sa.Column('balance', sa.BigInteger(), nullable=True),
    sa.Column('body', sa.String(length=2000), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_live_events'))
    )
    op.create_index('ix_live_events_at', 'live_events', ['at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        for statement in NOTIFY:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER live_events_notify ON live_events")
        op.execute("DROP FUNCTION pointgate_live_notify()")
    op.drop_index('ix_live_events_at', table_name='live_events')
    op.drop_table('live_events')
