"""A trigram index on item titles where pg_trgm is installed: similar earlier items (曾整改过) found by index

Revision ID: 0020
Revises: 0019

Only on PostgreSQL with the extension (migration 0018 creates it where the role may): elsewhere titles are
compared over a bounded set of recently closed items (``engine.measures.recurrence``), with no index.
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

INDEX = "ix_item_title_trgm"


def _trigrams() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bool(bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").scalar())


def upgrade() -> None:
    if _trigrams():
        op.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON item USING gin (title gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
