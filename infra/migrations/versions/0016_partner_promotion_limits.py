"""What a partner may fund; coupon grants a purchase skipped

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

`partners.campaign_points_limit` and `partners.coupon_budget_limit`: the points a partner's
running campaigns may award and the money its running coupon templates may give, set by an
operator (loyalty.promotions.funding). Both start at zero: a partner funds nothing until an
operator allows it. `campaigns.coupons_skipped` and `campaign_awards.coupon_skipped`: a
campaign's coupon grant that its template refused (exhausted, ended) is skipped, counted and
its reason kept, instead of refusing the purchase.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.types

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('partners') as batch:
        batch.add_column(sa.Column('campaign_points_limit', sa.BigInteger(),
                                   server_default=sa.text('0'), nullable=False))
        batch.add_column(sa.Column('coupon_budget_limit',
                                   infra.types.Money(precision=20, scale=4),
                                   server_default=sa.text('0'), nullable=False))
    with op.batch_alter_table('campaigns') as batch:
        batch.add_column(sa.Column('coupons_skipped', sa.BigInteger(),
                                   server_default=sa.text('0'), nullable=False))
    with op.batch_alter_table('campaign_awards') as batch:
        batch.add_column(sa.Column('coupon_skipped', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('campaign_awards') as batch:
        batch.drop_column('coupon_skipped')
    with op.batch_alter_table('campaigns') as batch:
        batch.drop_column('coupons_skipped')
    with op.batch_alter_table('partners') as batch:
        batch.drop_column('coupon_budget_limit')
        batch.drop_column('campaign_points_limit')
