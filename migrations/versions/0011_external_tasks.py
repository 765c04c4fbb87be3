"""External service tasks: jobs external workers fetch, lock, complete or fail

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.models import UtcDateTime

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'external_task',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('spiff_id', sa.String(length=36), nullable=False),
        sa.Column('element', sa.String(length=200), nullable=False),
        sa.Column('topic', sa.String(length=200), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('variables', sa.JSON(), nullable=False),
        sa.Column('worker_id', sa.String(length=100), nullable=True),
        sa.Column('lock_expires_at', UtcDateTime(), nullable=True),
        sa.Column('available_at', UtcDateTime(), nullable=False),
        sa.Column('retries', sa.Integer(), nullable=True),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('completed_at', UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_external_task_item_id_item')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_external_task')),
    )
    with op.batch_alter_table('external_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_task_item_id'), ['item_id'], unique=False)
        batch_op.create_index('ix_external_task_fetch', ['state', 'topic', 'available_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('external_task', schema=None) as batch_op:
        batch_op.drop_index('ix_external_task_fetch')
        batch_op.drop_index(batch_op.f('ix_external_task_item_id'))
    op.drop_table('external_task')
