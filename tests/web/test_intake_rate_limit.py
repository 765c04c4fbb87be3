"""The public form's per-address limit holds across two server processes on one database."""

from __future__ import annotations

import http.client
import json
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.intake import public
from engine.store.db import transaction
from tests.conftest import serve

PROBLEM = {"kind": "problem", "text": "井盖缺失", "source": "群众反映", "department": "works"}
SERVER = {"RECTIFLOW_INTAKE_PUBLIC_LIMIT": "3 per hour"}


def submit(base: str, address: str, forwarded_for: str | None = None) -> http.client.HTTPResponse:
    """A public submission from client ``address`` (any of 127/8 is this machine: the server sees that address),
    through a proxy that says it came from ``forwarded_for``."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30, source_address=(address, 0))
    body = json.dumps(PROBLEM)
    headers = {"Content-Type": "application/json"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    connection.request("POST", "/api/v1/public/submissions", body, headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_the_fourth_submission_from_one_address_is_refused_by_either_server(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        identity.add_department(session, "works", "工务科")
        admin = identity.add_user(session, "admin", None, ["admin"])
        public.set_enabled(session, admin, True)
    with ExitStack() as stack:
        first = stack.enter_context(serve(database_url, tmp_path / "a", SERVER))
        second = stack.enter_context(serve(database_url, tmp_path / "b", SERVER))

        answers = [submit(base, "127.0.0.7").status for base in (first, second, first)]
        assert answers == [201, 201, 201]
        refused = submit(second, "127.0.0.7")
        assert refused.status == 429
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
        assert submit(first, "127.0.0.7").status == 429
        assert submit(first, "127.0.0.9").status == 201
    with transaction(sessions) as session:
        stored = session.execute(text("SELECT address_hash FROM submission")).scalars().all()
    assert len(stored) == 4 and all("127.0.0.7" not in value and len(value) == 64 for value in stored)


def test_behind_a_trusted_proxy_the_limit_counts_the_client_it_names_not_the_proxy(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as session:
        identity.add_department(session, "works", "工务科")
        admin = identity.add_user(session, "admin", None, ["admin"])
        public.set_enabled(session, admin, True)
    proxied = {**SERVER, "RECTIFLOW_TRUSTED_PROXIES": "1"}
    with serve(database_url, tmp_path, proxied) as base:
        # Every request comes from the one proxy; the clients behind it are told apart by X-Forwarded-For.
        assert [submit(base, "127.0.0.5", "203.0.113.7").status for _ in range(3)] == [201, 201, 201]
        assert submit(base, "127.0.0.5", "203.0.113.7").status == 429
        assert submit(base, "127.0.0.5", "203.0.113.8").status == 201
