"""disclosure_releases: the audited release of each closed wave, kept across restarts

Each row is one version of the disclosure-control decision for one subject (a survey question
in one wave), sealed under a server key (`core.release_store`); subject and data fingerprint
are HMACs. It starts empty: releases are decided on first view after a wave closes.

Revision ID: 0011
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'disclosure_releases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('sealed', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_releases')),
        sa.UniqueConstraint('subject', 'version', name=op.f('uq_disclosure_releases_subject')),
    )
    op.create_index(op.f('ix_disclosure_releases_subject'), 'disclosure_releases', ['subject'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_disclosure_releases_subject'), table_name='disclosure_releases')
    op.drop_table('disclosure_releases')
