"""Keyed history: HMAC-SHA-256 chains under the audit key, and a seal on each item's head

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from engine.audit import keys, rechain
from engine.store.config import Settings
from engine.store.models import AdminLogEntry, utcnow

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TRIGGER = "history_event_append_only"


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("history_seal", sa.String(length=64), nullable=True))

    bind = op.get_bind()
    if not bind.scalar(sa.select(sa.func.count()).select_from(sa.table("history_event"))):
        return
    # The key the app uses: handed over by `rectiflow init`, else found as the app finds it.
    key = context.config.attributes.get("audit_key") or keys.load(Settings.from_env())
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        # Lifted for this transaction only (ALTER TABLE is transactional): the upgrade rewrites hashes.
        op.execute(f"ALTER TABLE history_event DISABLE TRIGGER {TRIGGER}")
    done = rechain.rechain(bind, key)
    if postgres:
        op.execute(f"ALTER TABLE history_event ENABLE TRIGGER {TRIGGER}")
    bind.execute(
        sa.insert(AdminLogEntry.__table__).values(
            at=utcnow(),
            actor="migration:0003",
            action="history.rechain",
            target="history_event",
            detail={
                "hash": "hmac-sha256",
                "items": done.items,
                "events": done.events,
                "anchors": done.anchors,
                "kept_broken": done.broken,
                "first_kept_broken": done.kept_broken,
            },
        )
    )


def downgrade() -> None:
    # The keyed hashes stay: going back to SHA-256 would need re-chaining again, not a schema change.
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("history_seal")
