"""Races over real HTTP: a lost update or a double completion must be impossible."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

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
