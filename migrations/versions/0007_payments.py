"""Payments: tokenised payment methods, step-up PINs, charges and the ledger; venue currency
and PIN limit.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:50:15.706652

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('payment_methods',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('token_ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_payment_methods_subject_id_subjects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_methods'))
    )
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_methods_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index('uq_payment_methods_live', ['subject_id'], unique=True, sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))

    op.create_table('payment_pins',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('pin_hash', sa.String(length=255), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('failed_attempts >= 0', name=op.f('ck_payment_pins_failed_non_negative')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_payment_pins_subject_id_subjects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_pins')),
    sa.UniqueConstraint('subject_id', name=op.f('uq_payment_pins_subject_id'))
    )
    op.create_table('charges',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('venue_id', sa.Uuid(), nullable=False),
    sa.Column('gate_id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('item', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('pending', 'awaiting_pin', 'processing', 'captured', 'declined', 'refused', 'refunded', 'partially_refunded', name='status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=True),
    sa.Column('provider_payment_id', sa.String(length=128), nullable=True),
    sa.Column('failure_code', sa.String(length=64), nullable=True),
    sa.Column('refunded_minor', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_charges_amount_positive')),
    sa.CheckConstraint('length(currency) = 3', name=op.f('ck_charges_currency_iso4217')),
    sa.CheckConstraint('refunded_minor >= 0 AND refunded_minor <= amount_minor', name=op.f('ck_charges_refund_within_amount')),
    sa.ForeignKeyConstraint(['gate_id'], ['gates.id'], name=op.f('fk_charges_gate_id_gates')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_charges_subject_id_subjects'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_charges_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charges')),
    sa.UniqueConstraint('venue_id', 'idempotency_key', name=op.f('uq_charges_venue_id_idempotency_key'))
    )
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_charges_gate_id'), ['gate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_charges_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index('ix_charges_venue_id_created_at', ['venue_id', 'created_at'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('charge_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('authorization', 'capture', 'refund', 'decline', 'failure', name='kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('provider_ref', sa.String(length=128), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['charge_id'], ['charges.id'], name=op.f('fk_ledger_entries_charge_id_charges')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_charge_id'), ['charge_id'], unique=False)

    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('currency', sa.String(length=3), server_default=sa.text("'JPY'"), nullable=False))
        batch_op.add_column(sa.Column('pin_above_minor', sa.BigInteger(), server_default=sa.text('3000'), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.drop_column('pin_above_minor')
        batch_op.drop_column('currency')

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_charge_id'))

    op.drop_table('ledger_entries')
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_index('ix_charges_venue_id_created_at')
        batch_op.drop_index(batch_op.f('ix_charges_subject_id'))
        batch_op.drop_index(batch_op.f('ix_charges_gate_id'))

    op.drop_table('charges')
    op.drop_table('payment_pins')
    with op.batch_alter_table('payment_methods', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_methods_live', sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_payment_methods_subject_id'))

    op.drop_table('payment_methods')
