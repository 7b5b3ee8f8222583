"""Console users and their sessions

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

`console_users`: the people who use the console (operators, partners' staff), invited by an
operator, with an optional TOTP second factor; `console_sessions`: their sign-ins (hashes of
the cookie's token), revocable; `partners.client_scopes`: what a partner's staff may give the
clients they register.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.types

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Moment = infra.types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('console_users',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('partner_id', Id, nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('invitation_hash', sa.String(length=64), nullable=True),
    sa.Column('invitation_expires_at', Moment, nullable=True),
    sa.Column('invited_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', Moment, nullable=False),
    sa.Column('activated_at', Moment, nullable=True),
    sa.Column('disabled_at', Moment, nullable=True),
    sa.Column('totp_secret', infra.types.Encrypted(400, 'console_users.totp_secret'), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_console_users_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_users')),
    sa.UniqueConstraint('email', name=op.f('uq_console_users_email')),
    sa.UniqueConstraint('invitation_hash', name=op.f('uq_console_users_invitation_hash'))
    )
    op.create_table('console_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', Id, nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', Moment, nullable=False),
    sa.Column('expires_at', Moment, nullable=False),
    sa.Column('revoked_at', Moment, nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['console_users.id'], name=op.f('fk_console_sessions_user_id_console_users')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_console_sessions'))
    )
    op.create_index(op.f('ix_console_sessions_user_id'), 'console_sessions', ['user_id'], unique=False)
    with op.batch_alter_table('partners') as batch:
        batch.add_column(sa.Column('client_scopes', sa.String(length=500), server_default='',
                                   nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('partners') as batch:
        batch.drop_column('client_scopes')
    op.drop_index(op.f('ix_console_sessions_user_id'), table_name='console_sessions')
    op.drop_table('console_sessions')
    op.drop_table('console_users')
