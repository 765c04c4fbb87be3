"""Intake: submissions (problems and suggestions raised by staff or the public) and office settings

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.models import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("raised_by_id", sa.Integer(), nullable=True),
        sa.Column("raised_at", UtcDateTime(), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column("receipt_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("triaged_by_id", sa.Integer(), nullable=True),
        sa.Column("triaged_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_submission_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["raised_by_id"], ["user_account.id"], name=op.f("fk_submission_raised_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_submission_item_id_item")),
        sa.ForeignKeyConstraint(
            ["triaged_by_id"], ["user_account.id"], name=op.f("fk_submission_triaged_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission")),
        sa.UniqueConstraint("receipt_hash", name=op.f("uq_submission_receipt_hash")),
    )
    with op.batch_alter_table("submission", schema=None) as batch_op:
        for column in ("source", "department_id", "raised_by_id", "raised_at", "address_hash", "status", "item_id"):
            batch_op.create_index(batch_op.f(f"ix_submission_{column}"), [column], unique=False)
    op.create_table(
        "office_setting",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_office_setting")),
    )


def downgrade() -> None:
    op.drop_table("office_setting")
    with op.batch_alter_table("submission", schema=None) as batch_op:
        for column in ("item_id", "status", "address_hash", "raised_at", "raised_by_id", "department_id", "source"):
            batch_op.drop_index(batch_op.f(f"ix_submission_{column}"))
    op.drop_table("submission")
