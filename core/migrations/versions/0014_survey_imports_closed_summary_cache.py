"""imported survey waves are closed; the sealed cache of themed summaries

A wave whose answers were imported (never opened) was left a "draft", so the survey page
tagged a wave with published results "Draft": such waves (a draft with settled responses)
become closed, as an import now leaves them. The ``theme_summary_cache`` table keeps each
themed summary made, sealed to the organisation's analysis key (`equality.summary_cache`);
it starts empty.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text(
        "UPDATE survey_waves SET status = 'closed' WHERE status = 'draft' AND EXISTS "
        "(SELECT 1 FROM records WHERE records.stream = "
        "'survey:' || CAST(survey_waves.id AS VARCHAR(20)))"))
    op.create_table(
        'theme_summary_cache',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=40), nullable=False),
        sa.Column('sealed', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_theme_summary_cache')),
    )
    op.create_index(op.f('ix_theme_summary_cache_source'), 'theme_summary_cache', ['source'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_theme_summary_cache_source'), table_name='theme_summary_cache')
    op.drop_table('theme_summary_cache')
