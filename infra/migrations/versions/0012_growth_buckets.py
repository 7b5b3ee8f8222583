"""Growth value per member and month

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

`growth_buckets`: each member's growth value per UTC calendar month, with the first and last
event time it counts (loyalty.growth), so the rolling window is read from at most 13 rows. Built
here from the purchases (net of refunds) and interactions already recorded.
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
    op.create_table('growth_buckets',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('growth', sa.BigInteger(), nullable=False),
    sa.Column('first_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_at', infra.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_growth_buckets_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', 'month', name='pk_growth_buckets')
    )
    _build_from_history()


def _build_from_history() -> None:
    purchases = sa.table('purchases', sa.column('member_id'), sa.column('purchased_at'),
                         sa.column('growth_value'), sa.column('growth_reversed'))
    interactions = sa.table('interactions', sa.column('member_id'), sa.column('occurred_at'),
                            sa.column('growth_value'))
    buckets = sa.table('growth_buckets', sa.column('member_id'), sa.column('month'),
                       sa.column('growth'), sa.column('first_at'), sa.column('last_at'))
    events = sa.union_all(
        sa.select(purchases.c.member_id, purchases.c.purchased_at.label('at'),
                  (purchases.c.growth_value - purchases.c.growth_reversed).label('growth')),
        sa.select(interactions.c.member_id, interactions.c.occurred_at.label('at'),
                  interactions.c.growth_value.label('growth')),
    ).subquery()
    month = infra.types.MonthKey(events.c.at)
    op.execute(buckets.insert().from_select(
        ['member_id', 'month', 'growth', 'first_at', 'last_at'],
        sa.select(events.c.member_id, month, sa.func.sum(events.c.growth),
                  sa.func.min(events.c.at), sa.func.max(events.c.at))
        .group_by(events.c.member_id, month),
    ))


def downgrade() -> None:
    op.drop_table('growth_buckets')
