"""Enrollment: one-time sign-in links, recovery code digest, enrollment method, notice venues.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:27:54.002948

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sign_in_links',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_sign_in_links_subject_id_subjects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_links')),
    sa.UniqueConstraint('token_digest', name=op.f('uq_sign_in_links_token_digest'))
    )
    with op.batch_alter_table('sign_in_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_links_subject_id'), ['subject_id'], unique=False)

    with op.batch_alter_table('notices', schema=None) as batch_op:
        # Existing notices named no venues; the default fills them in.
        batch_op.add_column(sa.Column('venue_ids', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))

    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enrollment_method', sa.Enum('camera_liveness', 'photo_upload', name='enrollment_method', native_enum=False, create_constraint=True, length=32), nullable=True))
        batch_op.add_column(sa.Column('recovery_code_digest', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_subjects_recovery_code_digest'), ['recovery_code_digest'])



def downgrade() -> None:
    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_subjects_recovery_code_digest'), type_='unique')
        batch_op.drop_column('recovery_code_digest')
        # SQLite's batch copy would otherwise keep a CHECK naming the dropped column.
        batch_op.drop_constraint(batch_op.f('ck_subjects_enrollment_method'), type_='check')
        batch_op.drop_column('enrollment_method')

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_column('venue_ids')

    with op.batch_alter_table('sign_in_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_links_subject_id'))

    op.drop_table('sign_in_links')
