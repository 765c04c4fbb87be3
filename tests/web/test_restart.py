"""State lives in the database: a real server process can be stopped and started again."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.conftest import People

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@contextmanager
def server(database_url: str, instance: Path) -> Iterator[str]:
    env = {**os.environ, "RECTIFLOW_DATABASE_URL": database_url, "RECTIFLOW_INSTANCE_PATH": str(instance)}
    command = [sys.executable, "-m", "web.cli", "serve", "--port", "0"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            match = LISTENING.search(process.stdout.readline())
            assert match, "the server did not start"
            yield match.group(1)
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_an_item_survives_a_server_restart(database_url: str, people: People, tmp_path: Path) -> None:
    with server(database_url, tmp_path) as base:
        item = requests.post(
            f"{base}/api/v1/items", json={"title": "重启测试", "department": "office"}, headers=people.auth("reporter")
        ).json()
        task_id = item["tasks"][0]["id"]
        done = requests.post(
            f"{base}/api/v1/tasks/{task_id}/complete", json={"data": {"measures": "m"}}, headers=people.auth("manager")
        )
        assert done.status_code == 200

    with server(database_url, tmp_path) as base:
        again = requests.get(f"{base}/api/v1/items/{item['id']}", headers=people.auth("manager")).json()
        assert again["status"] == "measures"
        assert again["data"] == {"measures": "m"}
        (task,) = again["tasks"]
        owner = requests.post(
            f"{base}/api/v1/tasks/{task['id']}/complete",
            json={"data": {"owner": "owner"}},
            headers=people.auth("manager"),
        )
        assert owner.status_code == 200
        assert owner.json()["status"] == "owner"
