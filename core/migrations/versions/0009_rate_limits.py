"""rate limits and spent tokens in the database

The first release counted wrong receipts in each process's memory: one global limiter that a
stranger could fill to lock everyone out, per-session counts a replayed cookie reset, and
limits that multiplied with workers and reset on restart. Counters and spent single-use values
now live here, shared by every worker and server.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_counters',
    sa.Column('key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('window', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_counters'))
    )
    op.create_table('spent_tokens',
    sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_spent_tokens')),
    sqlite_with_rowid=False)


def downgrade() -> None:
    op.drop_table('spent_tokens')
    op.drop_table('rate_counters')
