"""Keys ready to shard by member

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

Every member's row is keyed (member_id, id), and every unique constraint of a member's table
includes member_id (docs/scaling.md, "Sharding by member"): `transfers`, `refunds`, `lot_draws`,
`exchange_events` and `statement_transfers` gain the member they belong to; foreign keys
between members' rows include it; references that a merge or a referral can carry to another
member are plain ids. What must stay unique across members (enrollment keys, referral codes,
identities, order ids, coupon codes) is claimed in `member_keys`. Program and partner accounts
move from `accounts` (now one row per member) to `ledger_accounts`. Purchases record what of
their referrer's share was credited and taken back (all of it, until now: it was done in the
purchase's and the refund's own transaction).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# Foreign keys that go away or are made again over (member_id, ...).
DROPPED_FKS = {
    'members': ['fk_members_merged_into_members', 'fk_members_referred_by_members'],
    'accounts': ['fk_accounts_partner_id_partners'],
    'tier_changes': ['fk_tier_changes_purchase_id_purchases'],
    'purchases': ['fk_purchases_referrer_id_members'],
    'refunds': ['fk_refunds_purchase_id_purchases', 'fk_refunds_transfer_id_transfers'],
    'redemptions': ['fk_redemptions_transfer_id_transfers',
                    'fk_redemptions_cancel_transfer_id_transfers'],
    'transfers': ['fk_transfers_debit_account_id_accounts',
                  'fk_transfers_credit_account_id_accounts', 'fk_transfers_pending_id_transfers'],
    'point_lots': ['fk_point_lots_transfer_id_transfers'],
    'lot_draws': ['fk_lot_draws_lot_id_point_lots', 'fk_lot_draws_transfer_id_transfers'],
    'exchanges': ['fk_exchanges_quote_id_quotes', 'fk_exchanges_transfer_id_transfers',
                  'fk_exchanges_fee_transfer_id_transfers'],
    'exchange_events': ['fk_exchange_events_exchange_id_exchanges'],
    'coupons': ['fk_coupons_purchase_id_purchases', 'fk_coupons_redemption_id_redemptions'],
    'campaign_awards': ['fk_campaign_awards_purchase_id_purchases'],
    'benefit_grants': ['fk_benefit_grants_coupon_id_coupons'],
    'statement_transfers': ['fk_statement_transfers_transfer_id_transfers'],
}

# Unique constraints replaced by ones with member_id (or by member_keys).
DROPPED_UNIQUES = {
    'members': ['uq_members_enrollment_key', 'uq_members_referral_code'],
    'accounts': ['uq_accounts_member_id'],
    'identities': ['uq_identities_kind_value'],
    'interactions': ['uq_interactions_idempotency_key'],
    'purchases': ['uq_purchases_namespace_source_order'],
    'refunds': ['uq_refunds_idempotency_key'],
    'redemptions': ['uq_redemptions_idempotency_key'],
    'transfers': ['uq_transfers_idempotency_key', 'uq_transfers_pending_id'],
    'exchanges': ['uq_exchanges_idempotency_key', 'uq_exchanges_quote_id'],
    'coupons': ['uq_coupons_code'],
    'campaign_awards': ['uq_campaign_awards_campaign_purchase'],
}

# Indexes the new primary keys (member_id, id) cover.
DROPPED_INDEXES = {
    'identities': ['ix_identities_member_id'],
    'tier_changes': ['ix_tier_changes_member_id'],
    'redemptions': ['ix_redemptions_member_id'],
    'purchases': ['ix_purchases_member_id_id'],
    'coupons': ['ix_coupons_member_id_id'],
}

# Tables keyed (member_id, id) from now on, their ids still drawn from one sequence each.
MEMBER_ROWS = ['identities', 'consents', 'interactions', 'tier_changes', 'purchases', 'refunds',
               'redemptions', 'transfers', 'point_lots', 'lot_draws', 'exchange_events',
               'coupons', 'campaign_awards', 'benefit_grants']

NEW_UNIQUES = {
    'interactions': [('uq_interactions_member_id_key', ['member_id', 'idempotency_key'])],
    'identities': [('uq_identities_member_id_kind_value', ['member_id', 'kind', 'value'])],
    'purchases': [('uq_purchases_member_id_order',
                   ['member_id', 'namespace', 'source', 'external_order_id'])],
    'refunds': [('uq_refunds_member_id_key', ['member_id', 'idempotency_key'])],
    'redemptions': [('uq_redemptions_member_id_key', ['member_id', 'idempotency_key'])],
    'transfers': [('uq_transfers_member_id_key', ['member_id', 'idempotency_key']),
                  ('uq_transfers_member_id_pending_id', ['member_id', 'pending_id'])],
    'exchanges': [('uq_exchanges_member_id_key', ['member_id', 'idempotency_key']),
                  ('uq_exchanges_member_id_quote_id', ['member_id', 'quote_id'])],
    'coupons': [('uq_coupons_member_id_code', ['member_id', 'code'])],
    'campaign_awards': [('uq_campaign_awards_campaign_purchase',
                         ['member_id', 'campaign_id', 'purchase_id'])],
}

# (name, columns, referred table, its columns)
NEW_FKS = {
    'transfers': [('fk_transfers_member_id_members', ['member_id'], 'members', ['id']),
                  ('fk_transfers_pending_id_transfers', ['member_id', 'pending_id'],
                   'transfers', ['member_id', 'id'])],
    'refunds': [('fk_refunds_member_id_members', ['member_id'], 'members', ['id']),
                ('fk_refunds_purchase_id_purchases', ['member_id', 'purchase_id'],
                 'purchases', ['member_id', 'id'])],
    'lot_draws': [('fk_lot_draws_member_id_members', ['member_id'], 'members', ['id']),
                  ('fk_lot_draws_lot_id_point_lots', ['member_id', 'lot_id'],
                   'point_lots', ['member_id', 'id'])],
    'exchanges': [('fk_exchanges_quote_id_quotes', ['member_id', 'quote_id'],
                   'quotes', ['member_id', 'id']),
                  ('fk_exchanges_transfer_id_transfers', ['member_id', 'transfer_id'],
                   'transfers', ['member_id', 'id']),
                  ('fk_exchanges_fee_transfer_id_transfers', ['member_id', 'fee_transfer_id'],
                   'transfers', ['member_id', 'id'])],
    'exchange_events': [('fk_exchange_events_member_id_members', ['member_id'], 'members',
                         ['id']),
                        ('fk_exchange_events_exchange_id_exchanges', ['member_id', 'exchange_id'],
                         'exchanges', ['member_id', 'id'])],
    'campaign_awards': [('fk_campaign_awards_purchase_id_purchases', ['member_id', 'purchase_id'],
                         'purchases', ['member_id', 'id'])],
    'benefit_grants': [('fk_benefit_grants_coupon_id_coupons', ['member_id', 'coupon_id'],
                        'coupons', ['member_id', 'id'])],
    'statement_transfers': [('fk_statement_transfers_transfer_id_transfers',
                             ['member_id', 'transfer_id'], 'transfers', ['member_id', 'id'])],
}

NEW_INDEXES: dict[str, list[tuple[str, list[str]]]] = {
    'quotes': [('ix_quotes_id', ['id'])],
    'exchanges': [('ix_exchanges_id', ['id']),
                  ('ix_exchanges_idempotency_key', ['idempotency_key'])],
    'members': [('ix_members_referral_code', ['referral_code'])],
    'identities': [('ix_identities_kind_value', ['kind', 'value'])],
    'refunds': [('ix_refunds_idempotency_key', ['idempotency_key'])],
    'redemptions': [('ix_redemptions_idempotency_key', ['idempotency_key'])],
    'coupons': [('ix_coupons_code', ['code'])],
}
for _table in set(MEMBER_ROWS) - {'point_lots', 'lot_draws', 'exchange_events'}:
    NEW_INDEXES.setdefault(_table, []).append((f'ix_{_table}_id', ['id']))

MEMBER_OF_ACCOUNT = "CAST(substr({column}, 8) AS BIGINT)"


def upgrade() -> None:
    for table, names in DROPPED_FKS.items():
        with op.batch_alter_table(table) as batch:
            for name in names:
                batch.drop_constraint(name, type_='foreignkey')
    _new_tables()
    _add_member_ids()
    _claim_member_keys()
    _rekey()
    with op.batch_alter_table('purchases') as batch:
        batch.add_column(sa.Column('referral_paid', sa.BigInteger(), server_default=sa.text('0'),
                                   nullable=False))
        batch.add_column(sa.Column('referral_reclaimed', sa.BigInteger(),
                                   server_default=sa.text('0'), nullable=False))
        batch.add_column(sa.Column('referral_pending', sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
    # Shares were credited and taken back in the purchase's and the refund's transaction.
    op.execute("UPDATE purchases SET referral_paid = referral_points,"
               " referral_reclaimed = referral_points_reversed")
    pending = sa.column('referral_pending', sa.Boolean())
    op.create_index('ix_purchases_referral_pending', 'purchases', ['referral_pending'],
                    postgresql_where=pending, sqlite_where=pending)
    for table, constraints in NEW_FKS.items():
        with op.batch_alter_table(table) as batch:
            for name, columns, target, target_columns in constraints:
                batch.create_foreign_key(name, target, columns, target_columns)


def _new_tables() -> None:
    op.create_table('ledger_accounts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('partner_id', Id, nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_ledger_accounts_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts'))
    )
    op.execute("INSERT INTO ledger_accounts (id, partner_id)"
               " SELECT id, partner_id FROM accounts WHERE member_id IS NULL")
    op.execute("DELETE FROM accounts WHERE member_id IS NULL")
    op.create_table('member_keys',
    sa.Column('key', sa.String(length=400), nullable=False),
    sa.Column('member_id', Id, nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_member_keys'))
    )
    op.create_index(op.f('ix_member_keys_member_id'), 'member_keys', ['member_id'], unique=False)


def _add_member_ids() -> None:
    for table in ('transfers', 'refunds', 'lot_draws', 'exchange_events', 'statement_transfers'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('member_id', Id, nullable=True))
    debit = MEMBER_OF_ACCOUNT.format(column='debit_account_id')
    credit = MEMBER_OF_ACCOUNT.format(column='credit_account_id')
    op.execute(f"UPDATE transfers SET member_id = CASE WHEN debit_account_id LIKE 'member:%'"
               f" THEN {debit} ELSE {credit} END")
    for table, source, link in (
        ('refunds', 'purchases', 'purchase_id'),
        ('lot_draws', 'point_lots', 'lot_id'),
        ('exchange_events', 'exchanges', 'exchange_id'),
        ('statement_transfers', 'transfers', 'transfer_id'),
    ):
        op.execute(f"UPDATE {table} SET member_id ="
                   f" (SELECT member_id FROM {source} WHERE {source}.id = {table}.{link})")
    for table in ('transfers', 'refunds', 'lot_draws', 'exchange_events', 'statement_transfers'):
        with op.batch_alter_table(table) as batch:
            batch.alter_column('member_id', existing_type=Id, nullable=False)


def _claim_member_keys() -> None:
    """What was unique across members is claimed by its holder."""
    for key, source, condition in (
        ("'enrollment:' || enrollment_key", 'members', 'enrollment_key IS NOT NULL'),
        ("'referral:' || referral_code", 'members', 'referral_code IS NOT NULL'),
        ("'identity:' || kind || ':' || value", 'identities', '1 = 1'),
        ("'order:' || namespace || '/' || source || '/' || external_order_id", 'purchases',
         '1 = 1'),
        ("'coupon:' || code", 'coupons', '1 = 1'),
    ):
        holder = 'id' if source == 'members' else 'member_id'
        op.execute(f"INSERT INTO member_keys (key, member_id)"
                   f" SELECT {key}, {holder} FROM {source} WHERE {condition}")


def _rekey() -> None:
    for table in {*DROPPED_UNIQUES, *DROPPED_INDEXES, *MEMBER_ROWS, *NEW_UNIQUES, *NEW_INDEXES,
                  'accounts', 'quotes', 'exchanges', 'statement_transfers'}:
        for name in DROPPED_INDEXES.get(table, []):
            op.drop_index(name, table_name=table)
        with op.batch_alter_table(table) as batch:
            for name in DROPPED_UNIQUES.get(table, []):
                batch.drop_constraint(name, type_='unique')
            if table == 'accounts':
                batch.drop_column('partner_id')
                batch.alter_column('member_id', existing_type=Id, nullable=False)
                _primary_key(batch, table, ['member_id'])
                batch.create_check_constraint('named_for_member', "id = 'member:' || member_id")
            elif table in MEMBER_ROWS or table in ('quotes', 'exchanges'):
                _primary_key(batch, table, ['member_id', 'id'])
            elif table == 'statement_transfers':
                _primary_key(batch, table, ['member_id', 'line_id', 'transfer_id'])
            if table == 'transfers':
                batch.create_check_constraint(
                    'moves_its_member',
                    "debit_account_id = 'member:' || member_id"
                    " OR credit_account_id = 'member:' || member_id",
                )
            for name, columns in NEW_UNIQUES.get(table, []):
                batch.create_unique_constraint(name, columns)
            for name, columns in NEW_INDEXES.get(table, []):
                batch.create_index(name, columns)


def _primary_key(batch: object, table: str, columns: list[str]) -> None:
    batch.drop_constraint(f'pk_{table}', type_='primary')  # type: ignore[attr-defined]
    batch.create_primary_key(f'pk_{table}', columns)  # type: ignore[attr-defined]


def downgrade() -> None:
    raise NotImplementedError("0014 is not reversible: restore the backup taken before it")
