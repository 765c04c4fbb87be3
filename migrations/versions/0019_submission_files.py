"""A submission's files: ``attachment.submission_id`` (the file stays the item's evidence once triaged)

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_attachment_submission_id_submission"), "submission", ["submission_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_attachment_submission_id"), ["submission_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_submission_id"))
        batch_op.drop_constraint(batch_op.f("fk_attachment_submission_id_submission"), type_="foreignkey")
        batch_op.drop_column("submission_id")
