"""Alembic environment: runs against the connection handed over by ``engine.store.migrate``."""

from __future__ import annotations

from alembic import context

import engine.store.models  # noqa: F401  (registers the tables on the metadata)
from engine.store.db import Base, make_engine

config = context.config
connection = config.attributes.get("connection")


def run(conn: object) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    with make_engine(config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        run(conn)
