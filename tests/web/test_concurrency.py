"""Races over real HTTP: a lost update or a double completion must be impossible."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import text

from engine.store.db import make_engine
from tests import workbooks
from tests.conftest import People

RACERS = 6


def test_six_racers_on_one_task_one_wins_five_get_409(live_server: str, people: People) -> None:
    created = requests.post(
        f"{live_server}/api/v1/items",
        json={"title": "并发测试", "department": "office"},
        headers=people.auth("reporter"),
        timeout=30,
    )
    assert created.status_code == 201
    item_id = created.json()["id"]
    task_id = created.json()["tasks"][0]["id"]
    start = threading.Barrier(RACERS)

    def race(n: int) -> int:
        with requests.Session() as http:
            start.wait(timeout=30)
            response = http.post(
                f"{live_server}/api/v1/tasks/{task_id}/complete",
                json={"data": {"measures": f"措施 {n}"}},
                headers=people.auth("manager"),
                timeout=60,
            )
            return response.status_code

    with ThreadPoolExecutor(RACERS) as pool:
        codes = sorted(pool.map(race, range(RACERS)))

    assert codes == [200] + [409] * (RACERS - 1)
    item = requests.get(f"{live_server}/api/v1/items/{item_id}", headers=people.auth("manager"), timeout=30).json()
    assert item["status"] == "measures"
    assert [t["name"] for t in item["tasks"]] == ["assign_owner"]
    events = requests.get(
        f"{live_server}/api/v1/items/{item_id}/history", headers=people.auth("manager"), timeout=30
    ).json()["events"]
    completions = [e for e in events if e["task"] == "define_measures"]
    assert len(completions) == 1
    assert item["data"]["measures"] == completions[0]["data"]["measures"]


def test_concurrent_steps_on_different_items_all_succeed(live_server: str, people: People) -> None:
    """Requests that do not conflict are never refused for having run at the same time."""
    tasks = []
    for n in range(8):
        body = {"title": f"并行 {n}", "department": "office"}
        response = requests.post(f"{live_server}/api/v1/items", json=body, headers=people.auth("reporter"), timeout=30)
        tasks.append(response.json()["tasks"][0]["id"])
    start = threading.Barrier(len(tasks))

    def complete(task_id: int) -> int:
        with requests.Session() as http:
            start.wait(timeout=30)
            return http.post(
                f"{live_server}/api/v1/tasks/{task_id}/complete",
                json={"data": {"measures": "m"}},
                headers=people.auth("manager"),
                timeout=60,
            ).status_code

    with ThreadPoolExecutor(len(tasks)) as pool:
        assert list(pool.map(complete, tasks)) == [200] * len(tasks)


@contextmanager
def writer_holding(database_url: str) -> Iterator[None]:
    """Another connection in the middle of a write: on SQLite it holds the write lock; on PostgreSQL
    it holds the row lock of every token, as a writing request made with each of them would."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection, connection.begin():
            connection.execute(text("UPDATE api_token SET name = name"))
            yield
    finally:
        engine.dispose()


def test_reads_are_answered_while_another_connection_writes(
    live_server: str, people: People, database_url: str
) -> None:
    created = requests.post(
        f"{live_server}/api/v1/items",
        json={"title": "读写并行", "department": "office"},
        headers=people.auth("reporter"),
        timeout=30,
    )
    assert created.status_code == 201
    with writer_holding(database_url):
        # Well within the 30 s a writer would wait for the lock: a read must not wait at all.
        for path in ("/api/v1/tasks", "/api/v1/items", f"/api/v1/items/{created.json()['id']}"):
            response = requests.get(f"{live_server}{path}", headers=people.auth("manager"), timeout=10)
            assert response.status_code == 200, (path, response.text)
    tasks = requests.get(f"{live_server}/api/v1/tasks", headers=people.auth("manager"), timeout=30).json()
    assert [task["name"] for task in tasks["tasks"]] == ["define_measures"]


# SQLite only: the lock this guards against is SQLite's single write lock. On PostgreSQL a parse holds no lock a
# writer waits for, and the count would measure only how the parse's CPU crowds the server on a busy machine.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_writers_are_served_while_an_import_is_being_parsed(live_server: str, people: People) -> None:
    # At the row cap: parsing takes seconds, and needs no database while it runs.
    content = workbooks.ledger([workbooks.item(n) for n in range(1, 10_000)])
    finished = threading.Event()

    def dry_run() -> requests.Response:
        try:
            return requests.post(
                f"{live_server}/api/v1/items/import?dry_run=true",
                files={"file": ("台账.xlsx", content)},
                headers=people.auth("reporter"),
                timeout=120,
            )
        finally:
            finished.set()

    served_meanwhile = 0
    with ThreadPoolExecutor(1) as pool:
        preview = pool.submit(dry_run)
        while not finished.is_set():
            body = {"title": f"导入时登记 {served_meanwhile}", "department": "office"}
            response = requests.post(
                f"{live_server}/api/v1/items", json=body, headers=people.auth("reporter"), timeout=60
            )
            assert response.status_code == 201
            served_meanwhile += not finished.is_set()
        assert preview.result().status_code == 200
        assert len(preview.result().json()["rows"]) == 9_999
    # A parse holding the write lock let one writer through at most (a race won before it began).
    assert served_meanwhile >= 2
