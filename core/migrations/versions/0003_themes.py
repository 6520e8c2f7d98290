"""themes

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('theme_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('trained_by', sa.String(length=120), nullable=False),
    sa.Column('examples', sa.Integer(), nullable=False),
    sa.Column('macro_f1_before', sa.Float(), nullable=True),
    sa.Column('macro_f1_after', sa.Float(), nullable=True),
    sa.Column('model_sealed', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_theme_models'))
    )
    op.create_table('concern_themes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('concern_id', sa.Integer(), nullable=False),
    sa.Column('theme_id', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['concern_id'], ['concerns.id'], name=op.f('fk_concern_themes_concern_id_concerns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_concern_themes')),
    sa.UniqueConstraint('concern_id', 'theme_id', name=op.f('uq_concern_themes_concern_id'))
    )
    # Plain ADD COLUMN: both databases support it, and SQLite's table-copying batch mode
    # would run ON DELETE CASCADE on the rows that refer to concerns.
    op.add_column('concerns', sa.Column('quote_sealed', sa.LargeBinary(), nullable=True))
    op.add_column('concerns', sa.Column('tone', sa.Float(), nullable=True))
    op.add_column('survey_comments', sa.Column('themes', sa.String(length=400), nullable=False,
                                               server_default=''))
    op.add_column('survey_comments', sa.Column('tone', sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column('survey_comments', 'tone')
    op.drop_column('survey_comments', 'themes')
    op.drop_column('concerns', 'tone')
    op.drop_column('concerns', 'quote_sealed')

    op.drop_table('concern_themes')
    op.drop_table('theme_models')
