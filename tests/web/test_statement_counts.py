"""How many SQL statements each hot request sends: a guard against N+1 queries and creeping round trips.

The budgets are today's counts: a change that adds a statement to a completion (or makes a list grow
a statement per row) fails here, and either earns its statement by raising the budget in the same
change, or finds another way. Lists are counted with one row and with many: their count must not grow.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from tests.conftest import People
from tests.web.test_api_lifecycle import advance, create


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    """The statements the app sends to the database meanwhile (its reading engine shares the listener)."""
    sent: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    engine = app.extensions["rectiflow_engine"]
    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def _sent(app: Flask, call: Any) -> tuple[Any, int]:
    with counted(app) as sent:
        response = call()
    assert response.status_code < 300, response.json
    return response, len(sent)


# Budgets per database: SQLite adds its write-lock statements (PRAGMA query_only, BEGIN IMMEDIATE).
COMPLETE = {"sqlite": 32, "postgresql": 30}
STEPS = [
    ("manager", {"measures": "增设自助取号机"}),
    ("manager", {"owner": "owner"}),
    ("owner", {"result": "已整改"}),
    ("approver", {"decision": "reject", "comment": "缺少照片"}),
    ("owner", {"result": "已补充照片"}),
    ("approver", {"decision": "approve"}),
]


def test_a_completion_sends_a_bounded_number_of_statements(app: Flask, client: FlaskClient, people: People) -> None:
    dialect = app.extensions["rectiflow_engine"].dialect.name
    item = create(client, people)
    counts = []
    for user, data in STEPS:
        task = item["tasks"][0]["id"]
        response, count = _sent(
            app,
            lambda task=task, user=user, data=data: client.post(
                f"/api/v1/tasks/{task}/complete", json={"data": data}, headers=people.auth(user)
            ),
        )
        item = response.json
        counts.append(count)
    assert item["status"] == "closed"
    assert max(counts) <= COMPLETE[dialect], counts


def test_reading_lists_costs_the_same_for_one_row_as_for_many(app: Flask, client: FlaskClient, people: People) -> None:
    def list_counts() -> tuple[int, int]:
        _, ledger = _sent(app, lambda: client.get("/api/v1/items?per_page=50", headers=people.auth("manager")))
        _, inbox = _sent(app, lambda: client.get("/api/v1/tasks", headers=people.auth("manager")))
        return ledger, inbox

    first = create(client, people)
    list_counts()  # the first reads of a token note its use: not what is measured
    one = list_counts()
    for n in range(12):
        item = create(client, people, title=f"第{n}个问题")
        if n % 2:
            advance(client, people, "manager", item, {"measures": "整改"})
    many = list_counts()
    assert many == one, f"statements grew with the rows: {one} -> {many}"
    _, item_page = _sent(app, lambda: client.get(f"/api/v1/items/{first['id']}", headers=people.auth("manager")))
    assert item_page <= 15
