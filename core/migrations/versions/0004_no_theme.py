"""no theme applies

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, as in 0003: SQLite's table-copying batch mode would run
    # ON DELETE CASCADE on the rows that refer to concerns.
    op.add_column('concerns', sa.Column('no_theme_on', sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column('concerns', 'no_theme_on')
