"""Notifications keep what happened (kind and data), not text: each reader sees them in their language

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.notify import notification_text
from engine.store.models import Notification

revision = '0007'
# The lead re-chains this at the merge if another branch takes 0007 first.
down_revision = '0006'
branch_labels = None
depends_on = None

# The kinds 0007 told apart, as they were called before.
OLD_KINDS = {'assigned': 'task', 'extension_requested': 'extension', 'extension_decided': 'extension'}
TITLE_LENGTH = 500

notification = sa.table(
    'notification',
    sa.column('id', sa.Integer()),
    sa.column('kind', sa.String()),
    sa.column('title', sa.String()),
    sa.column('message', sa.Text()),
    sa.column('data', sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data', sa.JSON(), nullable=True))
    # What was written before is all there is to say: it stays readable as it was stored.
    bind = op.get_bind()
    rows = bind.execute(sa.select(notification.c.id, notification.c.title, notification.c.message)).all()
    for row in rows:
        stored = {notification_text.STORED: {'title': row.title, 'message': row.message}}
        bind.execute(sa.update(notification).where(notification.c.id == row.id).values(data=stored))
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.alter_column('data', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('message')
        batch_op.drop_column('title')


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title', sa.String(length=TITLE_LENGTH), nullable=True))
        batch_op.add_column(sa.Column('message', sa.Text(), nullable=True))
    # The text the older code expects: as stored, or composed in both languages (as 0006 wrote it too).
    bind = op.get_bind()
    for row in bind.execute(sa.select(notification.c.id, notification.c.kind, notification.c.data)).all():
        said = notification_text.describe(Notification(kind=row.kind, data=row.data), None)
        values = {'kind': OLD_KINDS.get(row.kind, row.kind), 'title': said.title[:TITLE_LENGTH], 'message': said.message}
        bind.execute(sa.update(notification).where(notification.c.id == row.id).values(values))
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.alter_column('title', existing_type=sa.String(length=TITLE_LENGTH), nullable=False)
        batch_op.alter_column('message', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('data')
