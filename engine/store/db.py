"""Database engine, sessions and the declarative base.

The caller owns the session (one per request or job); engine functions take a session and never
commit. Writers are serialised per item: PostgreSQL locks the item row (``SELECT ... FOR UPDATE``),
SQLite takes the database write lock at the start of every writing transaction (``BEGIN IMMEDIATE``)
so that a read-then-write can never act on a stale state.

On SQLite whether a transaction writes is decided when it begins, never later: a deferred
transaction that reads and then writes fails with "database is locked" when another writer got in
between. Work that only reads uses :func:`reading`: a deferred ``BEGIN`` that holds no writer off
(under WAL it sees one state while writers carry on) and is ``query_only``, so a write slipped into
it fails at once, in every run, instead of now and then under load.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from engine.store.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` as well as ``postgresql+psycopg://`` (psycopg 3 is the driver)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pgbouncer: bool = False, **kwargs: Any) -> Engine:
    """The engine for ``url``; ``pgbouncer``: PostgreSQL is reached through PgBouncer in transaction mode.

    Behind such a pooler each transaction may run on another server connection, so nothing may outlive
    a transaction on one: psycopg prepares no statement (it prepares a query run five times, and the
    next transaction's server connection does not know it). The code holds no other session state: its
    advisory locks are ``pg_advisory_xact_lock``, isolation levels and read-only go with each ``BEGIN``,
    ``yield_per`` cursors are closed with their transaction; it uses no LISTEN, SET or temporary table.
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if pgbouncer:
        kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "prepare_threshold": None}
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def configured_engine(settings: Settings) -> Engine:
    """The engine on the configured database (``RECTIFLOW_DATABASE_URL``, ``RECTIFLOW_DATABASE_POOL``)."""
    return make_engine(settings.database_url, pgbouncer=settings.database_pool == "pgbouncer")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        reads = options.get(_READS, False)
        connection.exec_driver_sql(f"PRAGMA query_only={'ON' if reads else 'OFF'}")
        if reads:
            connection.exec_driver_sql("BEGIN")
        elif options.get(_NOWAIT, False):
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


BUSY_TIMEOUT_MS = 30000
_READS = "rectiflow_reads"
_NOWAIT = "rectiflow_nowait"
SQLITE_BUSY = 5


def reading(engine: Engine) -> Engine:
    """The same database for transactions that only read: on SQLite they never take the write lock.

    PostgreSQL: unchanged (its readers never wait for writers anyway).
    """
    return engine.execution_options(**{_READS: True})


def if_free(factory: sessionmaker[Session], work: Callable[[Session], bool]) -> bool:
    """Run ``work`` in a transaction of its own only if it can write right now; its result, or False if skipped.

    For bookkeeping a reader may skip (when a token was last used), never for what a request is
    about. SQLite: the write lock is tried once, without waiting. PostgreSQL: ``work`` itself must
    not wait (``FOR UPDATE SKIP LOCKED``).
    """
    session = factory(bind=factory.kw["bind"].execution_options(**{_NOWAIT: True}))
    try:
        done = work(session)
        session.commit()
    except OperationalError as exc:
        session.rollback()
        if (getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF) != SQLITE_BUSY:
            raise
        return False
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return done


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one consistent state of the whole database (backups).

    PostgreSQL: REPEATABLE READ, so every statement sees the state of the first. SQLite: one
    deferred transaction; under WAL it reads one state while writers carry on.
    """
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        else:
            connection.execution_options(**{_READS: True})
        with connection.begin():
            yield connection


# Where a session carries the history's key (``engine.audit.keys``): handed over, never read from the database.
AUDIT_KEY = "rectiflow_audit_key"


def make_session_factory(engine: Engine, audit_key: bytes | None = None) -> sessionmaker[Session]:
    """Sessions on ``engine``; those that record or verify history need the ``audit_key``."""
    info = {AUDIT_KEY: audit_key} if audit_key is not None else {}
    return sessionmaker(bind=engine, expire_on_commit=False, info=info)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the given server, dropped afterwards (tests, benchmarks)."""
    server = make_url(normalize_url(server_url))
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
