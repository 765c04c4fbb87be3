"""``item.mechanism``: the 长效机制 an item's latest review noted, kept on the item

Revision ID: 0023
Revises: 0022

Read from the item's completed tasks on every ledger row, the ledger's "closed with a lasting measure" filter ran
a subquery per item: ~1 s over 100,000 items. Filled in here from the tasks as that subquery read them (the
latest completed task noting one), and kept as tasks are completed from now on (``engine.items.workflow``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mechanism", sa.String(length=32), nullable=True))
    noted = "data ->> 'mechanism'" if op.get_bind().dialect.name == "postgresql" else "json_extract(data, '$.mechanism')"
    op.execute(
        f"UPDATE item SET mechanism = (SELECT {noted} FROM task WHERE task.item_id = item.id"
        f" AND task.state = 'completed' AND {noted} IS NOT NULL ORDER BY task.id DESC LIMIT 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("mechanism")
