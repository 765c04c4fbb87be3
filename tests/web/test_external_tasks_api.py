"""External service tasks through the API: a worker fetches, locks, completes or fails them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import deploy
from engine.bpmn.bundle import from_folder
from engine.identity import identity
from engine.store.db import transaction
from engine.store.models import ExternalTask, utcnow
from tests.conftest import PROCESSES, People, deployment, serve
from tests.web.test_permissions import assert_problem

API = "/api/v1"
EXAMPLES = PROCESSES / "examples"
EXAMPLE = from_folder(EXAMPLES / "external_task.bpmn", EXAMPLES / "forms")
ADDRESS = {"address": "人民路 1 号"}


@pytest.fixture
def robot(people: People, sessions: sessionmaker[Session]) -> dict[str, str]:
    """The bearer header of a user with the ``worker`` role (a program, not a person)."""
    with transaction(sessions) as session:
        identity.add_user(session, "robot", None, ["worker"])
        return {"Authorization": f"Bearer {identity.create_token(session, 'robot')}"}


@pytest.fixture
def example(people: People, sessions: sessionmaker[Session]) -> None:
    """The example diagram deployed (the tests over a real server deploy it before it starts)."""
    with transaction(sessions) as session:
        deploy.deploy(session, EXAMPLE, actor=None)


def waiting_item(client: FlaskClient, people: People) -> dict[str, Any]:
    """An item on the example, its address given: waiting at the external task ``locate``."""
    created = client.post(
        f"{API}/items",
        json={"title": "外部任务", "department": "office", "process": "external_task"},
        headers=people.auth("reporter"),
    )
    assert created.status_code == 201, created.json
    (task,) = created.json["tasks"]
    done = client.post(f"{API}/tasks/{task['id']}/complete", json={"data": ADDRESS}, headers=people.auth("manager"))
    assert done.status_code == 200, done.json
    assert done.json["tasks"] == []
    return done.json


def fetch(client: FlaskClient, robot: dict[str, str], worker: str = "w1", lock_ms: int = 60_000) -> list[Any]:
    body = {"worker_id": worker, "topics": ["geocode"], "max_tasks": 10, "lock_ms": lock_ms}
    response = client.post(f"{API}/external-tasks/fetch-and-lock", json=body, headers=robot)
    assert response.status_code == 200, response.json
    tasks: list[Any] = response.json["tasks"]
    return tasks


def post(client: FlaskClient, robot: dict[str, str], task_id: int, what: str, **body: Any) -> Any:
    return client.post(f"{API}/external-tasks/{task_id}/{what}", json=body, headers=robot)


def history(client: FlaskClient, people: People, item_id: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client.get(f"{API}/items/{item_id}/history", headers=people.auth("admin")).json[
        "events"
    ]
    return events


def test_the_example_is_deployed_fetched_completed_and_closes_the_item(
    client: FlaskClient, people: People, robot: dict[str, str]
) -> None:
    deployed = client.post(
        f"{API}/processes", data=deployment(EXAMPLE.diagram, EXAMPLE.forms), headers=people.auth("designer")
    )
    assert deployed.status_code == 201, deployed.json
    item = waiting_item(client, people)
    assert item["status"] == "active"

    (task,) = fetch(client, robot)
    assert (task["item_id"], task["element"], task["topic"], task["worker_id"]) == (
        item["id"],
        "locate",
        "geocode",
        "w1",
    )
    assert task["variables"]["address"] == ADDRESS["address"]
    assert task["variables"]["department"] == "office"
    assert fetch(client, robot, worker="w2") == []  # locked for w1

    done = post(client, robot, task["id"], "complete", worker_id="w1", variables={"district": "东城区"})
    assert done.status_code == 200, done.json
    assert done.json["state"] == "completed"
    closed = client.get(f"{API}/items/{item['id']}", headers=people.auth("reporter")).json
    assert (closed["status"], closed["data"]["district"]) == ("closed", "东城区")
    assert closed["closed_at"] is not None
    last = history(client, people, item["id"])[-1]
    assert (last["action"], last["actor"], last["task"]) == ("external_completed", "robot", "locate")
    assert last["data"]["worker"] == "w1"
    assert post(client, robot, task["id"], "complete", worker_id="w1").status_code == 409


@pytest.mark.usefixtures("example")
def test_only_workers_fetch_and_complete(client: FlaskClient, people: People, robot: dict[str, str]) -> None:
    waiting_item(client, people)
    body = {"worker_id": "w1", "topics": ["geocode"], "lock_ms": 1000}
    refused = client.post(f"{API}/external-tasks/fetch-and-lock", json=body, headers=people.auth("admin"))
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"
    (task,) = fetch(client, robot)
    assert (
        client.post(f"{API}/external-tasks/{task['id']}/complete", json={}, headers=people.auth("admin")).status_code
        == 403
    )
    assert client.post(f"{API}/external-tasks/fetch-and-lock", json=body).status_code == 401


def time_passes(sessions: sessionmaker[Session]) -> None:
    """Time passes beyond every lock and retry timeout (the server reads the clock: the test moves them instead)."""
    with transaction(sessions) as session:
        session.execute(update(ExternalTask).values(lock_expires_at=utcnow(), available_at=utcnow()))


@pytest.mark.usefixtures("example")
def test_an_expired_lock_is_lost_the_task_is_offered_again_and_the_late_answer_is_409(
    client: FlaskClient, people: People, robot: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    item = waiting_item(client, people)
    (first,) = fetch(client, robot, worker="slow")
    assert post(client, robot, first["id"], "extend-lock", worker_id="other", lock_ms=1000).status_code == 409
    extended = post(client, robot, first["id"], "extend-lock", worker_id="slow", lock_ms=120_000)
    assert extended.status_code == 200
    assert extended.json["lock_expires_at"] > first["lock_expires_at"]

    time_passes(sessions)
    late = post(client, robot, first["id"], "complete", worker_id="slow", variables={"district": "旧"})
    assert late.status_code == 409
    assert "lock" in late.json["detail"]
    (again,) = fetch(client, robot, worker="fast")
    assert again["id"] == first["id"]
    for what, body in [("complete", {}), ("failure", {"message": "x", "retries": 0}), ("extend-lock", {"lock_ms": 9})]:
        assert post(client, robot, again["id"], what, worker_id="slow", **body).status_code == 409
    assert post(client, robot, again["id"], "complete", worker_id="fast").status_code == 200
    assert client.get(f"{API}/items/{item['id']}", headers=people.auth("reporter")).json["status"] == "closed"


@pytest.mark.usefixtures("example")
def test_a_failure_with_retries_left_is_offered_again_after_its_timeout(
    client: FlaskClient, people: People, robot: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    waiting_item(client, people)
    (task,) = fetch(client, robot)
    later = post(
        client, robot, task["id"], "failure", worker_id="w1", message="超时", retries=2, retry_timeout_ms=3_600_000
    )
    assert later.status_code == 200
    assert (later.json["retries"], later.json["worker_id"], later.json["state"]) == (2, None, "open")
    assert fetch(client, robot) == []  # not before its retry timeout
    time_passes(sessions)
    (again,) = fetch(client, robot, worker="w2")
    assert (again["id"], again["retries"], again["error_message"]) == (task["id"], 2, "超时")

    with_no_wait = post(client, robot, task["id"], "failure", worker_id="w1", message="x", retries=1)
    assert with_no_wait.status_code == 409  # the failure report gave the lock up


@pytest.mark.usefixtures("example")
def test_retries_exhausted_open_an_incident_and_the_admin_retry_offers_the_task_again(
    client: FlaskClient, people: People, robot: dict[str, str]
) -> None:
    item = waiting_item(client, people)
    (task,) = fetch(client, robot)
    assert post(client, robot, task["id"], "failure", worker_id="w1", message="once", retries=1).status_code == 200
    (task,) = fetch(client, robot)  # no timeout: offered again at once
    gave_up = post(client, robot, task["id"], "failure", worker_id="w1", message="地址服务不可用", retries=0)
    assert gave_up.status_code == 200
    assert gave_up.json["state"] == "incident"
    assert fetch(client, robot) == []

    stuck = client.get(f"{API}/items/{item['id']}", headers=people.auth("reporter")).json
    assert stuck["incident"]["element"] == "locate"
    assert "地址服务不可用" in stuck["incident"]["message"]
    assert history(client, people, item["id"])[-1]["action"] == "incident"

    url = f"{API}/items/{item['id']}/incidents/{stuck['incident']['id']}/retry"
    retried = client.post(url, json={"data": {"hint": "备用服务"}}, headers=people.auth("admin"))
    assert retried.status_code == 200
    assert retried.json["resolved_by"] == "admin"
    (offered,) = fetch(client, robot, worker="w2")
    assert (offered["id"], offered["retries"], offered["variables"]["hint"]) == (task["id"], None, "备用服务")
    assert post(client, robot, offered["id"], "complete", worker_id="w2").status_code == 200
    done = client.get(f"{API}/items/{item['id']}", headers=people.auth("reporter")).json
    assert (done["status"], done["incident"], done["data"]["hint"]) == ("closed", None, "备用服务")


@pytest.mark.usefixtures("example")
def test_variables_the_product_keeps_are_refused_naming_them(
    client: FlaskClient, people: People, robot: dict[str, str]
) -> None:
    waiting_item(client, people)
    (task,) = fetch(client, robot)
    refused = post(client, robot, task["id"], "complete", worker_id="w1", variables={"owner": "admin", "ok": 1})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json["errors"]] == ["variables.owner"]
    assert post(client, robot, 99999, "complete", worker_id="w1").status_code == 404


@pytest.mark.usefixtures("example")
def test_a_worker_cannot_change_the_items_severity_or_category(
    client: FlaskClient, people: People, robot: dict[str, str]
) -> None:
    item = waiting_item(client, people)
    (task,) = fetch(client, robot)
    for variables in ({"severity": "严重"}, {"category": "消防安全"}):
        refused = assert_problem(post(client, robot, task["id"], "complete", worker_id="w1", variables=variables), 422)
        assert [e["field"] for e in refused["errors"]] == [f"variables.{name}" for name in variables]
    kept = client.get(f"{API}/items/{item['id']}", headers=people.auth("reporter")).json
    assert (kept["severity"], kept["data"]["severity"], kept["data"]["category"]) == ("一般", "一般", "")
    assert post(client, robot, task["id"], "complete", worker_id="w1", variables={"lat": 1}).status_code == 200


@pytest.mark.usefixtures("example")
def test_a_withdrawn_item_offers_its_external_task_no_more(
    client: FlaskClient, people: People, robot: dict[str, str]
) -> None:
    item = waiting_item(client, people)
    withdrawn = client.post(
        f"{API}/items/{item['id']}/withdraw", json={"reason": "登记错误"}, headers=people.auth("admin")
    )
    assert withdrawn.status_code == 200, withdrawn.json
    assert fetch(client, robot) == []


@pytest.mark.usefixtures("example")
def test_a_locked_external_task_survives_a_server_restart(
    database_url: str, people: People, robot: dict[str, str], tmp_path: Path
) -> None:
    with serve(database_url, tmp_path) as base:
        created = requests.post(
            f"{base}{API}/items",
            json={"title": "重启", "department": "office", "process": "external_task"},
            headers=people.auth("reporter"),
            timeout=30,
        ).json()
        (task,) = created["tasks"]
        requests.post(
            f"{base}{API}/tasks/{task['id']}/complete",
            json={"data": ADDRESS},
            headers=people.auth("manager"),
            timeout=30,
        ).raise_for_status()
        body = {"worker_id": "w1", "topics": ["geocode"], "lock_ms": 600_000}
        (locked,) = requests.post(
            f"{base}{API}/external-tasks/fetch-and-lock", json=body, headers=robot, timeout=30
        ).json()["tasks"]

    with serve(database_url, tmp_path) as base:
        body["worker_id"] = "w2"
        assert requests.post(
            f"{base}{API}/external-tasks/fetch-and-lock", json=body, headers=robot, timeout=30
        ).json() == {"tasks": []}
        done = requests.post(
            f"{base}{API}/external-tasks/{locked['id']}/complete", json={"worker_id": "w1"}, headers=robot, timeout=30
        )
        assert done.status_code == 200
        item = requests.get(f"{base}{API}/items/{created['id']}", headers=people.auth("reporter"), timeout=30).json()
        assert item["status"] == "closed"


WORKERS = 4
ITEMS = 12


@pytest.mark.usefixtures("example")
def test_four_workers_polling_one_topic_get_each_task_exactly_once(
    live_server: str, people: People, robot: dict[str, str]
) -> None:
    with requests.Session() as http:
        for n in range(ITEMS):
            created = http.post(
                f"{live_server}{API}/items",
                json={"title": f"并发 {n}", "department": "office", "process": "external_task"},
                headers=people.auth("reporter"),
                timeout=30,
            ).json()
            http.post(
                f"{live_server}{API}/tasks/{created['tasks'][0]['id']}/complete",
                json={"data": ADDRESS},
                headers=people.auth("manager"),
                timeout=30,
            ).raise_for_status()
    start = threading.Barrier(WORKERS)

    def poll(worker: int) -> list[int]:
        got: list[int] = []
        body = {"worker_id": f"w{worker}", "topics": ["geocode"], "max_tasks": 2, "lock_ms": 600_000}
        with requests.Session() as http:
            start.wait(timeout=30)
            while True:
                response = http.post(
                    f"{live_server}{API}/external-tasks/fetch-and-lock", json=body, headers=robot, timeout=60
                )
                assert response.status_code == 200
                tasks = response.json()["tasks"]
                if not tasks:
                    return got
                assert {task["worker_id"] for task in tasks} == {f"w{worker}"}
                got.extend(task["id"] for task in tasks)

    with ThreadPoolExecutor(WORKERS) as pool:
        fetched = [task for tasks in pool.map(poll, range(WORKERS)) for task in tasks]

    assert len(fetched) == ITEMS
    assert len(set(fetched)) == ITEMS
