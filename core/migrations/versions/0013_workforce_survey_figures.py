"""workforce: NHS Staff Survey figures (WRES 5-8) entered from the trust's published results

The ``board`` staff role needs no schema change: ``staff_users.role`` is a plain string checked
by the application (accounts.models.ROLES).

Revision ID: 0013
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workforce_survey_figures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.Date(), nullable=False),
    sa.Column('indicator', sa.String(length=8), nullable=False),
    sa.Column('group', sa.String(length=20), nullable=False),
    sa.Column('percent', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workforce_survey_figures')),
    sa.UniqueConstraint('snapshot', 'indicator', 'group',
                        name=op.f('uq_workforce_survey_figures_snapshot'))
    )


def downgrade() -> None:
    op.drop_table('workforce_survey_figures')
