"""Institutional measures (制度性措施): the measure, the items it came from; trigram search of titles on PostgreSQL

Revision ID: 0018
Revises: 0017

pg_trgm is created only where this database role may create it (a superuser, or a trusted extension on
PostgreSQL 13+): elsewhere, and on SQLite, similar titles are found by ``engine.measures.recurrence``'s
token overlap instead, and nothing fails.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.store.models import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

def _try_trigram() -> None:
    """CREATE EXTENSION pg_trgm in a savepoint: refused (no right, not installed) is fine.

    No trigram index: titles are compared with a bounded set of recently closed items, not searched.
    """
    bind = op.get_bind()
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:
        savepoint.rollback()
    else:
        savepoint.commit()


def upgrade() -> None:
    op.create_table(
        "measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("adopted_on", sa.Date(), nullable=True),
        sa.Column("repealed_on", sa.Date(), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("proposed_by_id", sa.Integer(), nullable=True),
        sa.Column("proposed_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_measure_department_id_department")
        ),
        sa.ForeignKeyConstraint(["document_id"], ["attachment.id"], name=op.f("fk_measure_document_id_attachment")),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"], ["user_account.id"], name=op.f("fk_measure_proposed_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure")),
    )
    with op.batch_alter_table("measure", schema=None) as batch_op:
        for column in ("kind", "department_id", "status", "adopted_on"):
            batch_op.create_index(batch_op.f(f"ix_measure_{column}"), [column], unique=False)
    op.create_table(
        "measure_item",
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("linked_by_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["measure_id"], ["measure.id"], name=op.f("fk_measure_item_measure_id_measure")),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_measure_item_item_id_item")),
        sa.ForeignKeyConstraint(
            ["linked_by_id"], ["user_account.id"], name=op.f("fk_measure_item_linked_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("measure_id", "item_id", name=op.f("pk_measure_item")),
    )
    with op.batch_alter_table("measure_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_measure_item_item_id"), ["item_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        _try_trigram()


def downgrade() -> None:
    # pg_trgm stays: other objects may use it, and dropping it needs the rights creating it did.
    with op.batch_alter_table("measure_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measure_item_item_id"))
    op.drop_table("measure_item")
    with op.batch_alter_table("measure", schema=None) as batch_op:
        for column in ("adopted_on", "status", "department_id", "kind"):
            batch_op.drop_index(batch_op.f(f"ix_measure_{column}"))
    op.drop_table("measure")
