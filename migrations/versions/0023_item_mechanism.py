"""``item.mechanism``: the 长效机制 an item's latest review noted, kept on the item; open items by deadline

Revision ID: 0023
Revises: 0022

Read from the item's completed tasks on every ledger row, the ledger's "closed with a lasting measure" filter ran
a subquery per item: ~1 s over 100,000 items. Filled in here from the tasks as that subquery read them (the
latest completed task noting one), and kept as tasks are completed from now on (``engine.items.workflow``).

``ix_item_open_deadline``: the deadlines of open items only (a partial index), which finds the overdue ones
(``engine.items.due``) without reading the closed: the inbox sorts them first, the ledger filters them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

OPEN = sa.text("closed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mechanism", sa.String(length=32), nullable=True))
    op.create_index("ix_item_open_deadline", "item", ["deadline"], postgresql_where=OPEN, sqlite_where=OPEN)
    noted = "data ->> 'mechanism'" if op.get_bind().dialect.name == "postgresql" else "json_extract(data, '$.mechanism')"
    op.execute(
        f"UPDATE item SET mechanism = (SELECT {noted} FROM task WHERE task.item_id = item.id"
        f" AND task.state = 'completed' AND {noted} IS NOT NULL ORDER BY task.id DESC LIMIT 1)"
    )


def downgrade() -> None:
    op.drop_index("ix_item_open_deadline", table_name="item")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("mechanism")
