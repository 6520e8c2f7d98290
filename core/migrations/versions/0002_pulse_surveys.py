"""pulse surveys

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('surveys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surveys')),
    sa.UniqueConstraint('slug', name=op.f('uq_surveys_slug'))
    )
    op.create_table('survey_waves',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('open_link', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_waves_survey_id_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_waves')),
    sa.UniqueConstraint('open_link', name=op.f('uq_survey_waves_open_link')),
    sa.UniqueConstraint('survey_id', 'label', name=op.f('uq_survey_waves_survey_id'))
    )
    op.create_table('survey_invitation_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('code_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['wave_id'], ['survey_waves.id'], name=op.f('fk_survey_invitation_codes_wave_id_survey_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_invitation_codes')),
    sa.UniqueConstraint('code_digest', name=op.f('uq_survey_invitation_codes_code_digest'))
    )
    op.create_table('survey_responses',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('ethnicity', sa.String(length=40), nullable=True),
    sa.Column('band', sa.String(length=20), nullable=True),
    sa.Column('staff_group', sa.String(length=40), nullable=True),
    sa.Column('directorate', sa.String(length=40), nullable=True),
    sa.Column('internationally_educated', sa.String(length=20), nullable=True),
    sa.Column('disability', sa.String(length=20), nullable=True),
    sa.Column('sex', sa.String(length=20), nullable=True),
    sa.Column('age_band', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['wave_id'], ['survey_waves.id'], name=op.f('fk_survey_responses_wave_id_survey_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_responses'))
    )
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_responses_wave_id'), ['wave_id'], unique=False)

    op.create_table('survey_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.String(length=32), nullable=False),
    sa.Column('question_id', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['survey_responses.id'], name=op.f('fk_survey_answers_response_id_survey_responses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_answers'))
    )
    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.create_index('ix_survey_answers_question', ['question_id', 'value'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_answers_response_id'), ['response_id'], unique=False)

    op.create_table('survey_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.String(length=32), nullable=False),
    sa.Column('question_id', sa.String(length=40), nullable=False),
    sa.Column('text_sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['survey_responses.id'], name=op.f('fk_survey_comments_response_id_survey_responses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_comments'))
    )
    with op.batch_alter_table('survey_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_comments_response_id'), ['response_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('survey_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_comments_response_id'))

    op.drop_table('survey_comments')
    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_answers_response_id'))
        batch_op.drop_index('ix_survey_answers_question')

    op.drop_table('survey_answers')
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_responses_wave_id'))

    op.drop_table('survey_responses')
    op.drop_table('survey_invitation_codes')
    op.drop_table('survey_waves')
    op.drop_table('surveys')
