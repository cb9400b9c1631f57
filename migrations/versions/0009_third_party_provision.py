"""Third-party provision: recipients people may consent to, their consents, and the record of
every provision (with consent, or a law-enforcement release on a legal basis).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 13:19:47.842145

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('provision_recipients',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('contact', sa.String(length=300), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provision_recipients')),
    sa.UniqueConstraint('name', name=op.f('uq_provision_recipients_name'))
    )
    op.create_table('provision_consents',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('recipient_id', sa.Uuid(), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('withdrawn_at IS NULL OR withdrawn_at >= granted_at', name=op.f('ck_provision_consents_withdrawn_after_granted')),
    sa.ForeignKeyConstraint(['recipient_id'], ['provision_recipients.id'], name=op.f('fk_provision_consents_recipient_id_provision_recipients')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_provision_consents_subject_id_subjects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provision_consents'))
    )
    with op.batch_alter_table('provision_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provision_consents_recipient_id'), ['recipient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provision_consents_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index('uq_provision_consents_live', ['subject_id', 'recipient_id'], unique=True, sqlite_where=sa.text('withdrawn_at IS NULL'), postgresql_where=sa.text('withdrawn_at IS NULL'))

    op.create_table('provisions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('recipient_id', sa.Uuid(), nullable=True),
    sa.Column('recipient_name', sa.String(length=200), nullable=False),
    sa.Column('basis', sa.Enum('consent', 'law_enforcement', name='basis', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('basis_reference', sa.String(length=200), nullable=True),
    sa.Column('consent_id', sa.Uuid(), nullable=True),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('venue_id', sa.Uuid(), nullable=True),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('provided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('operator_id', sa.Uuid(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("basis <> 'consent' OR (recipient_id IS NOT NULL AND consent_id IS NOT NULL)", name=op.f('ck_provisions_consent_has_recipient')),
    sa.CheckConstraint("basis <> 'law_enforcement' OR (basis_reference IS NOT NULL AND length(trim(basis_reference)) > 0)", name=op.f('ck_provisions_law_enforcement_has_reference')),
    sa.CheckConstraint('length(content_sha256) = 64', name=op.f('ck_provisions_content_sha256_hex')),
    sa.ForeignKeyConstraint(['consent_id'], ['provision_consents.id'], name=op.f('fk_provisions_consent_id_provision_consents')),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_provisions_operator_id_operators')),
    sa.ForeignKeyConstraint(['recipient_id'], ['provision_recipients.id'], name=op.f('fk_provisions_recipient_id_provision_recipients')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_provisions_subject_id_subjects')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_provisions_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provisions'))
    )
    with op.batch_alter_table('provisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provisions_subject_id'), ['subject_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('provisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provisions_subject_id'))

    op.drop_table('provisions')
    with op.batch_alter_table('provision_consents', schema=None) as batch_op:
        batch_op.drop_index('uq_provision_consents_live', sqlite_where=sa.text('withdrawn_at IS NULL'), postgresql_where=sa.text('withdrawn_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_provision_consents_subject_id'))
        batch_op.drop_index(batch_op.f('ix_provision_consents_recipient_id'))

    op.drop_table('provision_consents')
    op.drop_table('provision_recipients')
