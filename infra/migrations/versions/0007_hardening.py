"""Hardening: quotes belong to whoever asked for them; keys and order ids per namespace

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


KEYED = {'members': 'enrollment_key', 'interactions': 'idempotency_key',
         'transfers': 'idempotency_key', 'refunds': 'idempotency_key',
         'redemptions': 'idempotency_key', 'exchanges': 'idempotency_key'}


def upgrade() -> None:
    with op.batch_alter_table('quotes') as batch:
        batch.add_column(sa.Column('requested_by', sa.String(length=120), nullable=True))
    for table, column in KEYED.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(length=240),
                               existing_type=sa.String(length=200))
    # Secrets are sealed (infra.secrets): room for the nonce, tag and key id.
    for table, column in (('partners', 'connector_secret'), ('webhook_subscriptions', 'secret')):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(length=400),
                               existing_type=sa.String(length=200))
    with op.batch_alter_table('purchases') as batch:
        batch.add_column(sa.Column('namespace', sa.String(length=24), nullable=False,
                                   server_default=sa.text("''")))
        batch.drop_constraint('uq_purchases_source_order', type_='unique')
        batch.create_unique_constraint('uq_purchases_namespace_source_order',
                                       ['namespace', 'source', 'external_order_id'])


def downgrade() -> None:
    with op.batch_alter_table('purchases') as batch:
        batch.drop_constraint('uq_purchases_namespace_source_order', type_='unique')
        batch.create_unique_constraint('uq_purchases_source_order', ['source', 'external_order_id'])
        batch.drop_column('namespace')
    for table, column in (('partners', 'connector_secret'), ('webhook_subscriptions', 'secret')):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(length=200),
                               existing_type=sa.String(length=400))
    for table, column in KEYED.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(length=200),
                               existing_type=sa.String(length=240))
    with op.batch_alter_table('quotes') as batch:
        batch.drop_column('requested_by')
