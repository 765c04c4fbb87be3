"""A version is a bundle (diagram + forms, hashed together); versions carry a note, may be retired or the default

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

from engine.bpmn.bundle import digest

revision = '0008'
# The lead re-chains this at the merge if another branch takes 0008 first.
down_revision = '0007'
branch_labels = None
depends_on = None

definition = sa.table(
    'process_definition',
    sa.column('id', sa.Integer()),
    sa.column('bpmn_xml', sa.Text()),
    sa.column('sha256', sa.String()),
    sa.column('model', sa.JSON()),
)
process_form = sa.table(
    'process_form', sa.column('definition_id', sa.Integer()), sa.column('key', sa.String()), sa.column('content', sa.Text())
)


def upgrade() -> None:
    # Added in place, not by batch: SQLite's batch copies the table, which items refer to.
    op.add_column('process_definition', sa.Column('note', sa.String(length=2000), nullable=True))
    op.add_column('process_definition', sa.Column('retired', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        'process_form',
        sa.Column('definition_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ['definition_id'], ['process_definition.id'], name=op.f('fk_process_form_definition_id_process_definition')
        ),
        sa.PrimaryKeyConstraint('definition_id', 'key', name=op.f('pk_process_form')),
    )
    op.create_table(
        'process_default',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('definition_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['definition_id'], ['process_definition.id'], name=op.f('fk_process_default_definition_id_process_definition')
        ),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_process_default')),
    )
    # The versions deployed before kept their forms parsed in the model only: written out again from there
    # (the same content, laid out anew), and each version's hash now covers them as a new deployment's does.
    bind = op.get_bind()
    for row in bind.execute(sa.select(definition.c.id, definition.c.bpmn_xml, definition.c.model)).all():
        schemas = {
            task['form_key']: task['form'] for task in (row.model or {}).get('tasks', {}).values() if task.get('form_key')
        }
        for key, schema in sorted(schemas.items()):
            content = json.dumps(schema, ensure_ascii=False, indent=2) + '\n'
            bind.execute(sa.insert(process_form).values(definition_id=row.id, key=key, content=content))
        sha256 = digest(row.bpmn_xml.encode('utf-8'), schemas)
        bind.execute(sa.update(definition).where(definition.c.id == row.id).values(sha256=sha256))


def downgrade() -> None:
    # The older code's hash: the diagram's bytes alone.
    bind = op.get_bind()
    for row in bind.execute(sa.select(definition.c.id, definition.c.bpmn_xml)).all():
        sha256 = hashlib.sha256(row.bpmn_xml.encode('utf-8')).hexdigest()
        bind.execute(sa.update(definition).where(definition.c.id == row.id).values(sha256=sha256))
    op.drop_table('process_default')
    op.drop_table('process_form')
    op.drop_column('process_definition', 'retired')
    op.drop_column('process_definition', 'note')
