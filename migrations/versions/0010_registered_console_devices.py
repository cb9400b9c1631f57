"""Registered console devices: operators sign in only from browsers an administrator registered
for them (a one-time code, then a long-lived device cookie; only HMACs stored). Sessions remember
the device they were opened on, so revoking it ends them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 15:25:44.010837

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('operator_devices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('operator_id', sa.Uuid(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('registration_digest', sa.String(length=64), nullable=False),
    sa.Column('registration_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('token_digest', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_operator_devices_operator_id_operators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_devices')),
    sa.UniqueConstraint('registration_digest', name=op.f('uq_operator_devices_registration_digest')),
    sa.UniqueConstraint('token_digest', name=op.f('uq_operator_devices_token_digest'))
    )
    with op.batch_alter_table('operator_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_devices_operator_id'), ['operator_id'], unique=False)

    with op.batch_alter_table('operator_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_operator_sessions_device_id'), ['device_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_operator_sessions_device_id_operator_devices'), 'operator_devices', ['device_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('operator_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_operator_sessions_device_id_operator_devices'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_operator_sessions_device_id'))
        batch_op.drop_column('device_id')

    with op.batch_alter_table('operator_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_devices_operator_id'))

    op.drop_table('operator_devices')
