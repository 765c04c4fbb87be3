"""A task of a called process (call activity) names the definition it belongs to

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('task') as batch:
        batch.add_column(sa.Column('definition_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f('fk_task_definition_id_process_definition'), 'process_definition', ['definition_id'], ['id']
        )


def downgrade() -> None:
    with op.batch_alter_table('task') as batch:
        batch.drop_constraint(batch.f('fk_task_definition_id_process_definition'), type_='foreignkey')
        batch.drop_column('definition_id')
