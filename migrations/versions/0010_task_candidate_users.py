"""Tasks name candidate users (camunda:candidateUsers) besides roles, a unit and an assignee

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('task', sa.Column('candidate_user_ids', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('task') as batch:
        batch.drop_column('candidate_user_ids')
