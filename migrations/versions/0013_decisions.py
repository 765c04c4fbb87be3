"""DMN decisions: versioned decision tables, deployed alone or in a process bundle

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.models import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("hit_policy", sa.String(length=16), nullable=False),
        sa.Column("dmn_xml", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("deployed_at", UtcDateTime(), nullable=False),
        sa.Column("deployed_by", sa.String(length=64), nullable=True),
        sa.Column("process_definition_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["process_definition_id"],
            ["process_definition.id"],
            name=op.f("fk_decision_process_definition_id_process_definition"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_decision_key_version")),
    )


def downgrade() -> None:
    op.drop_table("decision")
