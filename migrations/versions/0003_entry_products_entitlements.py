"""Entry products and entitlements; a "no_entitlement" gate outcome.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:52:15.239507

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OUTCOMES = ("granted", "no_consent", "refused")


def _outcomes(values: tuple[str, ...]) -> None:
    allowed = ", ".join(f"'{value}'" for value in values)
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_events_outcome'), type_='check')
        batch_op.create_check_constraint('outcome', f"outcome IN ({allowed})")


def upgrade() -> None:
    op.create_table('entry_products',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('venue_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('valid_days', sa.Integer(), nullable=True),
    sa.Column('included_with_enrollment', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('valid_days IS NULL OR valid_days > 0', name=op.f('ck_entry_products_valid_days_positive')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_entry_products_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entry_products')),
    sa.UniqueConstraint('venue_id', 'code', name=op.f('uq_entry_products_venue_id_code'))
    )
    with op.batch_alter_table('entry_products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entry_products_venue_id'), ['venue_id'], unique=False)

    op.create_table('entitlements',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('venue_id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('valid_until > valid_from', name=op.f('ck_entitlements_valid_period')),
    sa.ForeignKeyConstraint(['product_id'], ['entry_products.id'], name=op.f('fk_entitlements_product_id_entry_products')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_entitlements_subject_id_subjects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_entitlements_venue_id_venues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entitlements'))
    )
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entitlements_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entitlements_venue_id'), ['venue_id'], unique=False)

    # Enums are checked strings: a new outcome needs its CHECK constraint widened.
    _outcomes(OUTCOMES + ("no_entitlement",))


def downgrade() -> None:
    op.execute("DELETE FROM events WHERE outcome = 'no_entitlement'")
    _outcomes(OUTCOMES)
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlements_venue_id'))
        batch_op.drop_index(batch_op.f('ix_entitlements_subject_id'))

    op.drop_table('entitlements')
    with op.batch_alter_table('entry_products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entry_products_venue_id'))

    op.drop_table('entry_products')
