"""Venue key rotation: the change-log number of the last rotation, so gates resync.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 11:42:47.320976

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_rotated_seq', sa.BigInteger(), server_default=sa.text('0'), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('venues', schema=None) as batch_op:
        batch_op.drop_column('key_rotated_seq')

