"""The database goes away while a request commits (after its view ran): a clean 503 the client may send again,
as an API problem or as a page, and nothing of the request saved. The next request works (the pool replaces the
dead connection). PostgreSQL only: the request's own server connection is ended, as a restart or failover would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Response, g
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from engine.identity import identity
from engine.store.db import transaction
from engine.store.models import Item
from tests.conftest import People
from web import create_app, db

PASSWORD = "a password long enough"
TITLE = "提交时数据库断开"

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


class Cut:
    """Ends the request's database connection just before ``web.db`` commits, while ``armed``."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions, self.armed = sessions, False

    def __call__(self, response: Response) -> Response:
        request_session = g.get("db_session")
        if self.armed and request_session is not None:
            pid = request_session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with transaction(self.sessions) as other:
                assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return response


@pytest.fixture
def served(
    database_url: str, people: People, sessions: sessionmaker[Session], tmp_path: Path
) -> Iterator[tuple[Flask, Cut]]:
    with transaction(sessions) as session:
        identity.set_password(session, identity.user_by_username(session, "reporter"), PASSWORD)
    # As served: an error is an answer, not an exception raised into the test client.
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": tmp_path, "COOKIE_SECURE": False})
    cut = Cut(sessions)
    app.after_request(cut)  # after_request functions run last registered first: this one before the commit
    yield app, cut
    db.dispose(app)


def items_titled(sessions: sessionmaker[Session], title: str) -> int:
    with transaction(sessions) as session:
        return session.scalar(select(func.count()).select_from(Item).where(Item.title == title)) or 0


def test_an_api_request_whose_commit_loses_the_database_is_a_503_problem_and_saves_nothing(
    served: tuple[Flask, Cut], people: People, sessions: sessionmaker[Session]
) -> None:
    app, cut = served
    client = app.test_client()
    body = {"title": TITLE, "department": "office"}
    cut.armed = True
    failed = client.post("/api/v1/items", json=body, headers=people.auth("reporter"))
    assert (failed.status_code, failed.content_type) == (503, "application/problem+json")
    assert failed.headers["Retry-After"] == "1" and "数据库" in failed.json["detail"]
    assert items_titled(sessions, TITLE) == 0

    cut.armed = False
    again = client.post("/api/v1/items", json=body, headers=people.auth("reporter"))
    assert again.status_code == 201, again.json
    assert items_titled(sessions, TITLE) == 1


def login(client: FlaskClient) -> None:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert found
    form = {"username": "reporter", "password": PASSWORD, "csrf_token": found.group(1)}
    assert client.post("/login", data=form).status_code == 302


def test_a_page_whose_commit_loses_the_database_is_a_503_page(served: tuple[Flask, Cut]) -> None:
    app, cut = served
    client = app.test_client()
    login(client)
    cut.armed = True
    failed = client.get("/inbox")
    assert (failed.status_code, failed.mimetype) == (503, "text/html")
    assert failed.headers["Retry-After"] == "1" and "数据库暂不可用" in failed.get_data(as_text=True)
    cut.armed = False
    assert client.get("/inbox").status_code == 200
