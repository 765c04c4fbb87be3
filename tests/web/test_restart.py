"""State lives in the database: a real server process can be stopped and started again."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.conftest import People, serve


def test_an_item_survives_a_server_restart(database_url: str, people: People, tmp_path: Path) -> None:
    with serve(database_url, tmp_path) as base:
        item = requests.post(
            f"{base}/api/v1/items",
            json={"title": "重启测试", "department": "office"},
            headers=people.auth("reporter"),
            timeout=30,
        ).json()
        task_id = item["tasks"][0]["id"]
        done = requests.post(
            f"{base}/api/v1/tasks/{task_id}/complete",
            json={"data": {"measures": "m"}},
            headers=people.auth("manager"),
            timeout=30,
        )
        assert done.status_code == 200

    with serve(database_url, tmp_path) as base:
        again = requests.get(f"{base}/api/v1/items/{item['id']}", headers=people.auth("manager"), timeout=30).json()
        assert again["status"] == "measures"
        assert again["data"]["measures"] == "m"
        (task,) = again["tasks"]
        owner = requests.post(
            f"{base}/api/v1/tasks/{task['id']}/complete",
            json={"data": {"owner": "owner"}},
            headers=people.auth("manager"),
            timeout=30,
        )
        assert owner.status_code == 200
        assert owner.json()["status"] == "owner"
