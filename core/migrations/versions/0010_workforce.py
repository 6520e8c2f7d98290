"""workforce equality data: reporting periods, staff snapshots, board, applications, targets

Revision ID: 0010
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workforce_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workforce_periods')),
    sa.UniqueConstraint('snapshot', 'version', name=op.f('uq_workforce_periods_snapshot'))
    )
    op.create_table('workforce_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('band', sa.String(length=24), nullable=False),
    sa.Column('share', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workforce_targets')),
    sa.UniqueConstraint('year', 'band', name=op.f('uq_workforce_targets_year'))
    )
    op.create_table('workforce_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('application_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('vacancy_id', sa.String(length=100), nullable=False),
    sa.Column('band', sa.String(length=24), nullable=False),
    sa.Column('ethnicity', sa.String(length=40), nullable=False),
    sa.Column('disability', sa.String(length=12), nullable=False),
    sa.Column('sex', sa.String(length=12), nullable=False),
    sa.Column('internal_candidate', sa.Boolean(), nullable=False),
    sa.Column('shortlisted', sa.Boolean(), nullable=False),
    sa.Column('interviewed', sa.Boolean(), nullable=False),
    sa.Column('appointed', sa.Boolean(), nullable=False),
    sa.Column('route', sa.String(length=24), nullable=False),
    sa.Column('panel_diverse', sa.String(length=8), nullable=False),
    sa.Column('directorate', sa.String(length=80), nullable=False),
    sa.Column('decision_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['period_id'], ['workforce_periods.id'], name=op.f('fk_workforce_applications_period_id_workforce_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workforce_applications')),
    sa.UniqueConstraint('period_id', 'application_key', name=op.f('uq_workforce_applications_period_id'))
    )
    op.create_table('workforce_board_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('voting', sa.Boolean(), nullable=False),
    sa.Column('executive', sa.Boolean(), nullable=False),
    sa.Column('ethnicity', sa.String(length=40), nullable=False),
    sa.Column('disability', sa.String(length=12), nullable=False),
    sa.Column('sex', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['period_id'], ['workforce_periods.id'], name=op.f('fk_workforce_board_members_period_id_workforce_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workforce_board_members'))
    )
    op.create_index(op.f('ix_workforce_board_members_period_id'), 'workforce_board_members', ['period_id'], unique=False)
    op.create_table('workforce_staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('person_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('ethnicity', sa.String(length=40), nullable=False),
    sa.Column('band', sa.String(length=24), nullable=False),
    sa.Column('staff_group', sa.String(length=40), nullable=False),
    sa.Column('directorate', sa.String(length=80), nullable=False),
    sa.Column('clinical', sa.Boolean(), nullable=False),
    sa.Column('disability', sa.String(length=12), nullable=False),
    sa.Column('sex', sa.String(length=12), nullable=False),
    sa.Column('board_voting_member', sa.Boolean(), nullable=False),
    sa.Column('entered_formal_disciplinary', sa.Boolean(), nullable=False),
    sa.Column('entered_formal_capability', sa.Boolean(), nullable=False),
    sa.Column('accessed_non_mandatory_training', sa.Boolean(), nullable=False),
    sa.Column('hourly_pay', sa.Float(), nullable=True),
    sa.Column('bonus_pay', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['period_id'], ['workforce_periods.id'], name=op.f('fk_workforce_staff_period_id_workforce_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workforce_staff')),
    sa.UniqueConstraint('period_id', 'person_key', name=op.f('uq_workforce_staff_period_id'))
    )


def downgrade() -> None:
    op.drop_table('workforce_staff')
    op.drop_index(op.f('ix_workforce_board_members_period_id'), table_name='workforce_board_members')
    op.drop_table('workforce_board_members')
    op.drop_table('workforce_applications')
    op.drop_table('workforce_targets')
    op.drop_table('workforce_periods')
