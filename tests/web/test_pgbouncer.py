"""Through a real PgBouncer in transaction mode (``RECTIFLOW_DATABASE_POOL=pgbouncer``), started by the test."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from engine.deadlines.worker import Worker
from engine.store.config import REPO_ROOT, Settings
from engine.store.db import make_engine
from tests.conftest import People, free_port, installed
from tests.web.test_api_lifecycle import advance, create
from web import create_app, db

on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def shipped_config(database: str, **settings: str) -> str:
    """deploy/pgbouncer.ini with its database line and the ``settings`` named replaced."""
    lines = []
    for line in (REPO_ROOT / "deploy" / "pgbouncer.ini").read_text().splitlines():
        key = line.partition("=")[0].strip()
        lines.append(database if key == "rectiflow" else f"{key} = {settings[key]}" if key in settings else line)
    return "\n".join(lines) + "\n"


@pytest.fixture
def pgbouncer(database_url: str, tmp_path: Path) -> Iterator[str]:
    """The test database's URL through PgBouncer with deploy/pgbouncer.ini; locally a missing pgbouncer skips."""
    binary = installed("pgbouncer")
    direct = make_url(database_url)
    port = free_port()
    (tmp_path / "users.txt").write_text(f'"{direct.username}" ""\n')
    config = tmp_path / "pgbouncer.ini"
    config.write_text(
        shipped_config(
            f"{direct.database} = host={direct.host} port={direct.port} dbname={direct.database}",
            listen_port=str(port),
            unix_socket_dir="",
            auth_type="trust",  # as the test server is
            auth_file=str(tmp_path / "users.txt"),
            logfile="",
            pidfile="",
        )
    )
    # PgBouncer refuses to run as root: as root it reads its files, then becomes the database server's account.
    command = [binary, *(["-u", "postgres"] if os.getuid() == 0 else []), str(config)]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stderr is not None
            for line in process.stderr:  # it logs this once it accepts connections
                if "process up" in line:
                    break
            else:
                pytest.fail(f"pgbouncer did not start (exit {process.wait()})")
            threading.Thread(target=process.stderr.read, daemon=True).start()  # never let its pipe fill up
            yield direct.set(port=port).render_as_string(hide_password=False)
        finally:
            process.terminate()
            process.wait(timeout=30)


def _interleaved(engine: Engine) -> None:
    """One connection runs a query enough times to have psycopg prepare it, then runs it again in a transaction
    PgBouncer gives another server connection (the first is busy with the second client's transaction)."""
    query = text("SELECT count(*) FROM item WHERE id > :n")
    with engine.connect() as first, engine.connect() as second:
        for n in range(8):
            first.execute(query, {"n": n})
            first.commit()
        second.execute(text("SELECT 1"))  # holds the server connection the first just used
        first.execute(query, {"n": 9})
        first.commit()
        second.commit()


@on_postgresql
def test_behind_pgbouncer_no_statement_is_prepared(pgbouncer: str, sessions: sessionmaker[Session]) -> None:
    engine = make_engine(pgbouncer, pgbouncer=True)
    try:
        with engine.connect() as connection:
            assert connection.connection.driver_connection.prepare_threshold is None
        _interleaved(engine)
    finally:
        engine.dispose()

    # What the setting prevents: a statement prepared on one server connection, run on another.
    unprepared = make_engine(pgbouncer)
    try:
        with pytest.raises(ProgrammingError, match=r"prepared statement .* does not exist"):
            _interleaved(unprepared)
    finally:
        unprepared.dispose()


@on_postgresql
def test_an_item_lives_its_lifecycle_through_pgbouncer(pgbouncer: str, people: People, tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": pgbouncer, "DATABASE_POOL": "pgbouncer", "INSTANCE_PATH": tmp_path})
    try:
        client = app.test_client()
        item = create(client, people, deadline="2026-12-31")
        item = advance(client, people, "manager", item, {"measures": "增设自助取号机"})
        item = advance(client, people, "manager", item, {"owner": "owner"})
        item = advance(client, people, "owner", item, {"result": "已增设两台取号机"})
        item = advance(client, people, "approver", item, {"decision": "approve"})
        assert item["status"] == "closed"
        history = client.get(f"/api/v1/items/{item['id']}/history", headers=people.auth("auditor"))
        assert [e["seq"] for e in history.json["events"]] == list(range(1, len(history.json["events"]) + 1))
        # The worker claims jobs with FOR UPDATE SKIP LOCKED through the pooler as well.
        worker = Worker(app.extensions["rectiflow_sessions"], name="through-pgbouncer")
        worker.run_until(threading.Event(), 0.1, until_idle=True)
    finally:
        db.dispose(app)


def test_the_pool_setting_is_direct_or_pgbouncer(tmp_path: Path) -> None:
    assert Settings.from_env({"RECTIFLOW_INSTANCE_PATH": str(tmp_path)}).database_pool == "direct"
    assert Settings.from_env({"RECTIFLOW_DATABASE_POOL": "PgBouncer"}).database_pool == "pgbouncer"
    with pytest.raises(ValueError, match="RECTIFLOW_DATABASE_POOL must be one of direct, pgbouncer, not 'pgpool'"):
        Settings.from_env({"RECTIFLOW_DATABASE_POOL": "pgpool"})
