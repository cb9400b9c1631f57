"""Operator console: sessions, allowed networks and hours, the audit chain head and checkpoints,
consent renewal after a change of purpose, and request handling fields.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 12:28:14.342292

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
    sa.UniqueConstraint('seq', name=op.f('uq_audit_checkpoints_seq'))
    )
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    # The genesis tip: the first entry's prev_hash is 64 zeros.
    op.execute("INSERT INTO audit_head (id, seq, last_hash) VALUES (1, 0, '" + "0" * 64 + "')")
    op.create_table('operator_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('operator_id', sa.Uuid(), nullable=False),
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('csrf_digest', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_operator_sessions_operator_id_operators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_sessions')),
    sa.UniqueConstraint('token_digest', name=op.f('uq_operator_sessions_token_digest'))
    )
    with op.batch_alter_table('operator_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_sessions_operator_id'), ['operator_id'], unique=False)

    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('renewal_required_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('changed_purposes', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))

    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allowed_networks', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(sa.Column('allowed_hours', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('privacy_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('identity_check', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('verified_by', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_privacy_requests_verified_by_operators'), 'operators', ['verified_by'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('privacy_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_privacy_requests_verified_by_operators'), type_='foreignkey')
        batch_op.drop_column('verified_by')
        batch_op.drop_column('identity_check')
        batch_op.drop_column('target_at')

    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('last_sign_in_at')
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('allowed_hours')
        batch_op.drop_column('allowed_networks')

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_column('changed_purposes')

    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('renewal_required_at')

    with op.batch_alter_table('operator_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_sessions_operator_id'))

    op.drop_table('operator_sessions')
    op.drop_table('audit_head')
    op.drop_table('audit_checkpoints')
