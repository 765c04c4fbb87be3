"""Indexes a 100,000-item ledger needs: its sorts, its search, and the most alike earlier items

Revision ID: 0021
Revises: 0020

- ``updated_at`` and ``title``: the ledger's other sorts, served by an index as ``id`` and ``deadline`` are;
  ``(status, id)`` instead of ``status`` alone: a tab of one status newest first, and the sort by status.
- PostgreSQL: ``deadline DESC NULLS LAST`` (items without a deadline last, as the ledger sorts): an index
  scanned backwards gives NULLS FIRST, so without it a descending deadline sort sorted every item.
- PostgreSQL with pg_trgm: the trigram index on titles becomes GiST (migration 0020 made it GIN), which can
  hand out the titles nearest to one first (``<->``): an item finds its few most alike earlier items without
  checking every title that shares a trigram with it (a common word shares one with thousands). A GIN
  trigram index on descriptions serves the ledger's search (``ILIKE '%…%'`` on title or description).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

TITLE_TRIGRAMS = "ix_item_title_trgm"
DESCRIPTION_TRIGRAMS = "ix_item_description_trgm"
DEADLINE_DESCENDING = "ix_item_deadline_desc"


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _trigrams() -> bool:
    return _postgresql() and bool(
        op.get_bind().exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").scalar()
    )


def upgrade() -> None:
    op.create_index("ix_item_updated_at", "item", ["updated_at"])
    op.create_index("ix_item_title", "item", ["title"])
    op.create_index("ix_item_status_id", "item", ["status", "id"])
    op.drop_index("ix_item_status", "item")
    if _postgresql():
        op.execute(f"CREATE INDEX {DEADLINE_DESCENDING} ON item (deadline DESC NULLS LAST, id DESC)")
    if _trigrams():
        op.execute(f"DROP INDEX IF EXISTS {TITLE_TRIGRAMS}")
        op.execute(f"CREATE INDEX {TITLE_TRIGRAMS} ON item USING gist (title gist_trgm_ops)")
        op.execute(f"CREATE INDEX {DESCRIPTION_TRIGRAMS} ON item USING gin (description gin_trgm_ops)")


def downgrade() -> None:
    if _trigrams():
        op.execute(f"DROP INDEX IF EXISTS {DESCRIPTION_TRIGRAMS}")
        op.execute(f"DROP INDEX IF EXISTS {TITLE_TRIGRAMS}")
        op.execute(f"CREATE INDEX {TITLE_TRIGRAMS} ON item USING gin (title gin_trgm_ops)")
    if _postgresql():
        op.execute(f"DROP INDEX IF EXISTS {DEADLINE_DESCENDING}")
    op.create_index("ix_item_status", "item", ["status"])
    op.drop_index("ix_item_status_id", "item")
    op.drop_index("ix_item_title", "item")
    op.drop_index("ix_item_updated_at", "item")
