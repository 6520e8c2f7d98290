"""guardians' sealed inbox index (speakup.inbox): one sealed blob per guardian, no clear data

Revision ID: 0012
Revises: 0014

Nothing to carry over: each guardian's index is built from their cases at their first inbox
view after the upgrade (it is a cache of what their grants open).
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox_indexes',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('index_sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_inbox_indexes_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_inbox_indexes'))
    )
    # A guardian's cases, and the clear columns the inbox copies, read without touching the
    # sealed data of each row (SQLite stores a concern's blobs in the row itself).
    op.create_index('ix_concern_grants_staff_id', 'concern_grants', ['staff_id', 'concern_id'])
    op.create_index('ix_concerns_inbox', 'concerns', ['id', 'ref', 'status', 'received_on',
                                                      'assigned_to_id', 'record_version',
                                                      'awaiting_guardian'])


def downgrade() -> None:
    op.drop_index('ix_concerns_inbox', table_name='concerns')
    op.drop_index('ix_concern_grants_staff_id', table_name='concern_grants')
    op.drop_table('inbox_indexes')
