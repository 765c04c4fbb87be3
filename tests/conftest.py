"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``RECTIFLOW_TEST_POSTGRES_URL`` (a server URL; a fresh database is created
for the run and dropped after). Locally an unreachable server skips the PostgreSQL half; with
``CI=true`` it fails instead.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.bpmn.bundle import from_folder
from engine.identity import identity
from engine.store import migrate
from engine.store.config import REPO_ROOT, EvidenceSettings
from engine.store.db import Base, make_engine, make_session_factory, scratch_database, transaction
from web import create_app, db

PROCESSES = REPO_ROOT / "processes"
# The forms the default lifecycle names, as ``rectiflow init`` deploys them with its diagram.
RECTIFY_FORMS = dict(from_folder(PROCESSES / "rectification_item.bpmn", PROCESSES / "forms").forms)
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS = os.environ.get("RECTIFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# The history's key, as an operator configures it: the app, the CLI and servers started by tests read it.
AUDIT_KEY = "test-audit-key-0123456789abcdef0123456789abcdef"
os.environ.setdefault("RECTIFLOW_AUDIT_KEY", AUDIT_KEY)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new PostgreSQL database, dropped on leaving; locally an unreachable server skips the test."""
    server = os.environ.get("RECTIFLOW_TEST_POSTGRES_URL", DEFAULT_PG)
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(server, "rectiflow_test"))
        except OperationalError as exc:
            if os.environ.get("CI") == "true":
                raise
            pytest.skip(f"PostgreSQL not reachable at {server}: {exc}")
        yield url


def unavailable(what: str) -> None:
    """Skip the test for want of ``what``; with ``CI=true`` fail it instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true: nothing may be skipped for want of it)")
    pytest.skip(what)


@pytest.fixture
def redis_url() -> str:
    """The Redis several processes count logins in (``RECTIFLOW_TEST_REDIS_URL``); locally, when down, a skip."""
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except redis.ConnectionError as exc:
        unavailable(f"Redis not reachable at {REDIS}: {exc}")
    return REDIS


def installed(program: str) -> str:
    """The path of ``program`` (Debian puts servers in /usr/sbin); locally, when missing, a skip."""
    found = shutil.which(program, path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if found is None:
        unavailable(f"{program} is not installed (make browser installs it)")
    assert found is not None
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database of each kind, shared by the tests of one run."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'rectiflow.sqlite3'}"
        else:
            url = stack.enter_context(postgres_database())
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    """A session factory on a database emptied for this test, with the bundled diagrams deployed."""
    with db_engine.begin() as conn:
        tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
        if db_engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
    factory = make_session_factory(db_engine, os.environ["RECTIFLOW_AUDIT_KEY"].encode())
    with transaction(factory) as session:
        deploy.deploy_bundled(session, PROCESSES)
    return factory


def deployment(content: bytes, forms: Mapping[str, bytes] = RECTIFY_FORMS, **fields: Any) -> dict[str, Any]:
    """A deployment's multipart fields for the test client: the diagram as ``file``, each form a ``form`` part."""
    parts = [(io.BytesIO(data), key) for key, data in forms.items()]
    return {"file": (io.BytesIO(content), "diagram.bpmn"), "form": parts, **fields}


@dataclass(frozen=True)
class People:
    """The cast of the default lifecycle, each with a bearer token."""

    tokens: dict[str, str]

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


CAST = {
    "reporter": ("office", ["reporter"]),
    "manager": ("office", ["manager"]),
    "owner": ("office", ["member"]),
    "outsider": ("works", ["member"]),
    "works_manager": ("works", ["manager"]),
    "approver": (None, ["approver"]),
    "approver2": (None, ["approver"]),
    "designer": (None, ["designer"]),
    "auditor": (None, ["auditor"]),
    "admin": (None, ["admin"]),
    "owner_approver": ("office", ["member", "approver"]),
}


@pytest.fixture
def people(sessions: sessionmaker[Session]) -> People:
    with transaction(sessions) as session:
        identity.add_department(session, "office", "办公室")
        identity.add_department(session, "works", "工务科")
        tokens = {}
        for username, (department, roles) in CAST.items():
            identity.add_user(session, username, department, roles)
            tokens[username] = identity.create_token(session, username)
    return People(tokens)


@pytest.fixture
def app(database_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path, "TESTING": True})
    yield app
    db.dispose(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def small(database_url: str, people: People, tmp_path: Path) -> Iterator[Flask]:
    """The app with small evidence limits: 1,000 bytes a file, 1,500 an item, 2 files an item."""
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path, "TESTING": True})
    limits = EvidenceSettings(max_file_bytes=1000, max_item_bytes=1500, max_files=2)
    app.config["RECTIFLOW_SETTINGS"] = dataclasses.replace(app.config["RECTIFLOW_SETTINGS"], evidence=limits)
    yield app
    db.dispose(app)


LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass(frozen=True)
class Server:
    """A running ``rectiflow serve``: its base URL and its (first) process."""

    base: str
    process: subprocess.Popen[str]


@contextmanager
def server_process(
    database_url: str,
    instance: Path,
    environ: dict[str, str] | None = None,
    options: tuple[str, ...] = (),
    port: int = 0,
) -> Iterator[Server]:
    """``rectiflow serve --port PORT OPTIONS`` in its own process (port 0: a free one); SIGTERM on leaving.

    ``environ``: more ``RECTIFLOW_*`` variables for this server.
    """
    env = {
        **os.environ,
        "RECTIFLOW_DATABASE_URL": database_url,
        "RECTIFLOW_INSTANCE_PATH": str(instance),
        **(environ or {}),
    }
    command = [sys.executable, "-m", "web.cli", "serve", "--port", str(port), *options]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT) as process:
        try:
            assert process.stdout is not None
            # The server prints this line once its socket listens: no polling needed.
            match = LISTENING.search(process.stdout.readline())
            assert match, "the server did not start"
            yield Server(match.group(1), process)
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def serve(database_url: str, instance: Path, environ: dict[str, str] | None = None) -> Iterator[str]:
    """``rectiflow serve`` (waitress, one process) on a free port; yields its base URL."""
    with server_process(database_url, instance, environ) as server:
        yield server.base


@pytest.fixture
def live_server(database_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[str]:
    """A real server process on loopback over the test database."""
    with serve(database_url, tmp_path) as base:
        yield base
