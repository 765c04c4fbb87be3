"""Migrations of running items onto another version of their process, asked and confirmed by two people

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.models import UtcDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'process_migration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('mapping', sa.JSON(), nullable=False),
        sa.Column('selection', sa.JSON(), nullable=False),
        sa.Column('note', sa.String(length=2000), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('requested_at', UtcDateTime(), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', UtcDateTime(), nullable=True),
        sa.Column('report', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id']),
        sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id']),
        sa.ForeignKeyConstraint(['target_id'], ['process_definition.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_process_migration_key'), 'process_migration', ['key'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_process_migration_key'), table_name='process_migration')
    op.drop_table('process_migration')
